"""Wix webhooks as the emulator sends them: the nested envelope, and its RS256 signature.

The HTTP body of a Wix webhook is a JWT (reference §4) whose claims are
``{"data": STRING A, "iat", "exp"}``; STRING A is the JSON envelope ``{"eventType",
"instanceId", "data": STRING B, "identity": STRING C, "accountInfo"}``, STRING B the domain
event and STRING C the identity. ``envelope`` builds STRING A for the booking and pricing-plan
order events the gate listens to; ``WebhookKeys.sign`` wraps any envelope in a JWT.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gate.tooling.emulator.seed import ID_NAMESPACE, SeedMember

__all__ = [
    "BOOKING_EVENTS",
    "INSTANCE_ID",
    "ORDER_EVENTS",
    "WebhookKeys",
    "envelope",
    "known_event",
]

INSTANCE_ID = "emulator-instance"  # the app instance id token-info reports too
_BOOKING = "wix.bookings.v2.booking_"
_ORDER = "wix.pricing_plans.v2.order_"
# Event type suffix -> the status the entity has after it (reference §4).
BOOKING_EVENTS: dict[str, str] = {
    "created": "CREATED",
    "updated": "CONFIRMED",
    "confirmed": "CONFIRMED",
    "canceled": "CANCELED",
    "declined": "DECLINED",
    "rescheduled": "CONFIRMED",
    "markedAsPending": "PENDING",
    "number_of_participants_updated": "CONFIRMED",
}
ORDER_EVENTS: dict[str, str] = {
    "created": "PENDING",
    "updated": "ACTIVE",
    "purchased": "ACTIVE",
    "started": "ACTIVE",
    "cycle_started": "ACTIVE",
    "canceled": "CANCELED",
    "ended": "ENDED",
    "paused": "PAUSED",
    "resumed": "ACTIVE",
    "marked_as_paid": "ACTIVE",
    "auto_renew_canceled": "ACTIVE",
    "end_date_postponed": "ACTIVE",
    "start_date_changed": "PENDING",
}
_PREVIOUS = {"confirmed": "PENDING", "canceled": "CONFIRMED", "declined": "PENDING",
             "rescheduled": "CONFIRMED", "markedAsPending": "CREATED"}


def known_event(event_type: str) -> bool:
    if event_type.startswith(_BOOKING):
        return event_type.removeprefix(_BOOKING) in BOOKING_EVENTS
    return event_type.startswith(_ORDER) and event_type.removeprefix(_ORDER) in ORDER_EVENTS


def envelope(
    event_type: str,
    member: SeedMember,
    *,
    contact_id: str,
    site_id: str,
    event_id: str,
    event_time: str,
    entity_id: str | None = None,
    entity: dict[str, Any] | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    """STRING A of a booking or order event (``known_event(event_type)``), made by ``member``.

    ``entity`` is merged over the booking or order the emulator makes up, to change or add
    fields; ``service`` fills the booking's ``bookedEntity.slot.serviceId``.
    """
    booking = event_type.startswith(_BOOKING)
    slug = event_type.removeprefix(_BOOKING if booking else _ORDER)
    entity_id = entity_id or str(uuid.uuid4())
    status = (BOOKING_EVENTS if booking else ORDER_EVENTS)[slug]
    if booking:
        made: dict[str, Any] = {
            "id": entity_id,
            "status": status,
            "selectedPaymentOption": "MEMBERSHIP",
            "paymentStatus": "PAID",
            "contactDetails": {"contactId": contact_id, "email": member.email},
            "createdBy": {"memberId": member.id},
            "totalParticipants": 1,
            "revision": "1",
            "createdDate": event_time,
            "updatedDate": event_time,
        }
        if service is not None:
            made["bookedEntity"] = {"slot": {"serviceId": service}}
    else:
        made = {
            "id": entity_id,
            "planId": str(uuid.uuid5(ID_NAMESPACE, f"plan:{member.id}")),
            "buyer": {"memberId": member.id, "contactId": contact_id},
            "status": status,
            "type": "ONLINE",
            "createdDate": event_time,
            "updatedDate": event_time,
        }
    made.update(entity or {})
    domain: dict[str, Any] = {
        "id": event_id,
        "entityFqdn": "wix.bookings.v2.booking" if booking else "wix.pricing_plans.v2.order",
        "slug": slug,
        "entityId": entity_id,
        "eventTime": event_time,
        "triggeredByAnonymizeRequest": False,
    }
    if slug == "created":
        domain["createdEvent"] = {"entity": made}
    elif slug == "updated":
        domain["updatedEvent"] = {"currentEntity": made, "modifiedFields": {}}
    elif booking:
        body: dict[str, Any] = {"booking": made, "initiatedBy": {"memberId": member.id}}
        if slug in _PREVIOUS:
            body["previousStatus"] = _PREVIOUS[slug]
        domain["actionEvent"] = {"body": body}
    else:
        domain["actionEvent"] = {"body": {"order": made}}
    return {
        "eventType": event_type,
        "instanceId": INSTANCE_ID,
        "data": json.dumps(domain),
        "identity": json.dumps({"identityType": "MEMBER", "memberId": member.id}),
        "accountInfo": {
            "accountId": str(uuid.uuid5(ID_NAMESPACE, f"account:{site_id}")),
            "siteId": site_id,
        },
    }


class WebhookKeys:
    """The RSA key pair that signs the emulator's webhooks, and a stranger's key for forgeries."""

    def __init__(self, private_key: rsa.RSAPrivateKey | None = None) -> None:
        self.private_key = private_key or _new_key()
        public = self.private_key.public_key()
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = hashlib.sha256(der).hexdigest()[:16]
        self.public_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        self._stranger: rsa.RSAPrivateKey | None = None

    def stranger(self) -> rsa.RSAPrivateKey:
        """Another key, made on first use: what a forger would sign with."""
        if self._stranger is None:
            self._stranger = _new_key()
        return self._stranger

    def sign(
        self, data: dict[str, Any], *, expires_in: int, other_key: bool = False,
        tamper: bool = False,
    ) -> str:
        """The JWT Wix would POST for envelope ``data``: RS256, ``{"data", "iat", "exp"}``.

        ``expires_in`` below zero gives a token that has already expired. A forgery
        (``other_key``) still names this key's ``kid``. ``tamper`` changes the payload after
        signing (``iat`` moves one second), so the token still decodes but its signature fails.
        """
        now = int(time.time())
        claims = {"data": json.dumps(data), "iat": now, "exp": now + expires_in}
        key = self.stranger() if other_key else self.private_key
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})
        if tamper:
            header, _, signature = token.split(".")
            claims["iat"] = now + 1
            raw = json.dumps(claims, separators=(",", ":")).encode()
            payload = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
            token = f"{header}.{payload}.{signature}"
        return token


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
