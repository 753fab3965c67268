"""Wix's signed webhooks end to end: the emulator changes a balance and tells the gate, and the
next decision uses the new balance long before the cache would have expired. Forged, expired,
tampered, replayed, non-JWT and oversized bodies change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import SITE_ID, YOGA, Emulator
from tests.serving import API_SECRET, serve, serve_env

ANA_POOL = "54f64ce6-f56e-5d88-bb99-ce8b48813437"
AUTH = {"Authorization": f"Bearer {API_SECRET}"}


@pytest.fixture(scope="module")
def gate_url(emulator_server: tuple[str, str]) -> Iterator[str]:
    url, api_key = emulator_server
    public_key = httpx.get(url + "/_emulator/webhooks/public-key").text
    env = serve_env(url, api_key, SITE_ID, BOOKING_GATE_WIX_WEBHOOK_PUBLIC_KEY=public_key,
                    BOOKING_GATE_CACHE_TTL="3600")
    with serve(env) as served:
        yield served


def decide(gate_url: str, emulator: Emulator, member: str = "ana") -> str:
    body = {"memberId": emulator.members[member], "serviceId": YOGA}
    answer = httpx.post(gate_url + "/v1/decisions", json=body, headers=AUTH).json()
    return str(answer["rule"])


def emit(emulator: Emulator, gate_url: str, **spec: Any) -> dict[str, Any]:
    if "body" in spec:  # a raw body instead of an event
        spec.pop("member", None)
    else:
        spec.setdefault("eventType", "wix.pricing_plans.v2.order_purchased")
        spec.setdefault("member", "ana")
    response = emulator.admin.post("/_emulator/webhooks/emit",
                                   json={"target": gate_url + "/v1/webhooks/wix", **spec})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_signed_order_event_refreshes_the_member_at_once(
    gate_url: str, emulator: Emulator
) -> None:
    assert decide(gate_url, emulator) == "(default)"  # cached for an hour from here
    sent = emit(emulator, gate_url, setAvailable={"pool": ANA_POOL, "available": "0"})
    assert sent["status"] == 200
    assert decide(gate_url, emulator) == "no-credits"


def test_a_booking_event_names_the_member_by_created_by(
    gate_url: str, emulator: Emulator
) -> None:
    assert decide(gate_url, emulator, "eve") == "(default)"
    pool = "ba24f4c9-a207-5ddf-807f-25bfa3267b25"
    sent = emit(emulator, gate_url, eventType="wix.bookings.v2.booking_confirmed", member="eve",
                setAvailable={"pool": pool, "available": "0"})
    assert sent["status"] == 200
    assert decide(gate_url, emulator, "eve") == "no-credits"


@pytest.mark.parametrize(("spec", "status"), [
    pytest.param({"signWith": "other-key"}, 401, id="forged-other-key"),
    pytest.param({"tamper": True}, 401, id="tampered"),
    pytest.param({"expiresIn": -600}, 401, id="expired"),
    pytest.param({"body": "not a jwt at all"}, 400, id="not-a-jwt"),
    pytest.param({"body": "x" * 70_000}, 413, id="oversized"),
])
def test_bad_webhooks_are_refused_and_change_nothing(
    gate_url: str, emulator: Emulator, spec: dict[str, Any], status: int
) -> None:
    assert decide(gate_url, emulator, "fay") == "(default)"  # fay's credits, now cached
    sent = emit(emulator, gate_url, member="fay",
                setAvailable={"pool": "1f4c1356-1648-5076-b300-6dac38713103", "available": "0"},
                **spec)
    assert sent["status"] == status
    assert decide(gate_url, emulator, "fay") == "(default)"  # not invalidated: still cached


def test_a_replayed_event_is_ignored(gate_url: str, emulator: Emulator) -> None:
    signed = emulator.admin.post("/_emulator/webhooks/sign", json={
        "eventType": "wix.pricing_plans.v2.order_started", "member": "ana"}).json()
    first = httpx.post(gate_url + "/v1/webhooks/wix", content=signed["jwt"])
    assert (first.status_code, first.json()["outcome"]) == (200, "invalidated")
    assert decide(gate_url, emulator) == "(default)"  # read again, then cached
    emulator.set_balance(ANA_POOL, available="0")
    again = httpx.post(gate_url + "/v1/webhooks/wix", content=signed["jwt"])
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert decide(gate_url, emulator) == "(default)"  # the replay invalidated nothing
