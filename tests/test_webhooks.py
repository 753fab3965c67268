"""The Wix webhook receiver: RS256 verification, nested envelopes, dedupe, and invalidation.

Keys are generated here and tokens are built with PyJWT in Wix's nested shapes (wix-api.md §4);
time is a FakeClock, so expiry and dedupe TTLs are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gate.adapters.webhooks import DEFAULT_EVENT_TYPES, WebhookReceiver, WebhookResult
from gate.errors import ConfigError

NOW = 1_762_100_000.0


class FakeClock:
    """A clock the test moves by hand (wall time for exp/iat, monotonic for dedupe TTLs)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


WIX_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


WIX_PEM = public_pem(WIX_KEY)
BOOKING_CONFIRMED = "wix.bookings.v2.booking_confirmed"
ORDER_PURCHASED = "wix.pricing_plans.v2.order_purchased"


# -- building Wix-shaped tokens ----------------------------------------------------------------

def booking(member: str | None = "m-booker") -> dict[str, Any]:
    created_by = {"memberId": member} if member else {"appId": "app-1"}
    return {"id": "bk-1", "status": "CONFIRMED", "selectedPaymentOption": "MEMBERSHIP",
            "contactDetails": {"contactId": "c-1"}, "createdBy": created_by}


def order(member: str = "m-buyer") -> dict[str, Any]:
    return {"id": "ord-1", "status": "ACTIVE", "buyer": {"memberId": member, "contactId": "c-2"}}


def action(body: dict[str, Any], event_id: str = "ev-1", fqdn: str = "wix.bookings.v2.booking",
           slug: str = "confirmed") -> dict[str, Any]:
    """STRING B for an action event (confirmed, canceled, purchased ...)."""
    return {"id": event_id, "entityFqdn": fqdn, "slug": slug, "entityId": "ent-1",
            "eventTime": "2025-11-02T17:31:09.412Z", "triggeredByAnonymizeRequest": False,
            "actionEvent": {"body": body}}


def envelope(event_type: str = BOOKING_CONFIRMED, event: Any = None,
             identity: Any = None, *, stringify: bool = True) -> Any:
    """STRING A; with ``stringify`` every nested value is a JSON string, as Wix documents."""
    event = action({"booking": booking()}) if event is None else event
    identity = {"identityType": "MEMBER", "memberId": "m-booker"} if identity is None else identity
    dump = json.dumps if stringify else (lambda value: value)
    outer: dict[str, Any] = {"eventType": event_type, "instanceId": "inst-1",
                             "data": dump(event), "identity": dump(identity),
                             "accountInfo": {"accountId": "acc-1", "siteId": "site-1"}}
    return dump(outer)


def claims(data: Any = None, **times: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"data": envelope() if data is None else data,
                            "iat": int(NOW), "exp": int(NOW) + 300}
    base.update(times)
    return {name: value for name, value in base.items() if value is not None}


def sign(payload: dict[str, Any] | None = None, key: Any = WIX_KEY, algorithm: str = "RS256",
         headers: dict[str, Any] | None = None) -> bytes:
    return jwt.encode(claims() if payload is None else payload, key, algorithm=algorithm,
                      headers=headers).encode()


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: dict[str, Any],
              signer: Callable[[bytes], bytes]) -> bytes:
    """A token PyJWT would refuse to build (alg none, HMAC keyed with the RSA public key)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(signer(signing_input.encode()))}".encode()


def tampered() -> bytes:
    """A valid token whose payload segment is swapped for another member's: signature kept."""
    head, _, signature = sign().split(b".")
    other = claims(envelope(event=action({"booking": booking("m-victim")})))
    return b".".join([head, b64(json.dumps(other).encode()).encode(), signature])


# -- the receiver under test -------------------------------------------------------------------

@dataclass
class Harness:
    clock: FakeClock = field(default_factory=lambda: FakeClock(NOW))
    timer: FakeClock = field(default_factory=FakeClock)
    calls: list[str] = field(default_factory=list)
    fail_for: set[str] = field(default_factory=set)

    async def on_member(self, member_id: str) -> None:
        self.calls.append(member_id)
        if member_id in self.fail_for:
            raise RuntimeError("cache backend down")

    def receiver(self, **options: Any) -> WebhookReceiver:
        return WebhookReceiver(public_key=WIX_PEM, on_member=self.on_member, clock=self.clock,
                               timer=self.timer, **options)


def handle(receiver: WebhookReceiver, body: bytes) -> WebhookResult:
    return asyncio.run(receiver.handle(body))


CASES: list[tuple[str, Callable[[], bytes], int, str, tuple[str, ...], str | None]] = [
    # (id, body, status, outcome, member ids invalidated, reason contains)
    # --- accepted: member ids from the entity and from the identity
    ("order-buyer", lambda: sign(claims(envelope(ORDER_PURCHASED, action(
        {"order": order()}, fqdn="wix.pricing_plans.v2.order", slug="purchased"),
        {"identityType": "WIX_USER", "wixUserId": "owner"}))),
     200, "invalidated", ("m-buyer",), None),
    ("booking-createdBy", lambda: sign(claims(envelope(
        identity={"identityType": "APP", "appId": "a"}))),
     200, "invalidated", ("m-booker",), None),
    ("created-event-entity", lambda: sign(claims(envelope(
        "wix.bookings.v2.booking_created",
        {"id": "ev-c", "slug": "created", "createdEvent": {"entity": booking("m-new")}},
        {"identityType": "ANONYMOUS_VISITOR", "anonymousVisitorId": "v"}))),
     200, "invalidated", ("m-new",), None),
    ("updated-event-current-entity", lambda: sign(claims(envelope(
        "wix.bookings.v2.booking_updated",
        {"id": "ev-u", "slug": "updated", "updatedEvent": {"currentEntity": booking("m-up")}},
        {"identityType": "WIX_USER", "wixUserId": "owner"}))),
     200, "invalidated", ("m-up",), None),
    ("identity-only-member", lambda: sign(claims(envelope(
        "wix.bookings.v2.booking_canceled", action({"booking": booking(None)}),
        {"identityType": "MEMBER", "memberId": "m-self"}))),
     200, "invalidated", ("m-self",), None),
    ("entity-and-identity-distinct", lambda: sign(claims(envelope(
        identity={"identityType": "MEMBER", "memberId": "m-other"}))),
     200, "invalidated", ("m-booker", "m-other"), None),
    ("entity-and-identity-same-once", lambda: sign(claims(envelope())),
     200, "invalidated", ("m-booker",), None),
    ("inner-values-as-objects", lambda: sign(claims(envelope(stringify=False))),
     200, "invalidated", ("m-booker",), None),
    ("inner-values-as-json-strings-all-the-way", lambda: sign(claims(envelope(
        ORDER_PURCHASED, {"id": "ev-s", "slug": "purchased", "actionEvent": json.dumps(
            {"body": json.dumps({"order": json.dumps(order("m-deep"))})})},
        {"identityType": "WIX_USER"}))),
     200, "invalidated", ("m-deep",), None),
    ("whitespace-around-token", lambda: b"\r\n  " + sign() + b"\n",
     200, "invalidated", ("m-booker",), None),
    ("kid-header", lambda: sign(headers={"kid": "wix-key-1"}),
     200, "invalidated", ("m-booker",), None),
    ("expired-within-leeway", lambda: sign(claims(exp=int(NOW) - 10, iat=int(NOW) - 310)),
     200, "invalidated", ("m-booker",), None),
    ("iat-ahead-within-leeway", lambda: sign(claims(iat=int(NOW) + 10)),
     200, "invalidated", ("m-booker",), None),
    # --- ignored
    ("unknown-event-type", lambda: sign(claims(envelope(
        "wix.members.v1.member_created",
        {"id": "ev-m", "slug": "created", "createdEvent": {"entity": {"id": "m-x"}}}))),
     200, "ignored", (), "not acted on"),
    ("unknown-legacy-event-not-json-inside", lambda: sign(claims(json.dumps(
        {"eventType": "wix.stores.product_changed", "data": "not json"}))),
     200, "ignored", (), "not acted on"),
    ("no-member-anywhere", lambda: sign(claims(envelope(
        event=action({"booking": booking(None)}),
        identity={"identityType": "WIX_USER", "wixUserId": "owner"}))),
     200, "ignored", (), "no member id"),
    ("member-id-not-a-string", lambda: sign(claims(envelope(
        event=action({"booking": {"createdBy": {"memberId": 42}}}),
        identity={"identityType": "MEMBER", "memberId": ""}))),
     200, "ignored", (), "no member id"),
    # --- 413 before parsing
    ("oversized-body", lambda: b"x" * (64 * 1024 + 1), 413, "rejected", (), "larger than"),
    ("oversized-valid-token", lambda: b" " * (64 * 1024) + sign(), 413, "rejected", (), None),
    # --- 400: not a JWT, or a signed JWT whose content is malformed
    ("garbage", lambda: b"hello wix", 400, "rejected", (), "not a well-formed JWT"),
    ("empty", lambda: b"   ", 400, "rejected", (), "not a well-formed JWT"),
    ("json-not-jwt", lambda: json.dumps({"data": envelope()}).encode(), 400, "rejected", (), None),
    ("non-ascii", lambda: "é.é.é".encode(), 400, "rejected", (), None),
    ("truncated-no-signature", lambda: sign().rsplit(b".", 1)[0], 400, "rejected", (), None),
    ("truncated-mid-base64", lambda: sign()[:-1], 400, "rejected", (), None),
    ("deeply-nested-header", lambda: b64(b"[" * 40_000).encode() + b".e30.c2ln",
     400, "rejected", (), None),
    ("payload-not-json-signed", lambda: jwt.api_jws.encode(
        b"not json", WIX_KEY, algorithm="RS256").encode(), 400, "rejected", (), None),
    ("data-claim-missing", lambda: sign({"iat": int(NOW), "exp": int(NOW) + 60}),
     400, "rejected", (), "data is not a JSON object"),
    ("data-claim-not-json", lambda: sign(claims("{not json")),
     400, "rejected", (), "data is not valid JSON"),
    ("data-claim-a-list", lambda: sign(claims("[1, 2]")), 400, "rejected", (), "JSON object"),
    ("no-event-type", lambda: sign(claims(json.dumps({"data": "{}"}))),
     400, "rejected", (), "no eventType"),
    ("no-event-id", lambda: sign(claims(envelope(event={"slug": "confirmed", "actionEvent": {
        "body": {"booking": booking()}}}))), 400, "rejected", (), "no id"),
    ("event-data-not-json", lambda: sign(claims(json.dumps(
        {"eventType": BOOKING_CONFIRMED, "data": "{oops"}))),
     400, "rejected", (), "data.data is not valid JSON"),
    ("identity-not-json", lambda: sign(claims(json.dumps({
        "eventType": BOOKING_CONFIRMED, "data": json.dumps(action({"booking": booking()})),
        "identity": "{oops"}))), 400, "rejected", (), "identity"),
    ("action-body-not-json", lambda: sign(claims(envelope(event={
        "id": "ev-b", "actionEvent": {"body": "{oops"}}))), 400, "rejected", (), "body"),
    # --- 401: not signed by Wix's key, or not valid now
    ("forged-other-key", lambda: sign(key=OTHER_KEY), 401, "rejected", (), "bad signature"),
    ("tampered-payload", tampered, 401, "rejected", (), "bad signature"),
    ("truncated-signature", lambda: sign()[:-2], 401, "rejected", (), "bad signature"),
    ("expired", lambda: sign(claims(exp=int(NOW) - 31, iat=int(NOW) - 331)),
     401, "rejected", (), "expired"),
    ("iat-in-future", lambda: sign(claims(iat=int(NOW) + 31, exp=int(NOW) + 331)),
     401, "rejected", (), "not yet valid"),
    ("nbf-in-future", lambda: sign(claims(nbf=int(NOW) + 600)), 401, "rejected", (),
     "not yet valid"),
    ("exp-not-a-number", lambda: sign(claims(exp="tomorrow")), 401, "rejected", (),
     "exp claim is not a number"),
    ("exp-infinite", lambda: sign(claims(exp=float("inf"))), 401, "rejected", (),
     "exp claim is not a number"),
    ("exp-huge-int-no-overflow", lambda: sign(claims(exp=10**400)),
     200, "invalidated", ("m-booker",), None),
    ("no-exp", lambda: sign(claims(exp=None)), 401, "rejected", (), "no exp claim"),
    ("no-iat", lambda: sign(claims(iat=None)), 401, "rejected", (), "no iat claim"),
    ("alg-none", lambda: hand_made({"alg": "none", "typ": "JWT"}, claims(), lambda _: b""),
     401, "rejected", (), "algorithm not allowed"),
    ("hs256-keyed-with-public-pem", lambda: hand_made(
        {"alg": "HS256", "typ": "JWT"}, claims(),
        lambda msg: hmac.new(WIX_PEM.encode(), msg, hashlib.sha256).digest()),
     401, "rejected", (), "algorithm not allowed"),
    ("rs512-with-the-right-key", lambda: sign(algorithm="RS512"), 401, "rejected", (),
     "algorithm not allowed"),
]


@pytest.mark.parametrize(("body", "status", "outcome", "members", "reason"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_webhook_cases(body: Callable[[], bytes], status: int, outcome: str,
                       members: tuple[str, ...], reason: str | None) -> None:
    """Each body gets the documented status and outcome, and only accepted ones call on_member."""
    harness = Harness()
    result = handle(harness.receiver(), body())
    assert (result.status, result.outcome, result.member_ids) == (status, outcome, members)
    assert harness.calls == list(members)
    if reason is not None:
        assert result.reason is not None and reason in result.reason
    if status in (401, 413):  # nothing unauthenticated is echoed
        assert (result.event_id, result.event_type) == (None, None)


def test_invalidated_result_names_the_event() -> None:
    """An accepted event reports its id and type, for the caller's metrics and logs."""
    result = handle(Harness().receiver(), sign())
    assert result == WebhookResult(200, "invalidated", "ev-1", BOOKING_CONFIRMED, ("m-booker",))


def test_verified_but_malformed_event_names_its_type() -> None:
    """After the signature checks out, a 400 may name the event type to help debugging."""
    body = sign(claims(envelope(event={"slug": "confirmed"})))
    result = handle(Harness().receiver(), body)
    assert (result.status, result.event_type, result.reason) == (
        400, BOOKING_CONFIRMED, "event has no id")


def test_ignored_event_type_still_reports_its_id() -> None:
    body = sign(claims(envelope("wix.members.v1.member_updated", {"id": "ev-9"})))
    result = handle(Harness().receiver(), body)
    assert (result.event_id, result.event_type) == ("ev-9", "wix.members.v1.member_updated")


@pytest.mark.parametrize("event_type", sorted(DEFAULT_EVENT_TYPES))
def test_every_default_event_type_invalidates(event_type: str) -> None:
    """Booking events carry a booking, order events an order; each invalidates its member."""
    body = {"order": order()} if ".pricing_plans." in event_type else {"booking": booking()}
    token = sign(claims(envelope(event_type, action(body), {"identityType": "WIX_USER"})))
    harness = Harness()
    assert handle(harness.receiver(), token).outcome == "invalidated"
    assert len(harness.calls) == 1


def test_event_types_can_be_narrowed() -> None:
    receiver = Harness().receiver(event_types={ORDER_PURCHASED})
    assert handle(receiver, sign()).outcome == "ignored"


# -- dedupe ------------------------------------------------------------------------------------

def event_token(event_id: str, member: str = "m-booker", iat: int = int(NOW)) -> bytes:
    data = envelope(event=action({"booking": booking(member)}, event_id=event_id),
                    identity={"identityType": "WIX_USER"})
    return sign(claims(data, iat=iat, exp=iat + 300))


def test_replayed_event_is_a_duplicate() -> None:
    """The same signed event twice: the second answers 200 "duplicate" and invalidates nothing."""
    harness = Harness()
    receiver = harness.receiver()
    assert handle(receiver, event_token("ev-r")).outcome == "invalidated"
    again = handle(receiver, event_token("ev-r"))
    assert (again.status, again.outcome, again.event_id) == (200, "duplicate", "ev-r")
    assert harness.calls == ["m-booker"]


def test_redelivery_with_a_fresh_signature_is_a_duplicate() -> None:
    """Dedupe keys on the event id, not the token: a re-signed redelivery is still a repeat."""
    harness = Harness()
    receiver = harness.receiver()
    handle(receiver, event_token("ev-r"))
    assert handle(receiver, event_token("ev-r", iat=int(NOW) + 5)).outcome == "duplicate"


def test_unsigned_ids_cannot_poison_the_dedupe() -> None:
    """A forged event carrying a real id is refused and does not suppress the real one."""
    harness = Harness()
    receiver = harness.receiver()
    forged = sign(claims(envelope(event=action({"booking": booking()}, event_id="ev-p"))),
                  key=OTHER_KEY)
    assert handle(receiver, forged).status == 401
    assert handle(receiver, event_token("ev-p")).outcome == "invalidated"


def test_dedupe_is_bounded_by_size() -> None:
    """With room for two ids, a third pushes the oldest out, which then counts as new."""
    harness = Harness()
    receiver = harness.receiver(dedupe_size=2)
    for event_id in ("ev-a", "ev-b", "ev-c"):
        assert handle(receiver, event_token(event_id)).outcome == "invalidated"
    assert handle(receiver, event_token("ev-c")).outcome == "duplicate"
    assert handle(receiver, event_token("ev-a")).outcome == "invalidated"


def test_dedupe_forgets_after_its_ttl() -> None:
    harness = Harness()
    receiver = harness.receiver(dedupe_ttl=60)
    handle(receiver, event_token("ev-t"))
    harness.timer.now += 59
    assert handle(receiver, event_token("ev-t")).outcome == "duplicate"
    harness.timer.now += 2
    assert handle(receiver, event_token("ev-t")).outcome == "invalidated"


def test_concurrent_deliveries_invalidate_once() -> None:
    """The id is claimed before on_member is awaited, so overlapping deliveries dedupe."""
    harness = Harness()
    gate = asyncio.Event()

    async def slow(member_id: str) -> None:
        harness.calls.append(member_id)
        await gate.wait()

    receiver = WebhookReceiver(public_key=WIX_PEM, on_member=slow, clock=harness.clock,
                               timer=harness.timer)

    async def run() -> list[str]:
        first = asyncio.create_task(receiver.handle(event_token("ev-x")))
        await asyncio.sleep(0)
        second = await receiver.handle(event_token("ev-x"))
        gate.set()
        return [(await first).outcome, second.outcome]

    assert asyncio.run(run()) == ["invalidated", "duplicate"]
    assert harness.calls == ["m-booker"]


# -- on_member failures ------------------------------------------------------------------------

def test_failed_invalidation_answers_200_and_is_visible(caplog: pytest.LogCaptureFixture) -> None:
    """Wix is not asked to retry (the cache TTL bounds the damage) but the failure is logged at
    ERROR, the other member is still invalidated, and a redelivery is processed again."""
    harness = Harness(fail_for={"m-booker"})
    receiver = harness.receiver()
    body = sign(claims(envelope(identity={"identityType": "MEMBER", "memberId": "m-other"})))
    with caplog.at_level(logging.INFO, logger="booking_gate.webhooks"):
        result = handle(receiver, body)
    assert (result.status, result.outcome) == (200, "failed")
    assert result.member_ids == ("m-booker", "m-other")
    assert result.reason == "on_member failed for 1 of 2: RuntimeError"
    assert harness.calls == ["m-booker", "m-other"]
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
    harness.fail_for.clear()
    assert handle(receiver, body).outcome == "invalidated"


def test_cancellation_is_not_swallowed() -> None:
    async def cancelled(member_id: str) -> None:
        raise asyncio.CancelledError

    receiver = WebhookReceiver(public_key=WIX_PEM, on_member=cancelled, clock=FakeClock(NOW))
    with pytest.raises(asyncio.CancelledError):
        handle(receiver, sign())


# -- logging -----------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [sign(), sign(key=OTHER_KEY), b"x" * 70_000],
                         ids=["invalidated", "forged", "oversized"])
def test_one_log_line_without_token_content(body: bytes,
                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="booking_gate.webhooks"):
        handle(Harness().receiver(), body)
    [record] = caplog.records
    text = record.getMessage() + json.dumps(record.__dict__.get("booking_gate"))
    assert "outcome=" in text
    for segment in body.split(b".")[:3]:
        assert segment[:16].decode() not in text


# -- configuration -----------------------------------------------------------------------------

def pem_of(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, private: bool = False) -> str:
    if private:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.mark.parametrize(("pem", "message"), [
    ("not a key at all", "not a PEM public key"),
    ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "not a PEM public key"),
    (pem_of(WIX_KEY, private=True), "private key"),
    (pem_of(ec.generate_private_key(ec.SECP256R1())), "RSA key of 2048 bits"),
    (pem_of(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
     "RSA key of 2048 bits"),
], ids=["garbage", "bad-base64", "private-key", "ec-key", "rsa-1024"])
def test_unusable_key_is_a_config_error(pem: str, message: str) -> None:
    """The error names the setting and never echoes the key."""
    with pytest.raises(ConfigError) as info:
        WebhookReceiver(public_key=pem, on_member=Harness().on_member)
    text = str(info.value)
    assert "BOOKING_GATE_WIX_WEBHOOK_PUBLIC_KEY" in text and message in text
    body_lines = [line for line in pem.splitlines() if line and "-----" not in line]
    assert not any(line in text for line in body_lines if len(line) > 8)


def test_pem_squeezed_onto_one_line_is_accepted() -> None:
    """Env files often hold the PEM with literal \\n sequences."""
    one_line = WIX_PEM.strip().replace("\n", "\\n")
    receiver = WebhookReceiver(public_key=one_line, on_member=Harness().on_member,
                               clock=FakeClock(NOW))
    assert handle(receiver, sign()).outcome == "invalidated"


@pytest.mark.parametrize("options", [{"max_body": 0}, {"dedupe_size": 0}, {"dedupe_ttl": 0},
                                     {"leeway": -1}, {"leeway": float("nan")}])
def test_nonsense_limits_are_config_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Harness().receiver(**options)


def test_repr_does_not_show_the_key() -> None:
    assert "BEGIN" not in repr(Harness().receiver())
