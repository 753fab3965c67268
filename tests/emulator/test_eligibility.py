"""CheckBenefitEligibility on the demo seed: result types, option shapes, validation, state."""

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
    EVE_ACTIVE,
    EVE_ENDED,
    FAY_POOL,
    FIVE_YOGA_SET,
    GUS_POOLS,
    PILATES,
    PRICING_PLANS,
    SITE_ID,
    TEN_YOGA_SET,
    YOGA,
    adjust,
    eligibility,
    field_of,
    result_types,
)

MISSING_POOL = "00000000-0000-0000-0000-000000000000"
YOGA_REF = {"externalId": YOGA, "category": "", "providerAppId": BOOKINGS}
PILATES_REF = {"externalId": PILATES, "category": "", "providerAppId": BOOKINGS}


@pytest.mark.parametrize(
    ("pool_id", "service", "expected"),
    [
        (ANA_POOL, YOGA, "ELIGIBLE_BENEFIT"),
        (ANA_POOL, PILATES, "ELIGIBLE_BENEFIT"),
        (BEN_POOL, YOGA, "NOT_ENOUGH_BALANCE"),
        (CLEO_POOL, YOGA, "POOL_NOT_ACTIVE"),
        (EVE_ACTIVE, PILATES, "ELIGIBLE_BENEFIT"),
        (EVE_ENDED, YOGA, "POOL_NOT_ACTIVE"),
        (FAY_POOL, YOGA, "ELIGIBLE_BENEFIT"),
        (FAY_POOL, PILATES, "BENEFIT_NOT_FOUND"),
        (GUS_POOLS[0], YOGA, "NOT_ENOUGH_BALANCE"),
        (GUS_POOLS[1], PILATES, "NOT_ENOUGH_BALANCE"),
        (ANA_POOL, "9f3c1d2e-0000-4000-8000-000000000000", "BENEFIT_NOT_FOUND"),
        (MISSING_POOL, YOGA, "POOL_NOT_FOUND"),
    ],
)
def test_demo_answers(client: httpx.Client, pool_id: str, service: str, expected: str) -> None:
    assert result_types(eligibility(client, pool_id, service)) == [expected]


def test_eligible_shape(client: httpx.Client) -> None:
    response = eligibility(client, EVE_ACTIVE, PILATES)
    assert response.json() == {
        "result": {
            "benefitResults": [
                {
                    "type": "ELIGIBLE_BENEFIT",
                    "eligibleBenefitOptions": {
                        "poolId": EVE_ACTIVE,
                        "benefitKey": "reformer",
                        "itemReference": PILATES_REF,
                        "price": "2",
                    },
                }
            ]
        }
    }


def test_not_enough_balance_shape_counts_and_pool_alone(client: httpx.Client) -> None:
    """``count`` multiplies the price; gus's two 0.5 pools are each judged alone."""
    response = eligibility(client, ANA_POOL, PILATES, count=2)
    assert response.json()["result"]["benefitResults"] == [
        {
            "type": "NOT_ENOUGH_BALANCE",
            "notEnoughBalanceOptions": {
                "poolId": ANA_POOL,
                "itemReference": PILATES_REF,
                "availableBalance": "3",
                "requestedBalance": "4",
            },
        }
    ]
    assert result_types(eligibility(client, ANA_POOL, YOGA, count=3)) == ["ELIGIBLE_BENEFIT"]
    gus = eligibility(client, GUS_POOLS[0], YOGA).json()["result"]["benefitResults"][0]
    options = gus["notEnoughBalanceOptions"]
    assert (options["availableBalance"], options["requestedBalance"]) == ("0.5", "1")


def test_other_result_shapes(client: httpx.Client) -> None:
    def only(response: httpx.Response) -> dict[str, Any]:
        results: list[dict[str, Any]] = response.json()["result"]["benefitResults"]
        assert len(results) == 1
        return results[0]

    assert only(eligibility(client, CLEO_POOL, YOGA)) == {
        "type": "POOL_NOT_ACTIVE",
        "poolNotActiveOptions": {"poolId": CLEO_POOL, "poolStatus": "PAUSED"},
    }
    assert only(eligibility(client, FAY_POOL, PILATES)) == {
        "type": "BENEFIT_NOT_FOUND",
        "benefitNotFoundOptions": {"poolId": FAY_POOL},
    }
    assert only(eligibility(client, ANA_POOL, YOGA, benefitKey="reformer")) == {
        "type": "BENEFIT_NOT_FOUND",
        "benefitNotFoundOptions": {"poolId": ANA_POOL, "benefitKey": "reformer"},
    }
    assert only(eligibility(client, MISSING_POOL, YOGA)) == {
        "type": "POOL_NOT_FOUND",
        "poolNotFoundOptions": {"poolId": MISSING_POOL},
    }


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"benefitKey": "group-classes"}, "ELIGIBLE_BENEFIT"),
        ({"namespace": "@acme/loyalty"}, "POOL_NOT_FOUND"),
        ({"beneficiary": {"memberId": ANA}}, "ELIGIBLE_BENEFIT"),
        ({"beneficiary": {"memberId": "someone-else"}}, "POOL_NOT_FOUND"),
        ({"beneficiary": {"wixUserId": ANA}}, "POOL_NOT_FOUND"),
        ({"itemReference": {**YOGA_REF, "providerAppId": "another-app"}}, "BENEFIT_NOT_FOUND"),
        ({"itemReference": {**YOGA_REF, "category": "workshops"}}, "BENEFIT_NOT_FOUND"),
        ({"itemReference": {"externalId": YOGA, "providerAppId": BOOKINGS}}, "ELIGIBLE_BENEFIT"),
        ({"targetDate": "2026-05-01T10:00:00Z", "additionalData": {"x": 1}}, "ELIGIBLE_BENEFIT"),
    ],
)
def test_request_options(client: httpx.Client, extra: dict[str, Any], expected: str) -> None:
    assert result_types(eligibility(client, ANA_POOL, YOGA, **extra)) == [expected]


def test_follows_the_state(client: httpx.Client) -> None:
    """Spending, pausing and an unknown new status change the answer at once."""
    adjust(client, ANA_POOL, "-2.5", "e-1").raise_for_status()
    assert result_types(eligibility(client, ANA_POOL, YOGA)) == ["NOT_ENOUGH_BALANCE"]
    patch = {"available": "1", "status": "SUSPENDED", "allowUnknown": True}
    client.patch(f"/_emulator/balances/{ANA_POOL}", json=patch).raise_for_status()
    result = eligibility(client, ANA_POOL, YOGA).json()["result"]["benefitResults"][0]
    assert result["poolNotActiveOptions"] == {"poolId": ANA_POOL, "poolStatus": "SUSPENDED"}


def test_one_result_per_covering_benefit(client: httpx.Client) -> None:
    """Two benefits covering yoga at different prices: one result each, in benefit order."""
    benefits = [
        {"benefitKey": "cheap", "itemSetId": TEN_YOGA_SET, "price": "1"},
        {"benefitKey": "dear", "itemSetId": FIVE_YOGA_SET, "price": "3"},
    ]
    created = client.post(
        "/_emulator/balances", json={"member": "dev", "available": "2", "benefits": benefits}
    )
    pool_id = created.json()["balance"]["id"]
    assert result_types(eligibility(client, pool_id, YOGA)) == [
        "ELIGIBLE_BENEFIT",
        "NOT_ENOUGH_BALANCE",
    ]
    assert result_types(eligibility(client, pool_id, YOGA, benefitKey="dear")) == [
        "NOT_ENOUGH_BALANCE"
    ]


def test_items_added_at_run_time_are_covered(client: httpx.Client) -> None:
    massage = "d23c81d7-3b49-549f-abb3-59079dddfb7a"
    assert result_types(eligibility(client, ANA_POOL, massage)) == ["BENEFIT_NOT_FOUND"]
    added = client.post("/_emulator/items", json={"service": massage, "itemSetId": TEN_YOGA_SET})
    assert added.status_code == 201, added.text
    assert result_types(eligibility(client, ANA_POOL, massage)) == ["ELIGIBLE_BENEFIT"]


BASE = {"poolId": ANA_POOL, "itemReference": YOGA_REF, "namespace": PRICING_PLANS}
DROP = object()


def body_with(**changes: Any) -> dict[str, Any]:
    """The base request with ``changes`` applied; a value of DROP removes the key."""
    body = {**BASE, **changes}
    return {key: value for key, value in body.items() if value is not DROP}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (body_with(poolId=DROP), "poolId"),
        (body_with(poolId=""), "poolId"),
        (body_with(namespace=DROP), "namespace"),
        (body_with(namespace="x" * 21), "namespace"),
        (body_with(itemReference=DROP), "itemReference"),
        (body_with(itemReference={"externalId": YOGA}), "itemReference.providerAppId"),
        (body_with(itemReference={**YOGA_REF, "externalId": 7}), "itemReference.externalId"),
        (body_with(itemReference={**YOGA_REF, "category": 1}), "itemReference.category"),
        (body_with(count=0), "count"),
        (body_with(count=True), "count"),
        (body_with(count="1"), "count"),
        (body_with(benefitKey=3), "benefitKey"),
        (body_with(beneficiary="ana"), "beneficiary"),
    ],
)
def test_validation(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = client.post(f"{BP}/pools/check-eligibility", json=body, headers=AUTH)
    assert field_of(response) == field


def test_needs_the_api_key(client: httpx.Client) -> None:
    headers = {"Authorization": "member-token", "wix-site-id": SITE_ID}
    response = client.post(f"{BP}/pools/check-eligibility", json=BASE, headers=headers)
    assert response.status_code == 403
    assert response.json()["message"] == "Insufficient permission: BENEFIT_PROGRAMS.POOL_REDEEM"
