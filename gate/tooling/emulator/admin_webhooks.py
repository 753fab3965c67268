"""Admin endpoints for Wix webhooks: the public key, signed envelopes, and sending them.

``POST /_emulator/webhooks/emit`` builds an event in Wix's nested shapes
(gate.tooling.emulator.webhooks), signs it and POSTs the JWT to a receiver on this machine, so
a test can drive "member M's balance changed and Wix told the gate" in one call
(``setAvailable``). Targets must be loopback URLs: the emulator never sends anything off the
machine.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import httpx
from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gate.strict import StrictModel
from gate.tooling.emulator.errors import parse_model, read_json, validation_error
from gate.tooling.emulator.seed import SignedAmount
from gate.tooling.emulator.shapes import contact_id
from gate.tooling.emulator.state import EmulatorState, iso_now
from gate.tooling.emulator.webhooks import BOOKING_EVENTS, ORDER_EVENTS, envelope, known_event

__all__ = ["WEBHOOK_ENDPOINTS"]

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_BUILD_FIELDS = ("eventType", "member", "eventId", "entityId", "entity", "service")
_RESPONSE_TEXT_LIMIT = 2000


class _SetAvailable(StrictModel):
    pool: str
    available: SignedAmount


class _EventBody(StrictModel):
    eventType: str | None = None
    member: str | None = None  # a seed member's name or id
    eventId: str | None = Field(default=None, min_length=1)
    entityId: str | None = Field(default=None, min_length=1)
    entity: dict[str, Any] = Field(default_factory=dict)
    service: str | None = None
    envelope: dict[str, Any] | None = None  # STRING A as is, instead of the fields above
    expiresIn: int = Field(default=300, ge=-(10**9), le=10**9)
    signWith: Literal["emulator", "other-key"] = "emulator"
    tamper: bool = False


class _EmitBody(_EventBody):
    target: str
    body: str | None = None  # the raw HTTP body, instead of a signed event
    contentType: str = "text/plain"
    timeout: float = Field(default=10.0, gt=0, le=120)
    setAvailable: _SetAvailable | None = None


def _event_types() -> list[str]:
    bookings = [f"wix.bookings.v2.booking_{slug}" for slug in BOOKING_EVENTS]
    return bookings + [f"wix.pricing_plans.v2.order_{slug}" for slug in ORDER_EVENTS]


def _event_id_of(data: dict[str, Any]) -> str | None:
    try:
        domain = json.loads(data.get("data", ""))
    except (TypeError, ValueError):
        return None
    event_id = domain.get("id") if isinstance(domain, dict) else None
    return event_id if isinstance(event_id, str) else None


def _signed(body: _EventBody, state: EmulatorState) -> tuple[str, str | None]:
    """The JWT for ``body``'s event, and the event id inside it (None if it has none)."""
    if body.envelope is not None:
        mixed = [name for name in _BUILD_FIELDS if name in body.model_fields_set]
        if mixed:
            raise validation_error(mixed[0], "cannot be combined with envelope")
        data, event_id = body.envelope, _event_id_of(body.envelope)
    else:
        if body.eventType is None or not known_event(body.eventType):
            raise validation_error("eventType", f"must be one of {_event_types()}")
        if body.member is None:
            raise validation_error("member", "is required", "REQUIRED_FIELD")
        member = state.seed.find_member(body.member)
        if member is None:
            raise validation_error("member", f"unknown member {body.member!r}")
        event_id = body.eventId or str(uuid.uuid4())
        data = envelope(
            body.eventType,
            member,
            contact_id=contact_id(member),
            site_id=state.site_id,
            event_id=event_id,
            event_time=iso_now(),
            entity_id=body.entityId,
            entity=body.entity,
            service=body.service,
        )
    other_key = body.signWith == "other-key"
    keys = state.webhook_keys
    token = keys.sign(data, expires_in=body.expiresIn, other_key=other_key, tamper=body.tamper)
    return token, event_id


def _loopback(target: str) -> httpx.URL:
    try:
        url = httpx.URL(target)
    except (httpx.InvalidURL, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or url.host not in _LOOPBACK:
        raise validation_error("target", "must be an http URL on 127.0.0.1, localhost or [::1]")
    return url


async def _public_key(request: Request, state: EmulatorState) -> Response:
    """The PEM (SubjectPublicKeyInfo); ``?format=json`` adds the key id and algorithm."""
    keys = state.webhook_keys
    if request.query_params.get("format") == "json":
        return JSONResponse({"publicKey": keys.public_pem, "kid": keys.kid, "alg": "RS256"})
    return Response(keys.public_pem, media_type="application/x-pem-file")


async def _sign(request: Request, state: EmulatorState) -> Response:
    body = parse_model(_EventBody, await read_json(request))
    token, event_id = _signed(body, state)
    return JSONResponse({"jwt": token, "eventId": event_id})


async def _emit(request: Request, state: EmulatorState) -> Response:
    body = parse_model(_EmitBody, await read_json(request))
    url = _loopback(body.target)
    if body.body is not None:
        if body.envelope is not None or body.eventType is not None or body.member is not None:
            raise validation_error("body", "replaces the event: give body or an event, not both")
        token, event_id, content = None, None, body.body
    else:
        token, event_id = _signed(body, state)
        content = token
    if body.setAvailable is not None:
        change = body.setAvailable
        state.patch_balance(change.pool, change.available, None, None)
    result: dict[str, Any] = {"status": None, "eventId": event_id, "jwt": token}
    headers = {"content-type": body.contentType}
    async with httpx.AsyncClient(trust_env=False, timeout=body.timeout) as http:
        try:
            response = await http.post(url, content=content.encode(), headers=headers)
        except httpx.HTTPError as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"
            return JSONResponse(result, status_code=502)
    result["status"] = response.status_code
    result["response"] = response.text[:_RESPONSE_TEXT_LIMIT]
    return JSONResponse(result)


_Handler = Callable[[Request, EmulatorState], Awaitable[Response]]
WEBHOOK_ENDPOINTS: list[tuple[str, str, _Handler]] = [
    ("GET", "/_emulator/webhooks/public-key", _public_key),
    ("POST", "/_emulator/webhooks/sign", _sign),
    ("POST", "/_emulator/webhooks/emit", _emit),
]
