"""The Wix endpoints the gate calls, as handlers that return the JSON payload to send.

Handlers return plain payloads (or raise ``ApiError``); the route wrapper in ``app.py`` counts
the call, applies faults, auth and quirks. So a handler only says what Wix would answer, and
every cross-cutting behaviour is applied the same way to every route, new ones included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from gate.credits.amounts import parse_amount
from gate.tooling.emulator.eligibility import check_eligibility, parse_request
from gate.tooling.emulator.errors import app_error, read_json, validation_error
from gate.tooling.emulator.query import MAX_LIMIT, Field, Page, run_query
from gate.tooling.emulator.seed import SeedItem
from gate.tooling.emulator.shapes import balance_json, item_json, member_json, pool_json
from gate.tooling.emulator.state import BalanceRecord, EmulatorState

__all__ = ["WIX_ENDPOINTS", "WIX_ROUTES", "WixHandler"]

WixHandler = Callable[[Request, EmulatorState], Awaitable[dict[str, Any]]]

_FIELDSETS = {"PUBLIC", "EXTENDED", "FULL"}
# Fields the emulator can filter on, per collection: the SDK QuerySpecs (reference §1, §2).
_BALANCE_FIELDS: dict[str, Field[BalanceRecord]] = {
    "id": Field(lambda r: r.id),
    "beneficiary.memberId": Field(lambda r: r.member_id),
    "beneficiary.wixUserId": Field(lambda r: None),  # every seeded beneficiary is a member
}
_POOL_FIELDS: dict[str, Field[BalanceRecord]] = {
    **_BALANCE_FIELDS,
    "status": Field(lambda r: r.status),
    "namespace": Field(lambda r: r.seed.namespace),
    "poolDefinitionId": Field(lambda r: r.seed.poolDefinitionId),
    "programDefinitionId": Field(lambda r: r.seed.programDefinitionId),
    "programId": Field(lambda r: r.seed.programId),
    "details.benefits.itemSetId": Field(lambda r: [b.itemSetId for b in r.benefits], array=True),
    "details.benefits.providerAppId": Field(
        lambda r: [b.providerAppId for b in r.benefits], array=True
    ),
}
_ITEM_FIELDS: dict[str, Field[SeedItem]] = {
    "id": Field(lambda i: i.id),
    "externalId": Field(lambda i: i.service),
    "itemSetId": Field(lambda i: i.itemSetId),
    "providerAppId": Field(lambda i: i.providerAppId),
    "category": Field(lambda i: i.category),
    "namespace": Field(lambda i: i.namespace),
}
_RECORD_SORTS: dict[str, Callable[[BalanceRecord], Any]] = {
    "createdDate": lambda r: datetime.fromisoformat(r.seed.createdDate),
    "id": lambda r: r.id,
}
_ITEM_SORTS: dict[str, Callable[[SeedItem], Any]] = {
    "createdDate": lambda i: datetime.fromisoformat(i.createdDate),
    "id": lambda i: i.id,
}


def _query_records(state: EmulatorState, query: Any, kind: str) -> Page[BalanceRecord]:
    fields = _POOL_FIELDS if kind == "pools" else _BALANCE_FIELDS
    records = list(state.balances.values())
    return run_query(
        records, query, kind=kind, fields=fields, sort_keys=_RECORD_SORTS, quirks=state.quirks
    )


def _balances_page(page: Page[BalanceRecord]) -> dict[str, Any]:
    return {"balances": [balance_json(r) for r in page.records], "metadata": page.metadata}


async def _query_balances(request: Request, state: EmulatorState) -> dict[str, Any]:
    body = await read_json(request)
    return _balances_page(_query_records(state, body.get("query"), "balances"))


async def _list_balances(request: Request, state: EmulatorState) -> dict[str, Any]:
    params = request.query_params
    pool_ids = params.getlist("poolIds")
    if len(pool_ids) > MAX_LIMIT:
        raise validation_error("poolIds", f"at most {MAX_LIMIT} ids", "MAX_SIZE")
    query = {
        "filter": {"id": {"$in": pool_ids}} if pool_ids else {},
        "cursorPaging": {
            "limit": params.get("cursorPaging.limit"),
            "cursor": params.get("cursorPaging.cursor"),
        },
    }
    return _balances_page(_query_records(state, query, "balances"))


async def _get_balance(request: Request, state: EmulatorState) -> dict[str, Any]:
    return {"balance": balance_json(state.get_balance(request.path_params["poolId"]))}


def _change_value(options: Any, field_name: str) -> Decimal:
    value = options.get("value") if isinstance(options, dict) else None
    try:
        return parse_amount(value, negative=True)
    except ValueError as exc:
        raise validation_error(field_name, str(exc)) from None


async def _change_balance(request: Request, state: EmulatorState) -> dict[str, Any]:
    body = await read_json(request)
    key = body.get("idempotencyKey")
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise validation_error("idempotencyKey", "is required (1-200 characters)", "REQUIRED_FIELD")
    kind = body.get("type")
    if kind == "ADJUST":
        value = _change_value(body.get("adjustOptions"), "adjustOptions.value")
    elif kind == "SET":
        value = _change_value(body.get("setOptions"), "setOptions.value")
    else:
        raise validation_error("type", "must be ADJUST or SET")
    return state.change_balance(request.path_params["poolId"], key, kind, value)


async def _query_pools(request: Request, state: EmulatorState) -> dict[str, Any]:
    body = await read_json(request)
    page = _query_records(state, body.get("query"), "pools")
    return {"pools": [pool_json(r) for r in page.records], "metadata": page.metadata}


async def _get_pool(request: Request, state: EmulatorState) -> dict[str, Any]:
    return {"pool": pool_json(state.get_pool(request.path_params["poolId"]))}


async def _check_eligibility(request: Request, state: EmulatorState) -> dict[str, Any]:
    results = check_eligibility(state, parse_request(await read_json(request)))
    return {"result": {"benefitResults": results}}


async def _query_items(request: Request, state: EmulatorState) -> dict[str, Any]:
    body = await read_json(request)
    page = run_query(
        list(state.items.values()),
        body.get("query"),
        kind="items",
        fields=_ITEM_FIELDS,
        sort_keys=_ITEM_SORTS,
        quirks=state.quirks,
    )
    return {"items": [item_json(i) for i in page.records], "metadata": page.metadata}


async def _get_item(request: Request, state: EmulatorState) -> dict[str, Any]:
    return {"item": item_json(state.get_item(request.path_params["itemId"]))}


async def _token_info(request: Request, state: EmulatorState) -> dict[str, Any]:
    token = (await read_json(request)).get("token")
    if not isinstance(token, str):
        raise validation_error("token", "must be a string", "REQUIRED_FIELD")
    record = state.live_token(token)
    if record is None:
        return {"active": False}
    return {
        "active": True,
        "subjectType": record.subject_type,
        "subjectId": record.subject_id,
        "exp": record.exp,
        "iat": record.iat,
        "clientId": "emulator-client",
        "siteId": state.site_id,
        "instanceId": "emulator-instance",
    }


async def _my_member(request: Request, state: EmulatorState) -> dict[str, Any]:
    token = request.headers.get("authorization", "")
    record = state.live_token(token) if token else None
    if record is None:
        raise app_error(401, "UNAUTHENTICATED", "Unauthorized")
    member = state.member_by_id(record.subject_id) if record.subject_type == "MEMBER" else None
    if member is None:  # a visitor token is authenticated, but there is no member behind it
        raise app_error(404, "NOT_FOUND", "Member not found")
    fieldsets = set(request.query_params.getlist("fieldsets")) or {"PUBLIC"}
    if not fieldsets <= _FIELDSETS:
        raise validation_error("fieldsets", f"must be among {sorted(_FIELDSETS)}")
    return {"member": member_json(member, fieldsets)}


_BP = "/benefit-programs/v1"
_READ = "BENEFIT_PROGRAMS.BALANCE_READ"
_POOL_READ = "BENEFIT_PROGRAMS.POOL_READ"
_ITEM_READ = "BENEFIT_PROGRAMS.ITEM_READ"
_CHANGE = "BENEFIT_PROGRAMS.BALANCE_CHANGE"
_REDEEM = "BENEFIT_PROGRAMS.POOL_REDEEM"
# (method, path template, handler, permission or None for no API-key check). The emulator's
# one API key holds every permission; the name is what a refused caller's 403 quotes.
WIX_ENDPOINTS: list[tuple[str, str, WixHandler, str | None]] = [
    ("POST", f"{_BP}/balances/query", _query_balances, _READ),
    ("GET", f"{_BP}/balances", _list_balances, _READ),
    ("GET", f"{_BP}/balances/{{poolId}}", _get_balance, _READ),
    ("POST", f"{_BP}/balances/{{poolId}}/change", _change_balance, _CHANGE),
    ("POST", f"{_BP}/pools/query", _query_pools, _POOL_READ),
    ("POST", f"{_BP}/pools/check-eligibility", _check_eligibility, _REDEEM),
    ("GET", f"{_BP}/pools/{{poolId}}", _get_pool, _POOL_READ),
    ("POST", f"{_BP}/items/query", _query_items, _ITEM_READ),
    ("GET", f"{_BP}/items/{{itemId}}", _get_item, _ITEM_READ),
    ("POST", "/oauth2/token-info", _token_info, None),
    ("GET", "/members/v1/members/my", _my_member, None),
]
# The keys of /_emulator/calls and of faults: method + route template.
WIX_ROUTES: tuple[str, ...] = tuple(f"{method} {path}" for method, path, _, _ in WIX_ENDPOINTS)
