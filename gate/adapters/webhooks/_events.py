"""Which Wix events the gate acts on, and how to read member ids out of their nested JSON.

Every value here was signed by Wix; still, each shape is checked, and anything off becomes a
``Rejected`` (HTTP 400) rather than an exception escaping the receiver.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["BOOKING_EVENTS", "DEFAULT_EVENT_TYPES", "ORDER_EVENTS", "Rejected", "as_object",
           "find_member_ids", "peek_id"]

#: Booking changes that can spend or refund credits (participants: a booking's cost changes).
BOOKING_EVENTS = frozenset(f"wix.bookings.v2.booking_{slug}" for slug in (
    "created", "updated", "confirmed", "canceled", "declined", "rescheduled", "markedAsPending",
    "number_of_participants_updated",
))
#: Order changes that grant, pause, end or move the validity of a plan's credits. Left out:
#: order_created/updated (draft churn; purchased/started follow) and order_auto_renew_canceled
#: (the current cycle's credits are untouched).
ORDER_EVENTS = frozenset(f"wix.pricing_plans.v2.order_{slug}" for slug in (
    "purchased", "started", "cycle_started", "canceled", "ended", "paused", "resumed",
    "marked_as_paid", "end_date_postponed", "start_date_changed",
))
DEFAULT_EVENT_TYPES = BOOKING_EVENTS | ORDER_EVENTS


class Rejected(Exception):
    """A webhook that must not be acted on; ``reason`` never quotes the token.

    ``event_type`` is filled in only once the signature has been verified, so nothing an
    unauthenticated sender wrote reaches the result or the log.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.event_type: str | None = None


def as_object(value: object, where: str) -> dict[str, Any]:
    """Wix sends nested values as objects or as JSON strings: accept both, nothing else."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise Rejected(400, f"{where} is not valid JSON") from None
    if not isinstance(value, dict):
        raise Rejected(400, f"{where} is not a JSON object")
    return value


def _optional_object(value: object, where: str) -> dict[str, Any] | None:
    return None if value is None else as_object(value, where)


def peek_id(value: object) -> str | None:
    """Best-effort event id for the log of an ignored event, whose shape we do not insist on."""
    try:
        event_id = as_object(value, "data.data").get("id")
    except Rejected:
        return None
    return event_id if isinstance(event_id, str) and event_id else None


def find_member_ids(event: dict[str, Any], identity_value: object) -> tuple[str, ...]:
    """Distinct member ids from the entity (booking or order), then from the identity."""
    entities: list[dict[str, Any] | None] = []
    action = _optional_object(event.get("actionEvent"), "actionEvent")
    if action is not None:
        body = _optional_object(action.get("body"), "actionEvent.body")
        if body is not None:
            entities += [_optional_object(body.get("booking"), "body.booking"),
                         _optional_object(body.get("order"), "body.order")]
    for kind, field in (("createdEvent", "entity"), ("updatedEvent", "currentEntity"),
                        ("deletedEvent", "deletedEntity")):
        wrapper = _optional_object(event.get(kind), kind)
        if wrapper is not None:
            entities.append(_optional_object(wrapper.get(field), f"{kind}.{field}"))
    found: list[str | None] = []
    for entity in entities:
        if entity is not None:
            # Bookings name their member in createdBy, orders in buyer. contactDetails.contactId
            # is a contact id, not a member id, so it cannot key the balance cache.
            found += [_member_of(entity.get("createdBy")), _member_of(entity.get("buyer"))]
    identity = _optional_object(identity_value, "identity")
    if identity is not None and identity.get("identityType") == "MEMBER":
        found.append(_member_of(identity))
    return tuple(dict.fromkeys(member for member in found if member))


def _member_of(value: object) -> str | None:
    member_id = value.get("memberId") if isinstance(value, dict) else None
    return member_id if isinstance(member_id, str) and member_id.strip() else None


