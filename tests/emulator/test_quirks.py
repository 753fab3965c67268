"""Quirks: the liberties Wix may take with its JSON, each switched on alone and then together."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gate.tooling.emulator.quirks import EXTRA_FIELD
from tests.emulator.support import (
    ANA,
    ANA_POOL,
    AUTH,
    BEN_POOL,
    BP,
    DEV,
    EVE,
    EVE_ACTIVE,
    EVE_ENDED,
    PILATES,
    SITE_ID,
    TEN_YOGA_ITEM,
    YOGA,
    eligibility,
    field_of,
    follow,
    query,
    query_of,
    quirks,
)

DEFAULTS = {
    "amountStyle": "verbatim",
    "cursorStyle": "null",
    "pageSize": None,
    "extraFields": False,
    "hasNext": "normal",
    "nullMetadata": False,
    "emptyErrorDescriptions": False,
    "omitEmptyLists": False,
}
EVE_POOLS = {"filter": {"beneficiary.memberId": {"$in": [EVE]}}, "cursorPaging": {"limit": 1}}


def balance(client: httpx.Client, pool_id: str) -> dict[str, Any]:
    response = client.get(f"{BP}/balances/{pool_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["balance"]
    return result


def pool(client: httpx.Client, pool_id: str) -> dict[str, Any]:
    result: dict[str, Any] = client.get(f"{BP}/pools/{pool_id}", headers=AUTH).json()["pool"]
    return result


# -- the admin endpoint -----------------------------------------------------------------------


def test_quirks_admin_get_merge_delete_reset(client: httpx.Client) -> None:
    assert client.get("/_emulator/quirks").json() == {"quirks": DEFAULTS}
    assert quirks(client, amountStyle="padded") == {**DEFAULTS, "amountStyle": "padded"}
    both = quirks(client, pageSize=1, hasNext="omit")
    assert both == {**DEFAULTS, "amountStyle": "padded", "pageSize": 1, "hasNext": "omit"}
    assert client.get("/_emulator/quirks").json() == {"quirks": both}
    assert client.delete("/_emulator/quirks").json() == {"quirks": DEFAULTS}
    quirks(client, extraFields=True)
    client.post("/_emulator/reset").raise_for_status()
    assert client.get("/_emulator/quirks").json() == {"quirks": DEFAULTS}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amountStyle": "scientific"}, "amountStyle"),
        ({"cursorStyle": None}, "cursorStyle"),
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 101}, "pageSize"),
        ({"pageSize": "1"}, "pageSize"),
        ({"extraFields": "yes"}, "extraFields"),
        ({"hasNext": False}, "hasNext"),
        ({"slowness": 3}, "slowness"),
    ],
)
def test_bad_quirks_are_refused(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert field_of(client.post("/_emulator/quirks", json=body)) == field
    assert client.get("/_emulator/quirks").json() == {"quirks": DEFAULTS}


# -- amounts --------------------------------------------------------------------------------------


def test_amount_style_padded(client: httpx.Client) -> None:
    quirks(client, amountStyle="padded")
    assert balance(client, EVE_ACTIVE)["amount"] == {"available": "2.5000", "reserved": "0.0000"}
    assert balance(client, EVE_ACTIVE)["poolInfo"]["creditAmount"] == "5.0000"
    details = pool(client, ANA_POOL)["details"]
    assert [b["price"] for b in details["benefits"]] == ["1.0000", "2.0000"]
    assert details["creditConfiguration"]["amount"] == "10.0000"
    client.patch(f"/_emulator/balances/{BEN_POOL}", json={"available": "-1"}).raise_for_status()
    assert balance(client, BEN_POOL)["amount"]["available"] == "-1.0000"
    result = eligibility(client, BEN_POOL, PILATES).json()["result"]["benefitResults"][0]
    options = result["notEnoughBalanceOptions"]
    assert (options["availableBalance"], options["requestedBalance"]) == ("-1.0000", "2.0000")
    eligible = eligibility(client, ANA_POOL, YOGA).json()["result"]["benefitResults"][0]
    assert eligible["eligibleBenefitOptions"]["price"] == "1.0000"
    # Ids, revisions and dates are not amounts, even when they look like numbers.
    assert balance(client, ANA_POOL)["revision"] == "8"


def test_amount_style_plain_and_verbatim(client: httpx.Client) -> None:
    client.patch(f"/_emulator/balances/{ANA_POOL}", json={"available": "7.0000"})
    assert balance(client, ANA_POOL)["amount"]["available"] == "7.0000"  # verbatim by default
    quirks(client, amountStyle="plain")
    assert balance(client, ANA_POOL)["amount"]["available"] == "7"
    client.patch(f"/_emulator/balances/{ANA_POOL}", json={"available": "2.5000"})
    assert balance(client, ANA_POOL)["amount"]["available"] == "2.5"
    change = client.post(
        f"{BP}/balances/{EVE_ACTIVE}/change",
        json={"idempotencyKey": "q-1", "type": "SET", "setOptions": {"value": "3"}},
        headers=AUTH,
    )
    assert change.json()["balance"]["amount"]["available"] == "3"
    quirks(client, amountStyle="padded")
    assert query(client, {"filter": {"id": EVE_ACTIVE}}).json()["balances"][0]["amount"] == {
        "available": "3.0000",
        "reserved": "0.0000",
    }


# -- paging metadata ------------------------------------------------------------------------------


def test_cursor_style_absent(client: httpx.Client) -> None:
    quirks(client, cursorStyle="absent")
    first, last = follow(client, "pools", EVE_POOLS)
    assert set(first["metadata"]["cursors"]) == {"next"}  # the null prev is left out
    assert last["metadata"] == {"count": 1, "hasNext": False}
    only = query(client, {"filter": {"id": ANA_POOL}}).json()
    assert "cursors" not in only["metadata"]


def test_cursor_style_empty(client: httpx.Client) -> None:
    quirks(client, cursorStyle="empty")
    pages = follow(client, "pools", EVE_POOLS)
    assert [p["metadata"]["cursors"] == {} for p in pages] == [False, True]


def test_page_size_overrides_the_limit(client: httpx.Client) -> None:
    quirks(client, pageSize=1)
    body = {"filter": {"externalId": YOGA}, "cursorPaging": {"limit": 100}}
    pages = follow(client, "items", body)
    assert [p["metadata"]["count"] for p in pages] == [1, 1, 1]
    assert len({p["items"][0]["id"] for p in pages}) == 3
    listed = client.get(f"{BP}/balances", params={"poolIds": [ANA_POOL, BEN_POOL]}, headers=AUTH)
    assert listed.json()["metadata"]["hasNext"] is True


def test_has_next_omitted(client: httpx.Client) -> None:
    quirks(client, hasNext="omit")
    pages = follow(client, "pools", EVE_POOLS)
    assert [p["pools"][0]["id"] for p in pages] == [EVE_ACTIVE, EVE_ENDED]
    assert all("hasNext" not in p["metadata"] for p in pages)


def test_has_next_false_beside_a_next_cursor(client: httpx.Client) -> None:
    """The client must follow the cursor even though hasNext says there is nothing more."""
    quirks(client, hasNext="false")
    first = query_of(client, "pools", EVE_POOLS).json()
    assert first["metadata"]["hasNext"] is False
    assert first["metadata"]["cursors"]["next"]
    pages = follow(client, "pools", EVE_POOLS)
    assert [p["pools"][0]["id"] for p in pages] == [EVE_ACTIVE, EVE_ENDED]


def test_null_metadata_on_the_last_page(client: httpx.Client) -> None:
    quirks(client, nullMetadata=True)
    first, last = follow(client, "pools", EVE_POOLS)
    assert first["metadata"]["hasNext"] is True
    assert last["metadata"] is None
    assert "metadata" in last
    assert query(client, {"filter": {"beneficiary.memberId": DEV}}).json() == {
        "balances": [],
        "metadata": None,
    }


def test_omit_empty_lists(client: httpx.Client) -> None:
    quirks(client, omitEmptyLists=True)
    empty = query(client, {"filter": {"beneficiary.memberId": DEV}}).json()
    assert empty == {"metadata": {"count": 0, "cursors": {"next": None, "prev": None},
                                  "hasNext": False}}
    assert "pools" not in query_of(client, "pools", {"filter": {"id": "nope"}}).json()
    assert len(query(client, {"filter": {"beneficiary.memberId": EVE}}).json()["balances"]) == 2


# -- extra fields ---------------------------------------------------------------------------------


def _objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        found = [value]
        for key, child in value.items():
            if key != EXTRA_FIELD:
                found += _objects(child)
        return found
    if isinstance(value, list):
        return [obj for item in value for obj in _objects(item)]
    return []


def test_extra_fields_on_every_object(client: httpx.Client) -> None:
    quirks(client, extraFields=True)
    responses = [
        query(client, {"filter": {"beneficiary.memberId": ANA}}),
        query_of(client, "pools", {"filter": {"beneficiary.memberId": ANA}}),
        query_of(client, "items", {"filter": {"externalId": PILATES}}),
        client.get(f"{BP}/items/{TEN_YOGA_ITEM}", headers=AUTH),
        eligibility(client, ANA_POOL, YOGA),
        client.post("/oauth2/token-info", json={"token": "nope"}),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        objects = _objects(response.json())
        assert all(EXTRA_FIELD in obj for obj in objects), response.text
    # envelope, balance, beneficiary, amount, poolInfo, its rollover config, metadata, cursors
    assert len(_objects(responses[0].json())) == 8
    balance_json = responses[0].json()["balances"][0]
    assert set(balance_json["beneficiary"]) == {"memberId", EXTRA_FIELD}
    assert set(balance_json["amount"]) == {"available", "reserved", EXTRA_FIELD}
    assert EXTRA_FIELD in responses[0].json()["metadata"]["cursors"]


# -- errors ---------------------------------------------------------------------------------------


def test_empty_error_descriptions(client: httpx.Client) -> None:
    quirks(client, emptyErrorDescriptions=True)
    missing = client.get(f"{BP}/balances/nope", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json() == {
        "message": "Balance not found",
        "details": {"applicationError": {"code": "NOT_FOUND", "description": "", "data": {}}},
    }
    invalid = query(client, {"cursorPaging": {"limit": 0}})
    violation = invalid.json()["details"]["validationError"]["fieldViolations"][0]
    assert (violation["field"], violation["description"]) == ("cursorPaging.limit", "")
    unauthenticated = query(client, {}, headers={"wix-site-id": SITE_ID})
    assert unauthenticated.json()["details"]["applicationError"]["description"] == ""


def test_empty_error_descriptions_empty_5xx_fault_bodies(client: httpx.Client) -> None:
    route = f"POST {BP}/items/query"
    for status in (503, 404):
        fault = {"route": route, "status": status, "body": '{"message":"boom"}'}
        client.post("/_emulator/faults", json=fault).raise_for_status()
    quirks(client, emptyErrorDescriptions=True)
    server_error = query_of(client, "items", {})
    assert (server_error.status_code, server_error.content) == (503, b"")
    client_error = query_of(client, "items", {})
    assert (client_error.status_code, client_error.json()) == (404, {"message": "boom"})
    assert client.get("/_emulator/calls").json()["calls"][route] == 2


# -- all at once ------------------------------------------------------------------------------


def test_every_quirk_at_once_still_pages_correctly(client: httpx.Client) -> None:
    quirks(
        client,
        amountStyle="padded",
        cursorStyle="absent",
        pageSize=1,
        extraFields=True,
        hasNext="false",
        nullMetadata=True,
        omitEmptyLists=True,
    )
    body = {"filter": {"beneficiary.memberId": {"$in": [ANA, EVE]}}, "cursorPaging": {"limit": 50}}
    pages = follow(client, "balances", body)
    assert [p["balances"][0]["id"] for p in pages] == [ANA_POOL, EVE_ACTIVE, EVE_ENDED]
    assert [p["balances"][0]["amount"]["available"] for p in pages] == [
        "3.0000",
        "2.5000",
        "4.0000",
    ]
    assert pages[-1]["metadata"] is None
