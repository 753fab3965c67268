"""The Wix emulator over real HTTP on 127.0.0.1: shapes, auth, paging, changes, admin controls."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate.tooling.emulator import (
    DEMO_SEED_PATH,
    EmulatorSeed,
    SeedError,
    create_emulator,
    load_seed,
)
from gate.tooling.testing import run_server
from tests.emulator.support import (
    ANA,
    ANA_POOL,
    API_KEY,
    AUTH,
    BEN_POOL,
    BP,
    DEV,
    EVE,
    EVE_ACTIVE,
    EVE_ENDED,
    FIVE_PILATES_SET,
    FIVE_YOGA_SET,
    NO_CURSORS,
    SITE_ID,
    VISITOR,
    adjust,
    change,
    field_of,
    mint,
    query,
)

FORBIDDEN = {
    "message": "Insufficient permission: BENEFIT_PROGRAMS.BALANCE_READ",
    "details": {"applicationError": {"code": "PERMISSION_DENIED", "description": "", "data": {}}},
}
UNAUTHENTICATED = {
    "message": "Unauthorized",
    "details": {
        "applicationError": {"code": "UNAUTHENTICATED", "description": "Unauthorized", "data": {}}
    },
}


# -- auth -----------------------------------------------------------------------------------------


def test_missing_authorization_is_401(client: httpx.Client) -> None:
    response = query(client, {}, headers={"wix-site-id": SITE_ID})
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "wrong-key", "wix-site-id": SITE_ID},
        {"Authorization": API_KEY},
        {"Authorization": API_KEY, "wix-site-id": "other-site"},
        {"Authorization": f"Bearer {API_KEY}", "wix-site-id": SITE_ID},
    ],
)
def test_bad_key_or_site_is_403(client: httpx.Client, headers: dict[str, str]) -> None:
    for response in (
        query(client, {}, headers=headers),
        client.get(f"{BP}/balances/{ANA_POOL}", headers=headers),
    ):
        assert response.status_code == 403
        assert response.json() == FORBIDDEN
        assert API_KEY not in response.text


def test_member_and_visitor_tokens_are_403_on_balances(client: httpx.Client) -> None:
    for token in (mint(client, member="ana"), mint(client, visitor=True)):
        response = query(client, {}, headers={"Authorization": token, "wix-site-id": SITE_ID})
        assert response.status_code == 403
        assert response.json() == FORBIDDEN


# -- QueryBalances ----------------------------------------------------------------------------


def test_query_by_member_returns_the_reference_shape(client: httpx.Client) -> None:
    response = query(client, {"filter": {"beneficiary.memberId": {"$eq": ANA}}})
    assert response.status_code == 200
    body = response.json()
    assert body["metadata"] == {"count": 1, "cursors": NO_CURSORS, "hasNext": False}
    assert body["balances"] == [
        {
            "id": ANA_POOL,
            "revision": "8",
            "createdDate": "2026-01-05T10:00:00.000Z",
            "updatedDate": "2026-01-05T10:00:00.000Z",
            "beneficiary": {"memberId": ANA},
            "amount": {"available": "3", "reserved": "0"},
            "poolInfo": {
                "id": ANA_POOL,
                "poolDefinitionId": "7916340d-7200-52fb-afa4-8c0440fd7bf8",
                "programDefinitionId": "cca763b0-2532-501f-8f6c-fa93f25c1b14",
                "programId": "5992e8a5-f1d4-51f2-8c48-6c3232d4b85b",
                "creditAmount": "10",
                "namespace": "@wix/pricing-plans",
                "externalProgramDefinitionId": "ed64e144-226a-585b-ab06-d55290bc3e4e",
                "externalProgramId": "48b818c5-25e4-5516-934a-a8beaf6f966e",
                "creditRolloverConfiguration": {"enabled": False},
                "status": "ACTIVE",
            },
        }
    ]


def test_query_filter_forms_and_sort(client: httpx.Client) -> None:
    def ids(body: dict[str, Any]) -> list[str]:
        response = query(client, body)
        assert response.status_code == 200, response.text
        return [b["id"] for b in response.json()["balances"]]

    assert ids({"filter": {"beneficiary.memberId": EVE}}) == [EVE_ACTIVE, EVE_ENDED]
    assert ids({"filter": {"beneficiary.memberId": DEV}}) == []
    both = {"$and": [{"beneficiary.memberId": EVE}, {"id": {"$in": [EVE_ENDED, ANA_POOL]}}]}
    assert ids({"filter": both}) == [EVE_ENDED]
    assert len(ids({})) == len(ids({"filter": {}})) == 8
    by_date = {"filter": {"beneficiary.memberId": EVE}, "sort": [{"fieldName": "createdDate"}]}
    assert ids(by_date) == [EVE_ENDED, EVE_ACTIVE]
    by_date["sort"] = [{"fieldName": "createdDate", "order": "DESC"}]
    assert ids(by_date) == [EVE_ACTIVE, EVE_ENDED]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filter": {"poolInfo.status": "ACTIVE"}}, "query.filter.poolInfo.status"),
        ({"filter": {"id": {"$regex": "x"}}}, "query.filter.id"),
        ({"cursorPaging": {"limit": 101}}, "cursorPaging.limit"),
        ({"cursorPaging": {"limit": 0}}, "cursorPaging.limit"),
        ({"cursorPaging": {"cursor": "not-a-cursor"}}, "cursorPaging.cursor"),
        ({"sort": [{"fieldName": "amount"}]}, "query.sort"),
    ],
)
def test_query_validation_errors(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert field_of(query(client, body)) == field


def test_pagination_across_three_pages_with_cursor_only_follow_ups(client: httpx.Client) -> None:
    created = []
    for n in range(5):
        response = client.post("/_emulator/balances", json={"member": "dev", "available": str(n)})
        assert response.status_code == 201, response.text
        created.append(response.json()["balance"]["id"])
    first = query(client, {"filter": {"beneficiary.memberId": DEV}, "cursorPaging": {"limit": 2}})
    pages, body = [first.json()], first.json()
    while body["metadata"]["hasNext"]:
        # Per the reference, follow-ups drop filter and sort: the cursor carries them.
        paging = {"cursorPaging": {"limit": 2, "cursor": body["metadata"]["cursors"]["next"]}}
        body = query(client, paging).json()
        pages.append(body)
    assert [p["metadata"]["count"] for p in pages] == [2, 2, 1]
    assert [b["id"] for p in pages for b in p["balances"]] == created
    assert pages[-1]["metadata"]["cursors"] == NO_CURSORS


def test_query_default_limit_is_50(client: httpx.Client) -> None:
    for _ in range(50):
        client.post("/_emulator/balances", json={"member": "dev"}).raise_for_status()
    body = query(client, {}).json()
    assert body["metadata"]["count"] == 50
    assert body["metadata"]["hasNext"] is True


# -- GetBalance / ListBalances ------------------------------------------------------------------


def test_get_balance_and_unknown_pool(client: httpx.Client) -> None:
    response = client.get(f"{BP}/balances/{EVE_ACTIVE}?poolId={EVE_ACTIVE}&x=1", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["balance"]["amount"] == {"available": "2.5", "reserved": "0"}
    missing = client.get(f"{BP}/balances/00000000-0000-0000-0000-000000000000", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json() == {
        "message": "Balance not found",
        "details": {
            "applicationError": {
                "code": "NOT_FOUND",
                "description": "Balance not found",
                "data": {},
            }
        },
    }


def test_list_balances_by_pool_ids_with_paging(client: httpx.Client) -> None:
    url = f"{BP}/balances?poolIds={ANA_POOL}&poolIds={EVE_ENDED}&poolIds={BEN_POOL}"
    first = client.get(f"{url}&cursorPaging.limit=2", headers=AUTH).json()
    assert [b["id"] for b in first["balances"]] == [ANA_POOL, BEN_POOL]
    assert first["metadata"]["hasNext"] is True
    cursor = first["metadata"]["cursors"]["next"]
    second = client.get(f"{BP}/balances", params={"cursorPaging.cursor": cursor}, headers=AUTH)
    assert [b["id"] for b in second.json()["balances"]] == [EVE_ENDED]
    too_big = client.get(f"{BP}/balances?cursorPaging.limit=101", headers=AUTH)
    assert field_of(too_big) == "cursorPaging.limit"


# -- ChangeBalance ----------------------------------------------------------------------------


def test_adjust_uses_decimal_and_bumps_revision(client: httpx.Client) -> None:
    response = adjust(client, EVE_ACTIVE, "-1", "k-1")
    assert response.status_code == 200, response.text
    body = response.json()
    balance = body["balance"]
    assert balance["amount"]["available"] == "1.5"
    assert balance["revision"] == "4"
    assert balance["lastTransactionId"] == body["transactionId"]
    assert balance["updatedDate"] != balance["createdDate"]
    again = client.get(f"{BP}/balances/{EVE_ACTIVE}", headers=AUTH).json()["balance"]
    assert again == balance
    assert adjust(client, EVE_ACTIVE, "-1.5", "k-2").json()["balance"]["amount"]["available"] == "0"
    assert adjust(client, EVE_ACTIVE, "0.0001", "k-3").json()["balance"]["amount"] == {
        "available": "0.0001",
        "reserved": "0",
    }


def test_set_replaces_available(client: httpx.Client) -> None:
    response = change(client, ANA_POOL, idempotencyKey="s-1", type="SET", setOptions={"value": "5"})
    assert response.json()["balance"]["amount"]["available"] == "5"


def test_repeated_idempotency_key_does_not_double_spend(client: httpx.Client) -> None:
    first = adjust(client, ANA_POOL, "-1", "same-key").json()
    second = adjust(client, ANA_POOL, "-1", "same-key").json()
    assert second == first
    balance = client.get(f"{BP}/balances/{ANA_POOL}", headers=AUTH).json()["balance"]
    assert balance["amount"]["available"] == "2"
    assert balance["revision"] == "9"


def test_going_negative_is_428(client: httpx.Client) -> None:
    response = adjust(client, BEN_POOL, "-1", "neg-1")
    assert response.status_code == 428
    error = response.json()["details"]["applicationError"]
    assert error["code"] == "BALANCE_EXCEEDED_LIMITS"
    assert error["data"]["balance"] == {"available": "0", "reserved": "0"}
    balance = client.get(f"{BP}/balances/{BEN_POOL}", headers=AUTH).json()["balance"]
    assert balance["revision"] == "6"


def test_concurrent_spends_never_overdraw(client: httpx.Client) -> None:
    def spend(n: int) -> int:
        with httpx.Client(base_url=str(client.base_url), trust_env=False) as http:
            return adjust(http, ANA_POOL, "-1", f"par-{n}").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(spend, range(8)))
    assert statuses == [200] * 3 + [428] * 5
    balance = client.get(f"{BP}/balances/{ANA_POOL}", headers=AUTH).json()["balance"]
    assert (balance["amount"]["available"], balance["revision"]) == ("0", "11")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "ADJUST", "adjustOptions": {"value": "-1"}}, "idempotencyKey"),
        (
            {"idempotencyKey": "", "type": "ADJUST", "adjustOptions": {"value": "-1"}},
            "idempotencyKey",
        ),
        (
            {"idempotencyKey": "v", "type": "ADJUST", "adjustOptions": {"value": "1e2"}},
            "adjustOptions.value",
        ),
        (
            {"idempotencyKey": "v", "type": "ADJUST", "adjustOptions": {"value": "0.12345"}},
            "adjustOptions.value",
        ),
        (
            {"idempotencyKey": "v", "type": "ADJUST", "adjustOptions": {"value": 1}},
            "adjustOptions.value",
        ),
        ({"idempotencyKey": "v", "type": "SET", "setOptions": {}}, "setOptions.value"),
        ({"idempotencyKey": "v", "type": "UNKNOWN_OPERATION"}, "type"),
    ],
)
def test_change_validation(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert field_of(change(client, ANA_POOL, **body)) == field


# -- QueryPools ---------------------------------------------------------------------------------


def test_query_pools_filters_and_shape(client: httpx.Client) -> None:
    wanted = {"beneficiary.memberId": {"$eq": EVE}, "namespace": {"$eq": "@wix/pricing-plans"}}
    wanted["status"] = {"$eq": "ACTIVE"}
    response = client.post(f"{BP}/pools/query", json={"query": {"filter": wanted}}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["metadata"]["count"] == 1
    pool = body["pools"][0]
    assert pool["id"] == EVE_ACTIVE
    assert pool["status"] == "ACTIVE"
    assert pool["beneficiary"] == {"memberId": EVE}
    assert pool["displayName"] == "5-class pack"
    assert pool["program"]["externalId"] == "449240d9-77e0-571e-a66e-7e622dd448c9"
    assert pool["details"]["creditConfiguration"]["amount"] == "5"
    assert pool["details"]["benefits"] == [
        {
            "benefitKey": "group-classes",
            "itemSetId": FIVE_YOGA_SET,
            "price": "1",
            "providerAppId": "13d21c63-b5ec-5912-8397-c3a5ddb27a97",
            "displayName": "Group class",
        },
        {
            "benefitKey": "reformer",
            "itemSetId": FIVE_PILATES_SET,
            "price": "2",
            "providerAppId": "13d21c63-b5ec-5912-8397-c3a5ddb27a97",
            "displayName": "Reformer class",
        },
    ]
    assert "amount" not in pool  # pools carry no balance


# -- token-info and members/my --------------------------------------------------------------------


def test_token_info(client: httpx.Client) -> None:
    def info(token: Any) -> httpx.Response:
        return client.post("/oauth2/token-info", json={"token": token})

    member = info(mint(client, member="ana")).json()
    assert member["active"] is True
    assert (member["subjectType"], member["subjectId"]) == ("MEMBER", ANA)
    assert member["siteId"] == SITE_ID
    assert member["exp"] - member["iat"] == 14400
    assert member["clientId"] == "emulator-client"
    assert member["instanceId"] == "emulator-instance"
    visitor = info(mint(client, visitor=True, expiresIn=60)).json()
    assert (visitor["subjectType"], visitor["subjectId"]) == ("VISITOR", VISITOR)
    assert info("no-such-token").json() == {"active": False}
    assert info(mint(client, member=EVE, expiresIn=0)).json() == {"active": False}
    assert info(mint(client, member="eve", expiresIn=-5)).json() == {"active": False}
    assert field_of(info(42)) == "token"
    assert field_of(client.post("/oauth2/token-info", json={})) == "token"


def test_members_my(client: httpx.Client) -> None:
    def my(token: str, query: str = "") -> httpx.Response:
        return client.get(f"/members/v1/members/my{query}", headers={"Authorization": token})

    token = mint(client, member="ana")
    public = my(token).json()["member"]
    assert (public["id"], public["profile"]["slug"], public["status"]) == (ANA, "ana", "UNKNOWN")
    assert "loginEmail" not in public
    full = my(token, "?fieldsets=FULL").json()["member"]
    assert (full["loginEmail"], full["status"]) == ("ana@example.com", "APPROVED")
    assert full["contactId"] == "4caea635-0f0c-5c98-ac31-6ec52df12b35"
    assert full["contact"]["emails"] == ["ana@example.com"]
    visitor = my(mint(client, visitor=True))
    assert visitor.status_code == 404
    assert visitor.json()["details"]["applicationError"]["code"] == "NOT_FOUND"
    assert visitor.json()["message"] == "Member not found"
    for bad in ("unknown-token", mint(client, member="ana", expiresIn=0)):
        assert my(bad).status_code == 401
        assert my(bad).json() == UNAUTHENTICATED
    assert client.get("/members/v1/members/my").status_code == 401


def test_fixed_seed_tokens(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed = {
        "members": [{"name": "zoe", "id": "m-1", "email": "z@example.com", "tokens": ["tok-z"]}],
        "visitors": [{"id": "v-1", "tokens": ["tok-v"]}],
    }
    seed_file.write_text(json.dumps(seed))
    app = create_emulator(load_seed(seed_file), api_key="k", site_id="s")
    with run_server(app) as url, httpx.Client(base_url=url, trust_env=False) as http:
        info = http.post("/oauth2/token-info", json={"token": "tok-z"}).json()
        assert (info["subjectId"], info["siteId"]) == ("m-1", "s")
        assert http.post("/oauth2/token-info", json={"token": "tok-v"}).json()["subjectId"] == "v-1"
        members = http.get("/_emulator/members").json()
        assert members == {"members": [{"id": "m-1", "name": "zoe", "email": "z@example.com"}]}


# -- admin: PATCH, faults, counts, reset ----------------------------------------------------------


def test_patch_balance(client: httpx.Client) -> None:
    body = {"available": "4", "reserved": "1", "status": "PAUSED"}
    response = client.patch(f"/_emulator/balances/{ANA_POOL}", json=body)
    assert response.status_code == 200, response.text
    balance = response.json()["balance"]
    assert balance["amount"] == {"available": "4", "reserved": "1"}
    assert (balance["poolInfo"]["status"], balance["revision"]) == ("PAUSED", "9")
    assert client.get(f"{BP}/balances/{ANA_POOL}", headers=AUTH).json()["balance"] == balance
    for bad in ({"available": 4}, {"available": "four"}, {"status": "ON"}, {"colour": "red"}):
        assert client.patch(f"/_emulator/balances/{ANA_POOL}", json=bad).status_code == 400
    assert client.patch("/_emulator/balances/nope", json=body).status_code == 404


def test_fault_replaces_response_for_given_times(client: httpx.Client) -> None:
    route = f"POST {BP}/balances/query"
    fault = {"route": route, "status": 500, "body": "{not json", "times": 2}
    assert client.post("/_emulator/faults", json=fault).status_code == 201
    for _ in range(2):
        # A fault answers before auth: even a request with no credentials gets it.
        response = client.post(f"{BP}/balances/query", json={})
        assert (response.status_code, response.text) == (500, "{not json")
        assert response.headers["content-type"] == "application/json"
    assert query(client, {}).status_code == 200
    assert client.get("/_emulator/calls").json()["calls"][route] == 3


def test_fault_until_cleared_and_delay(client: httpx.Client) -> None:
    route = f"GET {BP}/balances/{{poolId}}"
    fault = {"route": route, "status": 404, "body": "gone", "contentType": "text/plain"}
    client.post("/_emulator/faults", json={**fault, "times": None}).raise_for_status()
    for _ in range(3):
        assert client.get(f"{BP}/balances/{ANA_POOL}", headers=AUTH).text == "gone"
    assert client.delete("/_emulator/faults").json() == {"faults": {}}
    assert client.get(f"{BP}/balances/{ANA_POOL}", headers=AUTH).status_code == 200
    client.post("/_emulator/faults", json={"route": route, "delay": 0.2}).raise_for_status()
    started = time.monotonic()
    assert client.get(f"{BP}/balances/{ANA_POOL}", headers=AUTH).status_code == 200
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    "fault",
    [
        {"route": "GET /nowhere", "status": 500},
        {"route": f"POST {BP}/balances/query"},
        {"route": f"POST {BP}/balances/query", "status": 99},
        {"route": f"POST {BP}/balances/query", "status": 500, "times": 0},
    ],
)
def test_bad_faults_are_rejected(client: httpx.Client, fault: dict[str, Any]) -> None:
    assert client.post("/_emulator/faults", json=fault).status_code == 400


def test_calls_are_counted_by_route_template_and_reset(client: httpx.Client) -> None:
    client.get(f"{BP}/balances/{ANA_POOL}", headers=AUTH)
    client.get(f"{BP}/balances/{EVE_ACTIVE}", headers={"wix-site-id": SITE_ID})  # a 401
    query(client, {})
    client.post("/oauth2/token-info", json={"token": "x"})
    calls = client.get("/_emulator/calls").json()["calls"]
    assert calls == {
        f"GET {BP}/balances/{{poolId}}": 2,
        f"POST {BP}/balances/query": 1,
        "POST /oauth2/token-info": 1,
    }
    assert client.post("/_emulator/calls/reset").json() == {"calls": {}}
    assert client.get("/_emulator/calls").json() == {"calls": {}}


def test_reset_restores_the_seed(client: httpx.Client) -> None:
    token = mint(client, member="ana")
    adjust(client, ANA_POOL, "-3", "r-1").raise_for_status()
    fault = {"route": f"POST {BP}/pools/query", "status": 503, "times": None}
    client.post("/_emulator/faults", json=fault).raise_for_status()
    client.post("/_emulator/reset").raise_for_status()
    balance = client.get(f"{BP}/balances/{ANA_POOL}", headers=AUTH).json()["balance"]
    assert (balance["amount"]["available"], balance["revision"]) == ("3", "8")
    assert client.post("/oauth2/token-info", json={"token": token}).json() == {"active": False}
    assert client.post(f"{BP}/pools/query", json={}, headers=AUTH).status_code == 200
    assert client.get("/_emulator/calls").json()["calls"] == {
        f"GET {BP}/balances/{{poolId}}": 1,
        "POST /oauth2/token-info": 1,
        f"POST {BP}/pools/query": 1,
    }


def test_instances_share_no_state(server: str) -> None:
    other = create_emulator(load_seed(DEMO_SEED_PATH), api_key=API_KEY, site_id=SITE_ID)
    with run_server(other) as url, httpx.Client(base_url=url, trust_env=False) as http:
        adjust(http, ANA_POOL, "-1", "iso-1").raise_for_status()
    with httpx.Client(base_url=server, trust_env=False) as http:
        http.post("/_emulator/reset").raise_for_status()
        balance = http.get(f"{BP}/balances/{ANA_POOL}", headers=AUTH).json()["balance"]
        assert balance["amount"]["available"] == "3"


# -- seed files ---------------------------------------------------------------------------------


def test_demo_seed_situations() -> None:
    seed = load_seed(DEMO_SEED_PATH)
    usable: dict[str, list[str]] = {m.name: [] for m in seed.members}
    for balance in seed.balances:
        member = seed.find_member(balance.member)
        assert member is not None
        if balance.status == "ACTIVE":
            usable[member.name].append(balance.available)
    assert usable == {
        "ana": ["3"],
        "ben": ["0"],
        "cleo": [],
        "dev": [],
        "eve": ["2.5"],
        "fay": ["4"],
        "gus": ["0.5", "0.5"],
    }
    assert len(seed.visitors) == 1


ONE_MEMBER = "members: [{name: a, id: '1', email: e}]\n"
BALANCE = "balances: [{id: p, member: a, createdDate: '2026-01-01T00:00:00Z'"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (BALANCE + "}]", "balances.0.member: unknown member 'a'"),
        (ONE_MEMBER + BALANCE + ", available: 2.5}]", "balances.0.available"),
        (ONE_MEMBER + BALANCE + ", available: '1.23456'}]", "balances.0.available"),
        (ONE_MEMBER + BALANCE + ", status: SLEEPING}]", "balances.0.status"),
        ("members: [{name: a, email: e}]", "members.0.id"),
        ("members: [oops", "cannot read seed"),
    ],
)
def test_bad_seed_names_the_field(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(text)
    with pytest.raises(SeedError, match=fragment.replace(".", r"\.")):
        load_seed(path)


def test_unquoted_yaml_timestamps_become_iso_strings(tmp_path: Path) -> None:
    path = tmp_path / "seed.yml"
    path.write_text("members: [{name: a, id: '1', email: e, createdDate: 2026-01-05T10:00:00Z}]")
    assert load_seed(path).members[0].createdDate == "2026-01-05T10:00:00.000Z"
    assert EmulatorSeed.model_validate({}).balances == []
