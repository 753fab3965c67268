"""Receive Wix webhooks and invalidate the cached credits of the members they concern.

    WebhookReceiver(public_key=..., on_member=...)   verify, dedupe, call on_member
    └── handle(body) -> WebhookResult                status to answer Wix with, and why

``_receiver`` holds the verification and the receiver; ``_events`` knows which event types
matter and where Wix puts the member id in each.
"""

from gate.adapters.webhooks._events import BOOKING_EVENTS, DEFAULT_EVENT_TYPES, ORDER_EVENTS
from gate.adapters.webhooks._receiver import PUBLIC_KEY_ENV, Outcome, WebhookReceiver, WebhookResult

__all__ = [
    "BOOKING_EVENTS",
    "DEFAULT_EVENT_TYPES",
    "ORDER_EVENTS",
    "PUBLIC_KEY_ENV",
    "Outcome",
    "WebhookReceiver",
    "WebhookResult",
]
