"""Turn Wix booking and pricing-plan webhooks into balance-cache invalidations.

Wix publishes no balance events, so the gate forgets a member's cached credits when one of
their bookings or pricing-plan orders changes. The POST body is a JWT signed RS256 with the
app's key; its ``data`` claim nests JSON three deep (envelope, domain event, identity), and any
nested value may arrive as an object or as a JSON string, so both are accepted everywhere.

Order of checks, each failing closed: size (413, before any parsing), signature and times (401),
shape (400), event type (200 "ignored"), event id (400 if missing), dedupe (200 "duplicate"),
member ids (200 "ignored" if none), then ``on_member`` once per distinct member id.

A failing ``on_member`` still answers 200, outcome ``"failed"``, logged at ERROR with the
traceback: Wix's retry policy is undocumented, and the balance cache TTL already bounds how
long a missed invalidation can matter, so a 5xx would buy an unknown number of redeliveries
and nothing else. The event id is forgotten, so a redelivery Wix makes anyway is processed.

Dedupe is this process's memory, and, with ``dedupe`` (a fleet sharing a Redis:
``gate.state.FleetDedupe``), the fleet's too: a redelivery that reaches another instance is a
duplicate there as well.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import jwt
from cachetools import TTLCache
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gate.adapters.webhooks._events import (
    DEFAULT_EVENT_TYPES,
    Rejected,
    as_object,
    find_member_ids,
    peek_id,
)
from gate.errors import ConfigError

__all__ = ["PUBLIC_KEY_ENV", "EventDedupe", "Outcome", "WebhookReceiver", "WebhookResult"]

logger = logging.getLogger("booking_gate.webhooks")

PUBLIC_KEY_ENV = "BOOKING_GATE_WIX_WEBHOOK_PUBLIC_KEY"

#: What happened to a webhook; "failed" means verified but on_member raised.
Outcome = Literal["invalidated", "duplicate", "ignored", "rejected", "failed"]


class EventDedupe(Protocol):
    """Event ids seen beyond this process. ``claim`` is True for the first claim of an id
    (and when it cannot tell: this process's own dedupe has already passed it)."""

    async def claim(self, event_id: str) -> bool: ...

    async def forget(self, event_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What handle() decided; ``status`` is the HTTP status to answer Wix with."""

    status: int
    outcome: Outcome
    event_id: str | None = None
    event_type: str | None = None
    member_ids: tuple[str, ...] = ()
    reason: str | None = None


class WebhookReceiver:
    """Verify one Wix webhook body and invalidate the members it concerns.

    Framework-free: an HTTP adapter passes the raw body and answers with ``result.status``.
    Meant for one event loop; the dedupe check and claim run with no await in between.
    """

    def __init__(
        self,
        *,
        public_key: str,
        on_member: Callable[[str], Awaitable[None]],
        max_body: int = 64 * 1024,
        leeway: float = 30.0,
        dedupe_ttl: float = 24 * 3600.0,
        dedupe_size: int = 100_000,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
        event_types: Iterable[str] = DEFAULT_EVENT_TYPES,
        dedupe: EventDedupe | None = None,
    ) -> None:
        if max_body <= 0 or dedupe_size <= 0 or not dedupe_ttl > 0 or not 0 <= leeway < math.inf:
            raise ConfigError("webhook limits must be positive (leeway: zero or more seconds)")
        self._key = _load_public_key(public_key)
        self._on_member = on_member
        self.max_body = max_body
        self.leeway = leeway
        self._clock = clock
        self._event_types = frozenset(event_types)
        # Wall clock for exp/iat (they are Unix times); ``timer`` (monotonic) for dedupe TTLs.
        self._seen: TTLCache[str, bool] = TTLCache(dedupe_size, dedupe_ttl, timer=timer)
        self._fleet = dedupe

    def __repr__(self) -> str:
        return (f"WebhookReceiver(max_body={self.max_body}, leeway={self.leeway}, "
                f"dedupe_size={self._seen.maxsize}, dedupe_ttl={self._seen.ttl})")

    async def handle(self, body: bytes) -> WebhookResult:
        """Check and act on one POST body; never raises except CancelledError."""
        error: BaseException | None = None
        try:
            result, error = await self._handle(body)
        except Rejected as exc:
            result = WebhookResult(exc.status, "rejected", event_type=exc.event_type,
                                   reason=exc.reason)
        _log(result, error)
        return result

    async def _handle(self, body: bytes) -> tuple[WebhookResult, BaseException | None]:
        """The result, plus the first on_member exception (for the log line, not callers)."""
        if len(body) > self.max_body:
            raise Rejected(413, f"body larger than {self.max_body} bytes")
        envelope = as_object(self._verify(body.strip()).get("data"), "data")
        event_type = envelope.get("eventType")
        if not isinstance(event_type, str) or not event_type:
            raise Rejected(400, "envelope has no eventType")
        if event_type not in self._event_types:
            return WebhookResult(200, "ignored", peek_id(envelope.get("data")), event_type,
                                 reason="event type not acted on"), None
        try:
            event = as_object(envelope.get("data"), "data.data")
            event_id = event.get("id")
            if not isinstance(event_id, str) or not event_id:
                raise Rejected(400, "event has no id")
            members = find_member_ids(event, envelope.get("identity"))
        except Rejected as exc:
            exc.event_type = event_type
            raise
        if event_id in self._seen:
            return WebhookResult(200, "duplicate", event_id, event_type), None
        self._seen[event_id] = True  # claimed before the first await: concurrent replays dedupe
        if not await self._claim_in_fleet(event_id):
            return WebhookResult(200, "duplicate", event_id, event_type), None
        if not members:
            return WebhookResult(200, "ignored", event_id, event_type,
                                 reason="no member id in event"), None
        failures: list[BaseException] = []
        for member_id in members:
            try:
                await self._on_member(member_id)
            except Exception as exc:  # reported below, see the module docstring for why 200
                failures.append(exc)
        if not failures:
            return WebhookResult(200, "invalidated", event_id, event_type, members), None
        self._seen.pop(event_id, None)  # let a redelivery try again
        if self._fleet is not None:
            await self._fleet.forget(event_id)
        kinds = ",".join(sorted({type(exc).__name__ for exc in failures}))
        reason = f"on_member failed for {len(failures)} of {len(members)}: {kinds}"
        return WebhookResult(200, "failed", event_id, event_type, members, reason), failures[0]

    async def _claim_in_fleet(self, event_id: str) -> bool:
        """Has no other instance acted on this event? A dedupe that fails says yes: acting
        twice costs a read of the member; not acting could keep a stale balance."""
        if self._fleet is None:
            return True
        try:
            return await self._fleet.claim(event_id)
        except Exception:
            logger.exception("the fleet's webhook dedupe failed; acting on event %r", event_id)
            return True

    def _verify(self, token: bytes) -> dict[str, Any]:
        """Return the claims of a token signed RS256 by Wix's key, or raise Rejected."""
        try:
            # Wix checks audience/issuer only on request (SDK AppStrategy.decodeJWT); so do we,
            # so a future aud/iss claim cannot 401 every webhook. exp/iat/nbf are checked by
            # _check_times against the injected clock, as PyJWT reads the wall clock itself.
            claims = jwt.decode(token, self._key, algorithms=["RS256"], options={
                "require": ["exp", "iat"], "verify_signature": True, "verify_exp": False,
                "verify_iat": False, "verify_nbf": False, "verify_aud": False,
                "verify_iss": False,
            })
        except jwt.InvalidSignatureError:  # a DecodeError subclass: test it first
            raise Rejected(401, "bad signature") from None
        except jwt.InvalidAlgorithmError:
            raise Rejected(401, "algorithm not allowed (RS256 only)") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Rejected(401, f"token has no {exc.claim} claim") from None
        except (jwt.DecodeError, RecursionError):  # malformed; PyJWT<2.10 lets RecursionError by
            raise Rejected(400, "body is not a well-formed JWT") from None
        except jwt.InvalidTokenError:
            raise Rejected(401, "token refused") from None
        self._check_times(claims)
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        now, leeway = self._clock(), self.leeway
        times = {name: claims[name] for name in ("exp", "iat", "nbf") if name in claims}
        for name, value in times.items():
            # bool is an int; NaN/Infinity parse as floats. Huge ints compare exactly, no cast.
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or (isinstance(value, float) and not math.isfinite(value)):
                raise Rejected(401, f"{name} claim is not a number")
        if times["exp"] <= now - leeway:
            raise Rejected(401, "token expired")
        if times["iat"] > now + leeway or times.get("nbf", -math.inf) > now + leeway:
            raise Rejected(401, "token not yet valid")


def _load_public_key(pem: str) -> RSAPublicKey:
    """Parse the PEM once; errors name the setting and never quote its value."""
    text = pem.strip()
    if "\\n" in text and "\n" not in text:  # a PEM squeezed onto one line of an env file
        text = text.replace("\\n", "\n")
    if "PRIVATE KEY" in text:
        raise ConfigError(f"{PUBLIC_KEY_ENV} holds a private key; give the app's public key "
                          "(Dev Center > your app > Webhooks > Get Public Key)")
    try:
        key = load_pem_public_key(text.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(f"{PUBLIC_KEY_ENV} is not a PEM public key ('-----BEGIN PUBLIC "
                          "KEY-----' ...); copy it from Dev Center > your app > Webhooks > "
                          "Get Public Key") from None
    if not isinstance(key, RSAPublicKey) or key.key_size < 2048:
        raise ConfigError(f"{PUBLIC_KEY_ENV} must be an RSA key of 2048 bits or more "
                          "(Wix signs webhooks RS256)")
    return key


def _log(result: WebhookResult, error: BaseException | None) -> None:
    level = {"rejected": logging.WARNING, "failed": logging.ERROR}.get(result.outcome,
                                                                     logging.INFO)
    # %r for values from the payload: a newline in them must not forge a second log line.
    logger.log(
        level, "webhook outcome=%s status=%d type=%r id=%r members=%r%s",
        result.outcome, result.status, result.event_type, result.event_id,
        list(result.member_ids), f" reason={result.reason!r}" if result.reason else "",
        exc_info=(type(error), error, error.__traceback__) if error else None,
        extra={"booking_gate": {"webhook_outcome": result.outcome, "status": result.status,
                                "event_type": result.event_type, "event_id": result.event_id,
                                "members": list(result.member_ids), "reason": result.reason}},
    )
