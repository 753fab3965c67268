"""Items (query and get), the pool filters a credit-per-service client sends, and GetPool."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.emulator.support import (
    ANA,
    ANA_POOL,
    AUTH,
    BEN_POOL,
    BOOKINGS,
    BP,
    CLEO_POOL,
    EVE,
    EVE_ACTIVE,
    EVE_ENDED,
    FAY,
    FAY_POOL,
    FIVE_PILATES_SET,
    FIVE_YOGA_SET,
    GUS,
    GUS_POOLS,
    NO_CURSORS,
    PILATES,
    PRICING_PLANS,
    SITE_ID,
    TEN_PILATES_SET,
    TEN_YOGA_ITEM,
    TEN_YOGA_SET,
    YOGA,
    YOGA_ONLY_SET,
    field_of,
    follow,
    query_of,
)

TEN_YOGA = {
    "id": TEN_YOGA_ITEM,
    "revision": "1",
    "createdDate": "2026-01-01T09:00:00.000Z",
    "updatedDate": "2026-01-01T09:00:00.000Z",
    "externalId": YOGA,
    "category": "",
    "itemSetId": TEN_YOGA_SET,
    "displayName": "Morning Yoga",
    "providerAppId": BOOKINGS,
    "namespace": PRICING_PLANS,
}


def ids(client: httpx.Client, collection: str, filter_: dict[str, Any]) -> list[str]:
    response = query_of(client, collection, {"filter": filter_, "cursorPaging": {"limit": 100}})
    assert response.status_code == 200, response.text
    return [record["id"] for record in response.json()[collection]]


def item_sets(client: httpx.Client, filter_: dict[str, Any]) -> list[str]:
    response = query_of(client, "items", {"filter": filter_})
    assert response.status_code == 200, response.text
    return [item["itemSetId"] for item in response.json()["items"]]


# -- items ----------------------------------------------------------------------------------------


def test_items_query_as_the_gate_sends_it(client: httpx.Client) -> None:
    """The gate's exact request finds every item set holding the service, in the REST shape."""
    body = {
        "filter": {"externalId": {"$eq": YOGA}, "providerAppId": {"$eq": BOOKINGS}},
        "cursorPaging": {"limit": 100},
    }
    response = query_of(client, "items", body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["items"][0] == TEN_YOGA
    assert [i["itemSetId"] for i in result["items"]] == [TEN_YOGA_SET, FIVE_YOGA_SET, YOGA_ONLY_SET]
    assert result["metadata"] == {"count": 3, "cursors": NO_CURSORS, "hasNext": False}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"externalId": {"$in": [YOGA, PILATES]}}, 5),
        ({"externalId": PILATES}, 2),
        ({"externalId": {"$in": ["00000000-0000-0000-0000-000000000000"]}}, 0),
        ({"itemSetId": {"$eq": YOGA_ONLY_SET}}, 1),
        ({"itemSetId": {"$in": [TEN_YOGA_SET, TEN_PILATES_SET]}}, 2),
        ({"providerAppId": {"$eq": "215238eb-22a5-4c36-9e7b-e7c08025e04e"}}, 0),
        ({"externalId": YOGA, "providerAppId": {"$ne": BOOKINGS}}, 0),
        ({"category": ""}, 5),
        ({"namespace": {"$eq": PRICING_PLANS}}, 5),
        ({"$or": [{"itemSetId": YOGA_ONLY_SET}, {"externalId": PILATES}]}, 3),
    ],
)
def test_items_filters(client: httpx.Client, filter_: dict[str, Any], expected: int) -> None:
    assert len(item_sets(client, filter_)) == expected


@pytest.mark.parametrize(
    ("filter_", "field"),
    [
        ({"service": YOGA}, "query.filter.service"),
        ({"externalId": {"$hasSome": [YOGA]}}, "query.filter.externalId"),
        ({"externalId": {"$in": YOGA}}, "query.filter.externalId"),
        ({"externalId": {}}, "query.filter.externalId"),
    ],
)
def test_items_filter_errors(client: httpx.Client, filter_: dict[str, Any], field: str) -> None:
    assert field_of(query_of(client, "items", {"filter": filter_})) == field


def test_items_paging_follows_cursors(client: httpx.Client) -> None:
    first = query_of(client, "items", {"cursorPaging": {"limit": 2}}).json()
    assert (first["metadata"]["count"], first["metadata"]["hasNext"]) == (2, True)
    pages = follow(client, "items", {"cursorPaging": {"limit": 2}})
    assert [p["metadata"]["count"] for p in pages] == [2, 2, 1]
    assert len({i["id"] for p in pages for i in p["items"]}) == 5
    # A cursor of one collection is no cursor for another.
    cursor = first["metadata"]["cursors"]["next"]
    assert field_of(query_of(client, "pools", {"cursorPaging": {"cursor": cursor}})) == (
        "cursorPaging.cursor"
    )


def test_items_sort(client: httpx.Client) -> None:
    body = {"filter": {"externalId": YOGA}, "sort": [{"fieldName": "id", "order": "DESC"}]}
    listed = [i["id"] for i in query_of(client, "items", body).json()["items"]]
    assert listed == sorted(listed, reverse=True)


def test_get_item_and_unknown_item(client: httpx.Client) -> None:
    response = client.get(f"{BP}/items/{TEN_YOGA_ITEM}?itemId={TEN_YOGA_ITEM}", headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"item": TEN_YOGA}
    missing = client.get(f"{BP}/items/00000000-0000-0000-0000-000000000000", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json() == {
        "message": "Item not found",
        "details": {
            "applicationError": {"code": "NOT_FOUND", "description": "Item not found", "data": {}}
        },
    }


def test_items_need_the_api_key(client: httpx.Client) -> None:
    no_key = query_of(client, "items", {}, headers={"wix-site-id": SITE_ID})
    assert no_key.status_code == 401
    for response in (
        query_of(client, "items", {}, headers={"Authorization": "nope", "wix-site-id": SITE_ID}),
        client.get(f"{BP}/items/{TEN_YOGA_ITEM}", headers={"Authorization": "nope"}),
    ):
        assert response.status_code == 403
        assert response.json()["message"] == "Insufficient permission: BENEFIT_PROGRAMS.ITEM_READ"


# -- pools and balances: the filters a client sends -------------------------------------------


def test_pools_query_as_the_gate_sends_it(client: httpx.Client) -> None:
    """memberId + namespace, limit 100: every pool of the member, whatever its status."""
    filter_ = {"beneficiary.memberId": {"$eq": EVE}, "namespace": {"$eq": PRICING_PLANS}}
    assert ids(client, "pools", filter_) == [EVE_ACTIVE, EVE_ENDED]


@pytest.mark.parametrize("collection", ["pools", "balances"])
def test_member_in_filter(client: httpx.Client, collection: str) -> None:
    found = ids(client, collection, {"beneficiary.memberId": {"$in": [ANA, GUS, FAY]}})
    assert found == [ANA_POOL, FAY_POOL, *GUS_POOLS]
    assert ids(client, collection, {"beneficiary.memberId": {"$in": []}}) == []
    none = ids(client, collection, {"beneficiary.wixUserId": {"$exists": True}})
    assert none == []


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"details.benefits.itemSetId": {"$hasSome": [YOGA_ONLY_SET]}}, [FAY_POOL]),
        (
            {"details.benefits.itemSetId": {"$hasSome": [TEN_PILATES_SET, YOGA_ONLY_SET]}},
            [ANA_POOL, CLEO_POOL, EVE_ENDED, FAY_POOL],
        ),
        (
            {"details.benefits.itemSetId": {"$hasAll": [FIVE_YOGA_SET, FIVE_PILATES_SET]}},
            [BEN_POOL, EVE_ACTIVE, *GUS_POOLS],
        ),
        ({"details.benefits.itemSetId": {"$hasAll": [FIVE_YOGA_SET, TEN_YOGA_SET]}}, []),
        ({"details.benefits.providerAppId": {"$hasSome": ["another-app"]}}, []),
        (
            {
                "status": {"$in": ["PAUSED", "ENDED"]},
                "details.benefits.providerAppId": {"$hasSome": [BOOKINGS]},
            },
            [CLEO_POOL, EVE_ENDED],
        ),
        ({"status": {"$nin": ["ACTIVE"]}, "beneficiary.memberId": EVE}, [EVE_ENDED]),
    ],
)
def test_pool_benefit_filters(
    client: httpx.Client, filter_: dict[str, Any], expected: list[str]
) -> None:
    assert ids(client, "pools", filter_) == expected


@pytest.mark.parametrize(
    "filter_",
    [
        {"details.benefits.itemSetId": {"$eq": TEN_YOGA_SET}},
        {"details.benefits.itemSetId": TEN_YOGA_SET},
        {"details.benefits.itemSetId": {"$hasSome": TEN_YOGA_SET}},
        {"status": {"$hasSome": ["ACTIVE"]}},
        {"details.benefits.price": {"$eq": "1"}},
    ],
)
def test_pool_filter_errors(client: httpx.Client, filter_: dict[str, Any]) -> None:
    name = next(iter(filter_))
    assert field_of(query_of(client, "pools", {"filter": filter_})) == f"query.filter.{name}"


def test_balances_refuse_pool_only_filters(client: httpx.Client) -> None:
    """QueryBalances cannot filter by status or namespace (reference §1): a 400, not a no-op."""
    for name in ("status", "namespace", "details.benefits.itemSetId"):
        response = query_of(client, "balances", {"filter": {name: {"$exists": True}}})
        assert field_of(response) == f"query.filter.{name}"


def test_get_pool(client: httpx.Client) -> None:
    response = client.get(f"{BP}/pools/{FAY_POOL}", headers=AUTH)
    assert response.status_code == 200, response.text
    pool = response.json()["pool"]
    assert (pool["id"], pool["status"]) == (FAY_POOL, "ACTIVE")
    assert pool["displayName"] == "Yoga-only pack"
    assert pool["beneficiary"] == {"memberId": FAY}
    assert pool["details"]["benefits"] == [
        {
            "benefitKey": "yoga",
            "itemSetId": YOGA_ONLY_SET,
            "price": "1",
            "providerAppId": BOOKINGS,
            "displayName": "Yoga class",
        }
    ]
    missing = client.get(f"{BP}/pools/00000000-0000-0000-0000-000000000000", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["message"] == "Pool not found"
    forbidden = client.get(f"{BP}/pools/{FAY_POOL}", headers={"Authorization": "x"})
    assert forbidden.json()["message"] == "Insufficient permission: BENEFIT_PROGRAMS.POOL_READ"


def test_pool_without_benefits_gets_the_seed_defaults(client: httpx.Client) -> None:
    """A pool minted by a test without benefits covers the demo services like a class pack."""
    created = client.post("/_emulator/balances", json={"member": "dev", "available": "2"})
    assert created.status_code == 201, created.text
    pool_id = created.json()["balance"]["id"]
    pool = client.get(f"{BP}/pools/{pool_id}", headers=AUTH).json()["pool"]
    benefits = [(b["itemSetId"], b["price"]) for b in pool["details"]["benefits"]]
    assert benefits == [(TEN_YOGA_SET, "1"), (TEN_PILATES_SET, "2")]
    explicit = {"member": "dev", "benefits": [{"itemSetId": YOGA_ONLY_SET, "price": "3"}]}
    pool_id = client.post("/_emulator/balances", json=explicit).json()["balance"]["id"]
    pool = client.get(f"{BP}/pools/{pool_id}", headers=AUTH).json()["pool"]
    assert [(b["itemSetId"], b["price"]) for b in pool["details"]["benefits"]] == [
        (YOGA_ONLY_SET, "3")
    ]
