"""Webhook emission over real HTTP: the emulator signs an event and POSTs it to a receiver on
loopback (a tiny Starlette app that records what it gets), alone or with a balance change."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gate.tooling.testing import run_server
from tests.emulator.support import (
    ANA,
    ANA_POOL,
    AUTH,
    BP,
    field_of,
    public_pem,
    refused_url,
    sign_event,
    unpack,
)

ORDER_PURCHASED = "wix.pricing_plans.v2.order_purchased"
BOOKING_CONFIRMED = "wix.bookings.v2.booking_confirmed"


@dataclass
class Receiver:
    """A webhook endpoint that records what it gets and what the emulator said at that moment."""

    url: str = ""
    emulator: str = ""
    status: int = 200
    bodies: list[bytes] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    balances_seen: list[str] = field(default_factory=list)

    async def hook(self, request: Request) -> Response:
        self.bodies.append(await request.body())
        self.content_types.append(request.headers.get("content-type", ""))
        async with httpx.AsyncClient(base_url=self.emulator, trust_env=False) as http:
            answer = await http.get(f"{BP}/balances/{ANA_POOL}", headers=AUTH)
        self.balances_seen.append(answer.json()["balance"]["amount"]["available"])
        return PlainTextResponse("ok", self.status)


@pytest.fixture(scope="module")
def receiver(server: str) -> Iterator[Receiver]:
    recorder = Receiver(emulator=server)
    app = Starlette(routes=[Route("/hook", recorder.hook, methods=["POST"])])
    with run_server(app) as url:
        recorder.url = url
        yield recorder


@pytest.fixture
def hook(receiver: Receiver, client: httpx.Client) -> Receiver:
    receiver.status = 200
    for recorded in (receiver.bodies, receiver.content_types, receiver.balances_seen):
        recorded.clear()
    return receiver


def emit(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/_emulator/webhooks/emit", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# -- emission -----------------------------------------------------------------------------------


def test_emit_posts_the_jwt_to_the_receiver(client: httpx.Client, hook: Receiver) -> None:
    sent = emit(client, target=f"{hook.url}/hook", eventType=BOOKING_CONFIRMED, member="ana")
    assert (sent["status"], sent["response"]) == (200, "ok")
    assert hook.bodies == [sent["jwt"].encode()]
    assert hook.content_types == ["text/plain"]
    domain = unpack(hook.bodies[0].decode(), public_pem(client))[2]
    assert domain["id"] == sent["eventId"]
    assert domain["actionEvent"]["body"]["booking"]["createdBy"]["memberId"] == ANA
    # Emitting is not a Wix call; the receiver's own balance read is.
    assert client.get("/_emulator/calls").json()["calls"] == {f"GET {BP}/balances/{{poolId}}": 1}


def test_balance_change_and_order_event_in_one_call(client: httpx.Client, hook: Receiver) -> None:
    sent = emit(client, target=f"{hook.url}/hook", eventType=ORDER_PURCHASED, member="ana",
                setAvailable={"pool": ANA_POOL, "available": "5"})
    assert sent["status"] == 200
    assert hook.balances_seen == ["5"]  # changed before the receiver heard of it
    balance = client.get(f"{BP}/balances/{ANA_POOL}", headers=AUTH).json()["balance"]
    assert balance["amount"]["available"] == "5"
    missing = client.post("/_emulator/webhooks/emit", json={
        "target": f"{hook.url}/hook", "eventType": ORDER_PURCHASED, "member": "ana",
        "setAvailable": {"pool": "nope", "available": "5"}})
    assert missing.status_code == 404 and len(hook.bodies) == 1  # nothing sent


def test_replay_and_raw_bodies(client: httpx.Client, hook: Receiver) -> None:
    token = sign_event(client, eventType=ORDER_PURCHASED, member="ana", eventId="evt-r")["jwt"]
    for _ in range(2):
        replay = emit(client, target=f"{hook.url}/hook", body=token)
        assert (replay["status"], replay["jwt"], replay["eventId"]) == (200, None, None)
    again = emit(client, target=f"{hook.url}/hook", eventType=ORDER_PURCHASED, member="ana",
                 eventId="evt-r")
    assert again["eventId"] == "evt-r" and again["jwt"] != token  # same event, new token
    emit(client, target=f"{hook.url}/hook", body="not a jwt", contentType="application/json")
    assert hook.bodies[:2] == [token.encode()] * 2 and hook.bodies[3] == b"not a jwt"
    assert hook.content_types[3] == "application/json"


def test_the_receivers_status_is_passed_back(client: httpx.Client, hook: Receiver) -> None:
    hook.status = 401
    sent = emit(client, target=f"{hook.url}/hook", eventType=ORDER_PURCHASED, member="ana",
                tamper=True)
    assert (sent["status"], len(hook.bodies)) == (401, 1)


def test_localhost_is_a_loopback_target(client: httpx.Client, hook: Receiver) -> None:
    port = httpx.URL(hook.url).port
    sent = emit(client, target=f"http://localhost:{port}/hook", eventType=ORDER_PURCHASED,
                member="ana")
    assert sent["status"] == 200


def test_an_unreachable_target_is_a_502(client: httpx.Client) -> None:
    response = client.post("/_emulator/webhooks/emit", json={
        "target": f"{refused_url()}/hook", "eventType": ORDER_PURCHASED, "member": "ana"})
    assert response.status_code == 502
    body = response.json()
    assert body["status"] is None and body["error"].startswith("ConnectError")
    assert body["jwt"] and body["eventId"]


@pytest.mark.parametrize(
    "target",
    ["http://example.com/hook", "http://10.1.2.3/hook", "ftp://127.0.0.1/hook",
     "http://127.0.0.1@example.com/hook", "http://127.0.0.2/hook", "hook", ""],
)
def test_only_loopback_targets(client: httpx.Client, hook: Receiver, target: str) -> None:
    body = {"target": target, "eventType": ORDER_PURCHASED, "member": "ana"}
    assert field_of(client.post("/_emulator/webhooks/emit", json=body)) == "target"
    assert hook.bodies == []


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"eventType": ORDER_PURCHASED, "member": "ana"}, "target"),
        ({"target": "http://127.0.0.1:1/", "body": "x", "member": "ana"}, "body"),
        ({"target": "http://127.0.0.1:1/", "body": "x", "timeout": 0}, "timeout"),
        (
            {"target": "http://127.0.0.1:1/", "setAvailable": {"pool": ANA_POOL}},
            "setAvailable.available",
        ),
    ],
)
def test_bad_emit_requests(client: httpx.Client, body: dict[str, Any], name: str) -> None:
    assert field_of(client.post("/_emulator/webhooks/emit", json=body)) == name
