"""The demo and scenario seeds say what they mean, and bad seeds are refused by field.

Each seed's header comment has a table of who can book what. These tests read that table and
ask the emulator's own check-eligibility, pool by pool, so the comment can never drift from the
data a client is tested against.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate.tooling.emulator import (
    DEMO_SEED_PATH,
    SCENARIO_SEED_PATH,
    EmulatorSeed,
    SeedError,
    create_emulator,
    load_seed,
)
from gate.tooling.testing import run_server
from tests.emulator.support import API_KEY, PILATES, SITE_ID, YOGA, eligibility, query_of

MASSAGE = "d23c81d7-3b49-549f-abb3-59079dddfb7a"
UNKNOWN = "6b1f7c3e-0d4a-4e55-9a8b-2c1d0e9f8a7b"


@pytest.fixture(scope="module")
def scenario() -> Iterator[httpx.Client]:
    app = create_emulator(load_seed(SCENARIO_SEED_PATH), api_key=API_KEY, site_id=SITE_ID)
    with run_server(app) as url, httpx.Client(base_url=url, trust_env=False) as http:
        yield http


def header_table(path: Path) -> dict[str, tuple[bool, bool]]:
    """The header's rows: member name -> (can book yoga, can book pilates)."""
    names = {member.name for member in load_seed(path).members}
    table: dict[str, tuple[bool, bool]] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#   "):
            continue
        cells = re.split(r"\s{2,}", line[4:].strip())
        if cells[0] in names and len(cells) == 4:
            table[cells[0]] = (cells[2].startswith("yes"), cells[3].startswith("yes"))
    assert set(table) == names, f"{path.name}: header rows {sorted(table)} != {sorted(names)}"
    return table


def results(client: httpx.Client, member_id: str, service: str) -> list[dict[str, Any]]:
    """check-eligibility for every pool of the member, in any namespace."""
    body = {"filter": {"beneficiary.memberId": member_id}, "cursorPaging": {"limit": 100}}
    pools = query_of(client, "pools", body).json()["pools"]
    found: list[dict[str, Any]] = []
    for pool in pools:
        response = eligibility(client, pool["id"], service)
        assert response.status_code == 200, response.text
        found += response.json()["result"]["benefitResults"]
    return found


def can_book(client: httpx.Client, member_id: str, service: str) -> bool:
    return any(r["type"] == "ELIGIBLE_BENEFIT" for r in results(client, member_id, service))


@pytest.mark.parametrize("path", [DEMO_SEED_PATH, SCENARIO_SEED_PATH], ids=["demo", "scenario"])
def test_header_tables_match_the_data(path: Path) -> None:
    seed = load_seed(path)
    app = create_emulator(seed, api_key=API_KEY, site_id=SITE_ID)
    with run_server(app) as url, httpx.Client(base_url=url, trust_env=False) as http:
        answers = {
            member.name: (can_book(http, member.id, YOGA), can_book(http, member.id, PILATES))
            for member in seed.members
        }
    assert answers == header_table(path)


def test_scenario_members_and_visitor() -> None:
    seed = load_seed(SCENARIO_SEED_PATH)
    assert [m.name for m in seed.members] == [
        "one_pool", "zero", "split", "yoga_only", "mixed_1", "mixed_2", "negative",
        "yoga0_all1", "ended", "paused", "renewing", "foreign", "provisioning", "pending",
    ]  # fmt: skip
    assert len(seed.visitors) == 1
    assert not [b for b in seed.balances if b.member == seed.visitors[0].id]


def test_scenario_tokens_are_fixed(scenario: httpx.Client) -> None:
    seed = load_seed(SCENARIO_SEED_PATH)
    for member in seed.members:
        info = scenario.post("/oauth2/token-info", json={"token": f"scenario-{member.name}"})
        assert (info.json()["subjectType"], info.json()["subjectId"]) == ("MEMBER", member.id)
    visitor = scenario.post("/oauth2/token-info", json={"token": "scenario-visitor"}).json()
    assert (visitor["subjectType"], visitor["subjectId"]) == ("VISITOR", seed.visitors[0].id)


@pytest.mark.parametrize(
    ("name", "service", "expected"),
    [
        ("one_pool", MASSAGE, ["BENEFIT_NOT_FOUND"]),
        ("one_pool", UNKNOWN, ["BENEFIT_NOT_FOUND"]),
        ("split", YOGA, ["NOT_ENOUGH_BALANCE", "NOT_ENOUGH_BALANCE"]),
        ("yoga_only", PILATES, ["BENEFIT_NOT_FOUND"]),
        ("mixed_1", PILATES, ["NOT_ENOUGH_BALANCE"]),
        ("negative", YOGA, ["NOT_ENOUGH_BALANCE", "ELIGIBLE_BENEFIT"]),
        ("yoga0_all1", YOGA, ["NOT_ENOUGH_BALANCE", "ELIGIBLE_BENEFIT"]),
        ("yoga0_all1", PILATES, ["BENEFIT_NOT_FOUND", "NOT_ENOUGH_BALANCE"]),
        ("ended", YOGA, ["POOL_NOT_ACTIVE"]),
        ("renewing", YOGA, ["POOL_NOT_ACTIVE"]),
        ("provisioning", PILATES, ["POOL_NOT_ACTIVE"]),
        ("pending", PILATES, ["POOL_NOT_ACTIVE"]),
        ("foreign", YOGA, ["POOL_NOT_FOUND"]),
    ],
)
def test_scenario_result_types(
    scenario: httpx.Client, name: str, service: str, expected: list[str]
) -> None:
    member = load_seed(SCENARIO_SEED_PATH).find_member(name)
    assert member is not None
    assert [r["type"] for r in results(scenario, member.id, service)] == expected


def test_scenario_services_nobody_can_book(scenario: httpx.Client) -> None:
    seed = load_seed(SCENARIO_SEED_PATH)
    for member in seed.members:
        assert not can_book(scenario, member.id, MASSAGE), member.name
        assert not can_book(scenario, member.id, UNKNOWN), member.name
    items = query_of(scenario, "items", {"filter": {"externalId": MASSAGE}}).json()["items"]
    assert len(items) == 1  # known: it has an item, in a set no pool's benefit names
    assert query_of(scenario, "items", {"filter": {"externalId": UNKNOWN}}).json()["items"] == []


def test_scenario_negative_and_foreign_pools_as_the_gate_sees_them(
    scenario: httpx.Client,
) -> None:
    seed = load_seed(SCENARIO_SEED_PATH)
    negative, foreign = seed.find_member("negative"), seed.find_member("foreign")
    assert negative is not None and foreign is not None
    body = {"query": {"filter": {"beneficiary.memberId": {"$eq": negative.id}}}}
    balances = scenario.post(
        "/benefit-programs/v1/balances/query", json=body,
        headers={"Authorization": API_KEY, "wix-site-id": SITE_ID},
    ).json()["balances"]
    assert [b["amount"]["available"] for b in balances] == ["-1", "1"]
    gate_filter = {
        "beneficiary.memberId": {"$eq": foreign.id},
        "namespace": {"$eq": "@wix/pricing-plans"},
    }
    assert query_of(scenario, "pools", {"filter": gate_filter}).json()["pools"] == []
    pools = query_of(scenario, "pools", {"filter": {"beneficiary.memberId": foreign.id}})
    assert [p["namespace"] for p in pools.json()["pools"]] == ["@acme/loyalty"]


# -- seed validation ------------------------------------------------------------------------------

MEMBER = {"name": "a", "id": "m-1", "email": "e"}
ITEM = {"service": "svc-1", "itemSetId": "set-1"}


def pool_with(**fields: Any) -> dict[str, Any]:
    return {"id": "p-1", "member": "a", "createdDate": "2026-01-01T00:00:00Z", **fields}


@pytest.mark.parametrize(
    ("seed", "fragment"),
    [
        (
            {"members": [MEMBER], "items": [ITEM],
             "balances": [pool_with(benefits=[{"itemSetId": "set-typo"}])]},
            "balances.0.benefits.0.itemSetId: no item is in item set 'set-typo'",
        ),
        (
            {"items": [ITEM], "defaultBenefits": [{"itemSetId": "set-2"}]},
            "defaultBenefits.0.itemSetId",
        ),
        ({"items": [{**ITEM, "id": "a"}, {**ITEM, "id": "b"}]}, "items[] (itemSetId"),
        ({"items": [{**ITEM, "id": "i"}, {**ITEM, "service": "svc-2", "id": "i"}]}, "items[].id"),
        ({"items": [{"service": "svc-1"}]}, "items.0.itemSetId"),
        ({"items": [{**ITEM, "service": ""}]}, "items.0.service"),
        (
            {"members": [MEMBER],
             "balances": [pool_with(benefits=[{"benefitKey": "k"}, {"benefitKey": "k"}])]},
            "benefits[].benefitKey: duplicate value 'k'",
        ),
        ({"members": [MEMBER], "balances": [pool_with(reserved="-1")]}, "balances.0.reserved"),
        ({"members": [MEMBER], "balances": [pool_with(available="-1.23456")]}, "available"),
        ({"defaultBenefits": []}, "defaultBenefits"),
    ],
)
def test_bad_seeds_name_the_field(tmp_path: Path, seed: dict[str, Any], fragment: str) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    with pytest.raises(SeedError, match=re.escape(fragment)):
        load_seed(path)


def test_seed_defaults_and_back_compat() -> None:
    # No items at all: benefit item sets are not checked (seeds from before items still load).
    old = EmulatorSeed.model_validate(
        {"members": [MEMBER], "balances": [pool_with(benefits=[{"itemSetId": "anything"}])]}
    )
    assert old.balances[0].benefits[0].itemSetId == "anything"
    seed = EmulatorSeed.model_validate(
        {"members": [MEMBER], "items": [ITEM], "balances": [pool_with(available="-1")]}
    )
    item = seed.items[0]
    assert (item.providerAppId, item.category, item.namespace) == (
        "13d21c63-b5ec-5912-8397-c3a5ddb27a97", "", "@wix/pricing-plans",
    )  # fmt: skip
    assert item.id == EmulatorSeed.model_validate({"items": [ITEM]}).items[0].id
    other = EmulatorSeed.model_validate({"items": [{**ITEM, "service": "svc-2"}]}).items[0]
    assert other.id != item.id
    assert seed.balances[0].available == "-1"  # kept verbatim, sign and all
