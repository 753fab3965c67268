"""Signed webhooks: the emulator's public key, Wix's nested envelope in RS256 JWTs checked with
PyJWT and the published key, and the forgeries, tampering and expiry a receiver must refuse."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gate.tooling.emulator import DEMO_SEED_PATH, create_emulator, load_seed
from gate.tooling.testing import run_server
from tests.emulator.support import (
    ANA,
    BEN,
    SITE_ID,
    YOGA,
    field_of,
    mint,
    public_pem,
    sign_event,
    unpack,
)

ORDER_PURCHASED = "wix.pricing_plans.v2.order_purchased"


def contact_of(client: httpx.Client, member: str) -> str:
    token = mint(client, member=member)
    answer = client.get("/members/v1/members/my", headers={"Authorization": token})
    return str(answer.json()["member"]["contactId"])


# -- the key ------------------------------------------------------------------------------------


def test_public_key_is_rsa_2048_spki_and_survives_reset(client: httpx.Client) -> None:
    pem = public_pem(client)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    key = load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    described = client.get("/_emulator/webhooks/public-key?format=json").json()
    assert described["publicKey"] == pem and described["alg"] == "RS256"
    assert len(described["kid"]) == 16
    client.post("/_emulator/reset").raise_for_status()
    assert public_pem(client) == pem


def test_a_given_key_signs() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    app = create_emulator(load_seed(DEMO_SEED_PATH), api_key="k", site_id="s", webhook_key=key)
    with run_server(app) as url, httpx.Client(base_url=url, trust_env=False) as http:
        token = sign_event(http, eventType=ORDER_PURCHASED, member="ana")["jwt"]
    assert jwt.decode(token, key.public_key(), algorithms=["RS256"])["data"]


# -- shapes -------------------------------------------------------------------------------------


def test_order_event_is_signed_and_nested_like_wix(client: httpx.Client) -> None:
    signed = sign_event(client, eventType=ORDER_PURCHASED, member="ana")
    pem = public_pem(client)
    claims, envelope, domain = unpack(signed["jwt"], pem)
    assert set(claims) == {"data", "iat", "exp"} and claims["exp"] - claims["iat"] == 300
    header = jwt.get_unverified_header(signed["jwt"])
    assert header["alg"] == "RS256"
    assert header["kid"] == client.get("/_emulator/webhooks/public-key?format=json").json()["kid"]
    assert set(envelope) == {"eventType", "instanceId", "data", "identity", "accountInfo"}
    assert envelope["eventType"] == ORDER_PURCHASED
    assert envelope["instanceId"] == "emulator-instance"
    assert envelope["accountInfo"]["siteId"] == SITE_ID
    assert json.loads(envelope["identity"]) == {"identityType": "MEMBER", "memberId": ANA}
    assert uuid.UUID(signed["eventId"]) and domain["id"] == signed["eventId"]
    assert (domain["entityFqdn"], domain["slug"]) == ("wix.pricing_plans.v2.order", "purchased")
    order = domain["actionEvent"]["body"]["order"]
    assert domain["entityId"] == order["id"]
    assert order["buyer"] == {"memberId": ANA, "contactId": contact_of(client, "ana")}
    assert order["status"] == "ACTIVE"
    assert domain["eventTime"].endswith("Z")


@pytest.mark.parametrize(
    ("slug", "status", "where"),
    [
        ("confirmed", "CONFIRMED", ("actionEvent", "body", "booking")),
        ("canceled", "CANCELED", ("actionEvent", "body", "booking")),
        ("declined", "DECLINED", ("actionEvent", "body", "booking")),
        ("rescheduled", "CONFIRMED", ("actionEvent", "body", "booking")),
        ("created", "CREATED", ("createdEvent", "entity")),
        ("updated", "CONFIRMED", ("updatedEvent", "currentEntity")),
    ],
)
def test_booking_events(
    client: httpx.Client, slug: str, status: str, where: tuple[str, ...]
) -> None:
    signed = sign_event(client, eventType=f"wix.bookings.v2.booking_{slug}", member=BEN,
                        service=YOGA, eventId="evt-1", entityId="booking-1")
    _, envelope, domain = unpack(signed["jwt"], public_pem(client))
    assert (signed["eventId"], domain["id"], domain["slug"]) == ("evt-1", "evt-1", slug)
    assert (domain["entityFqdn"], domain["entityId"]) == ("wix.bookings.v2.booking", "booking-1")
    booking = domain
    for key in where:
        booking = booking[key]
    assert booking["id"] == "booking-1" and booking["status"] == status
    assert booking["createdBy"] == {"memberId": BEN}
    assert booking["contactDetails"]["contactId"] == contact_of(client, "ben")
    assert booking["selectedPaymentOption"] == "MEMBERSHIP"
    assert booking["bookedEntity"] == {"slot": {"serviceId": YOGA}}
    assert json.loads(envelope["identity"])["memberId"] == BEN


@pytest.mark.parametrize(
    "slug", ["started", "cycle_started", "canceled", "ended", "paused", "resumed"]
)
def test_order_events_and_entity_overrides(client: httpx.Client, slug: str) -> None:
    signed = sign_event(client, eventType=f"wix.pricing_plans.v2.order_{slug}", member="ben",
                  entity={"status": "DRAFT", "planName": "Ten yoga"})
    order = unpack(signed["jwt"], public_pem(client))[2]["actionEvent"]["body"]["order"]
    assert (order["status"], order["planName"], order["buyer"]["memberId"]) == (
        "DRAFT", "Ten yoga", BEN)


def test_an_envelope_is_signed_as_given(client: httpx.Client) -> None:
    given = {"eventType": "wix.members.v1.member_created", "instanceId": "i",
             "data": json.dumps({"id": "e-7"}), "identity": "{}", "accountInfo": {}}
    signed = sign_event(client, envelope=given, expiresIn=60)
    claims, envelope, _ = unpack(signed["jwt"], public_pem(client))
    assert envelope == given and signed["eventId"] == "e-7"
    assert claims["exp"] - claims["iat"] == 60


# -- forgeries, tampering, expiry ---------------------------------------------------------------


def test_other_key_tamper_and_expiry_fail_verification(client: httpx.Client) -> None:
    pem = public_pem(client)
    kid = client.get("/_emulator/webhooks/public-key?format=json").json()["kid"]
    forgery = {"eventType": ORDER_PURCHASED, "member": "ana", "signWith": "other-key"}
    forged = sign_event(client, **forgery)["jwt"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, pem, algorithms=["RS256"])
    assert jwt.get_unverified_header(forged)["kid"] == kid  # the forger claims the real key
    tampered = sign_event(client, eventType=ORDER_PURCHASED, member="ana", tamper=True)["jwt"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, pem, algorithms=["RS256"])
    unverified = jwt.decode(tampered, options={"verify_signature": False})
    assert json.loads(unverified["data"])["eventType"] == ORDER_PURCHASED  # still well formed
    expired = sign_event(client, eventType=ORDER_PURCHASED, member="ana", expiresIn=-120)["jwt"]
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(expired, pem, algorithms=["RS256"])
    assert jwt.decode(expired, pem, algorithms=["RS256"], options={"verify_exp": False})


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("sign", {"eventType": "wix.bookings.v2.booking_exploded", "member": "ana"}, "eventType"),
        ("sign", {"member": "ana"}, "eventType"),
        ("sign", {"eventType": ORDER_PURCHASED}, "member"),
        ("sign", {"eventType": ORDER_PURCHASED, "member": "zed"}, "member"),
        ("sign", {"envelope": {}, "member": "ana"}, "member"),
        ("sign", {"eventType": ORDER_PURCHASED, "member": "ana", "signWith": "mine"}, "signWith"),
        ("sign", {"eventType": ORDER_PURCHASED, "member": "ana", "target": "x"}, "target"),
        ("sign", {"eventType": ORDER_PURCHASED, "member": "ana", "eventId": ""}, "eventId"),
    ],
)
def test_bad_webhook_requests(
    client: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    assert field_of(client.post(f"/_emulator/webhooks/{path}", json=body)) == field
