"""Admin controls added for credit-per-service clients: call timeline, new-route faults, unknown
statuses, negative balances and items added at run time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gate.tooling.emulator import DEMO_SEED_PATH, WIX_ROUTES, create_emulator, load_seed
from gate.tooling.testing import run_server
from tests.emulator.support import (
    ANA_POOL,
    API_KEY,
    AUTH,
    BEN_POOL,
    BOOKINGS,
    BP,
    PRICING_PLANS,
    SITE_ID,
    TEN_YOGA_SET,
    YOGA,
    adjust,
    eligibility,
    field_of,
    query,
    query_of,
)

NEW_ROUTES = [
    f"POST {BP}/items/query",
    f"GET {BP}/items/{{itemId}}",
    f"POST {BP}/pools/check-eligibility",
    f"GET {BP}/pools/{{poolId}}",
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked() -> Iterator[tuple[httpx.Client, FakeClock]]:
    clock = FakeClock()
    app = create_emulator(load_seed(DEMO_SEED_PATH), api_key=API_KEY, site_id=SITE_ID, clock=clock)
    with run_server(app) as url, httpx.Client(base_url=url, trust_env=False) as http:
        yield http, clock


# -- call timeline ----------------------------------------------------------------------------


def test_timeline_and_rolling_window_on_the_injected_clock(
    clocked: tuple[httpx.Client, FakeClock],
) -> None:
    client, clock = clocked
    query(client, {})
    clock.now = 530.0
    query_of(client, "items", {})
    clock.now = 561.0
    query(client, {})
    eligibility(client, ANA_POOL, YOGA)
    body = client.get("/_emulator/calls", params={"timeline": 1, "window": 60}).json()
    assert body["calls"] == {
        f"POST {BP}/balances/query": 2,
        f"POST {BP}/items/query": 1,
        f"POST {BP}/pools/check-eligibility": 1,
    }
    assert body["timeline"] == [
        {"route": f"POST {BP}/balances/query", "at": 500.0},
        {"route": f"POST {BP}/items/query", "at": 530.0},
        {"route": f"POST {BP}/balances/query", "at": 561.0},
        {"route": f"POST {BP}/pools/check-eligibility", "at": 561.0},
    ]
    assert body["now"] == 561.0
    # The window's left edge (501) is after the first call: only the last three count.
    assert body["window"] == {
        "seconds": 60.0,
        "calls": {
            f"POST {BP}/items/query": 1,
            f"POST {BP}/balances/query": 1,
            f"POST {BP}/pools/check-eligibility": 1,
        },
    }
    clock.now = 1000.0
    assert client.get("/_emulator/calls?window=60").json()["window"]["calls"] == {}


def test_timeline_on_the_real_clock_and_its_resets(client: httpx.Client) -> None:
    """Admin calls are never on the timeline; both resets clear it."""
    before = time.monotonic()
    for _ in range(3):
        query(client, {})
    body = client.get("/_emulator/calls?timeline=true").json()
    stamps = [entry["at"] for entry in body["timeline"]]
    assert len(stamps) == 3
    assert before <= stamps[0] <= stamps[1] <= stamps[2] <= body["now"]
    assert "window" not in body
    assert "timeline" not in client.get("/_emulator/calls").json()
    client.post("/_emulator/calls/reset").raise_for_status()
    assert client.get("/_emulator/calls?timeline=1").json()["timeline"] == []
    query(client, {})
    client.post("/_emulator/reset").raise_for_status()
    assert client.get("/_emulator/calls?timeline=1").json()["timeline"] == []


@pytest.mark.parametrize("window", ["abc", "0", "-5", "nan", "inf", ""])
def test_bad_window_is_refused(client: httpx.Client, window: str) -> None:
    assert field_of(client.get("/_emulator/calls", params={"window": window})) == "window"


# -- faults on the new routes ---------------------------------------------------------------------


def test_new_routes_are_listed() -> None:
    assert set(NEW_ROUTES) <= set(WIX_ROUTES)
    assert len(WIX_ROUTES) == len(set(WIX_ROUTES)) == 11


@pytest.mark.parametrize("route", NEW_ROUTES)
def test_faults_on_new_routes(client: httpx.Client, route: str) -> None:
    fault = {"route": route, "status": 429, "body": '{"message":"Too many requests"}', "times": 2}
    assert client.post("/_emulator/faults", json=fault).status_code == 201
    method, path = route.split(" ", 1)
    url = path.replace("{itemId}", "x").replace("{poolId}", ANA_POOL)
    body = {"poolId": ANA_POOL, "namespace": PRICING_PLANS,
            "itemReference": {"externalId": YOGA, "providerAppId": BOOKINGS}}
    statuses = []
    for _ in range(3):
        response = client.request(method, url, json=body if method == "POST" else None,
                                  headers=AUTH)
        statuses.append(response.status_code)
    assert statuses[:2] == [429, 429]
    assert statuses[2] in (200, 404)  # the fault is spent; GET of item "x" is a real 404
    assert client.get("/_emulator/calls").json()["calls"] == {route: 3}


def test_delay_fault_on_eligibility(client: httpx.Client) -> None:
    route = f"POST {BP}/pools/check-eligibility"
    client.post("/_emulator/faults", json={"route": route, "delay": 0.2}).raise_for_status()
    started = time.monotonic()
    assert eligibility(client, ANA_POOL, YOGA).status_code == 200
    assert time.monotonic() - started >= 0.2


# -- unknown statuses and negative balances -----------------------------------------------------


def test_unknown_status_needs_allow_unknown(client: httpx.Client) -> None:
    url = f"/_emulator/balances/{ANA_POOL}"
    assert field_of(client.patch(url, json={"status": "SUSPENDED"})) == "status"
    for bad in ("suspended", "SUS PENDED", "", "X" * 41):
        body = {"status": bad, "allowUnknown": True}
        assert field_of(client.patch(url, json=body)) == "status", bad
    response = client.patch(url, json={"status": "SUSPENDED", "allowUnknown": True})
    assert response.status_code == 200, response.text
    assert response.json()["balance"]["poolInfo"]["status"] == "SUSPENDED"
    pools = query_of(client, "pools", {"filter": {"status": "SUSPENDED"}}).json()["pools"]
    assert [(p["id"], p["revision"]) for p in pools] == [(ANA_POOL, "2")]
    # A known status still needs no flag, and the flag does not change known ones.
    assert client.patch(url, json={"status": "ACTIVE", "allowUnknown": True}).status_code == 200
    assert client.patch(url, json={"status": "ENDED"}).status_code == 200


def test_negative_available_by_patch(client: httpx.Client) -> None:
    url = f"/_emulator/balances/{BEN_POOL}"
    response = client.patch(url, json={"available": "-1.5"})
    assert response.json()["balance"]["amount"]["available"] == "-1.5"
    assert field_of(client.patch(url, json={"reserved": "-1"})) == "reserved"
    # Spending from a negative balance is refused; topping it up works from there.
    assert adjust(client, BEN_POOL, "-1", "neg-a").status_code == 428
    topped = adjust(client, BEN_POOL, "2", "neg-b").json()["balance"]["amount"]["available"]
    assert topped == "0.5"


# -- items at run time ----------------------------------------------------------------------------


def test_add_item(client: httpx.Client) -> None:
    massage = "d23c81d7-3b49-549f-abb3-59079dddfb7a"
    body = {"service": massage, "itemSetId": TEN_YOGA_SET, "displayName": "Massage"}
    response = client.post("/_emulator/items", json=body)
    assert response.status_code == 201, response.text
    item = response.json()["item"]
    assert (item["externalId"], item["providerAppId"], item["category"]) == (massage, BOOKINGS, "")
    again = client.get(f"{BP}/items/{item['id']}", headers=AUTH).json()["item"]
    assert again == item
    assert client.post("/_emulator/items", json=body).status_code == 409
    assert client.post("/_emulator/items", json={**body, "id": item["id"]}).status_code == 409
    found = query_of(client, "items", {"filter": {"externalId": massage}}).json()["items"]
    assert found == [item]
    client.post("/_emulator/reset").raise_for_status()
    assert client.get(f"{BP}/items/{item['id']}", headers=AUTH).status_code == 404
    # The derived id is stable: the same item gets the same id after a reset.
    assert client.post("/_emulator/items", json=body).json()["item"]["id"] == item["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"itemSetId": TEN_YOGA_SET}, "service"),
        ({"service": YOGA}, "itemSetId"),
        ({"service": YOGA, "itemSetId": TEN_YOGA_SET, "colour": "red"}, "colour"),
        ({"service": 7, "itemSetId": TEN_YOGA_SET}, "service"),
    ],
)
def test_bad_items_are_refused(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert field_of(client.post("/_emulator/items", json=body)) == field
