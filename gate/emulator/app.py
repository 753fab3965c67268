"""A Starlette app that answers like https://www.wixapis.com for the endpoints the gate uses.

Every Wix route goes through ``_wix_route``: the request is counted first, then an armed fault
may answer instead, then auth runs, then the handler. So a test can observe exactly how many
calls a client made, whatever the answers were. Admin routes live under ``/_emulator``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gate.emulator.seed import Amount, EmulatorSeed, PoolStatus, SeedBalance, parse_amount
from gate.emulator.state import (
    DEFAULT_TOKEN_LIFETIME,
    ApiError,
    BalanceRecord,
    EmulatorState,
    Fault,
    app_error,
    balance_json,
    iso_now,
    member_json,
    pool_json,
    validation_error,
)

__all__ = ["WIX_ROUTES", "create_emulator"]

Handler = Callable[[Request, EmulatorState], Awaitable[Response]]
Matcher = Callable[[BalanceRecord], bool]
M = TypeVar("M", bound=BaseModel)

_DEFAULT_LIMIT = 50
_MAX_LIMIT = 100
_FIELDSETS = {"PUBLIC", "EXTENDED", "FULL"}
# Fields the emulator can filter on, per collection (a subset of the SDK QuerySpecs).
_BALANCE_FIELDS: dict[str, Callable[[BalanceRecord], Any]] = {
    "id": lambda r: r.id,
    "beneficiary.memberId": lambda r: r.member_id,
}
_POOL_FIELDS: dict[str, Callable[[BalanceRecord], Any]] = {
    **_BALANCE_FIELDS,
    "status": lambda r: r.status,
    "namespace": lambda r: r.seed.namespace,
    "poolDefinitionId": lambda r: r.seed.poolDefinitionId,
    "programDefinitionId": lambda r: r.seed.programDefinitionId,
    "programId": lambda r: r.seed.programId,
}
_SORT_FIELDS: dict[str, Callable[[BalanceRecord], Any]] = {
    "createdDate": lambda r: datetime.fromisoformat(r.seed.createdDate),
    "id": lambda r: r.id,
}


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty body counts as ``{}``."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise validation_error("body", "must be valid JSON") from None
    return as_object(data, "body")


def as_object(value: Any, field_name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise validation_error(field_name, "must be an object")
    return value


def parse_model(model: type[M], data: Any) -> M:
    """Validate an admin body with pydantic, reporting the first bad field Wix-style."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field_name = ".".join(str(part) for part in error["loc"]) or "body"
        raise validation_error(field_name, error["msg"]) from None


# -- auth ---------------------------------------------------------------------------------------


def _require_app_identity(request: Request, state: EmulatorState, permission: str) -> None:
    """API-key auth. Balances and pools are APP-only, so member tokens get the 403 too."""
    key = request.headers.get("authorization", "")
    if not key:
        raise app_error(401, "UNAUTHENTICATED", "Unauthorized")
    site = request.headers.get("wix-site-id", "")
    key_ok = secrets.compare_digest(key.encode(), state.api_key.encode())
    site_ok = secrets.compare_digest(site.encode(), state.site_id.encode())
    if not (key_ok and site_ok):
        message = f"Insufficient permission: {permission}"
        raise app_error(403, "PERMISSION_DENIED", message, description="")


def _wix_route(method: str, path: str, handler: Handler, permission: str | None) -> Route:
    route_key = f"{method} {path}"

    async def endpoint(request: Request) -> Response:
        state = state_of(request)
        state.calls[route_key] += 1
        fault = state.take_fault(route_key)  # consumed before any await: no double use
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return Response(fault.body, fault.status, media_type=fault.content_type)
        if permission is not None:
            _require_app_identity(request, state, permission)
        return await handler(request, state)

    return Route(path, endpoint, methods=[method], name=route_key)


# -- query language and cursors -----------------------------------------------------------------


def _compile_filter(spec: Any, fields: dict[str, Callable[[BalanceRecord], Any]]) -> Matcher:
    spec = as_object(spec, "query.filter")
    tests: list[Matcher] = []
    for key, condition in spec.items():
        if key in ("$and", "$or"):
            if not isinstance(condition, list) or not condition:
                raise validation_error(f"query.filter.{key}", "must be a non-empty list")
            parts = [_compile_filter(part, fields) for part in condition]
            join = all if key == "$and" else any
            tests.append(lambda r, parts=parts, join=join: join(p(r) for p in parts))
        elif key in fields:
            tests.append(_compile_condition(key, fields[key], condition))
        else:
            raise validation_error(f"query.filter.{key}", "unsupported filter field")
    return lambda r: all(test(r) for test in tests)


def _compile_condition(
    name: str, getter: Callable[[BalanceRecord], Any], condition: Any
) -> Matcher:
    # A bare value is the WQL shorthand for {"$eq": value}.
    ops = condition if isinstance(condition, dict) else {"$eq": condition}
    checks: list[Matcher] = []
    for op, operand in ops.items():
        if op == "$eq":
            checks.append(lambda r, x=operand: getter(r) == x)
        elif op == "$ne":
            checks.append(lambda r, x=operand: getter(r) != x)
        elif op in ("$in", "$nin") and isinstance(operand, list):
            wanted = op == "$in"
            checks.append(lambda r, xs=operand, w=wanted: (getter(r) in xs) == w)
        else:
            raise validation_error(f"query.filter.{name}", f"unsupported operator {op!r}")
    return lambda r: all(check(r) for check in checks)


def _sort(records: list[BalanceRecord], sort: Any) -> list[BalanceRecord]:
    if not isinstance(sort, list) or len(sort) > 5:
        raise validation_error("query.sort", "must be a list of at most 5 sorts")
    records = list(records)
    # Python's sort is stable, so sorting by the last key first yields a multi-key sort.
    for item in reversed(sort):
        item = as_object(item, "query.sort")
        getter = _SORT_FIELDS.get(item.get("fieldName", ""))
        order = item.get("order", "ASC")
        if getter is None or order not in ("ASC", "DESC"):
            raise validation_error("query.sort", f"unsupported sort {item!r}")
        records.sort(key=getter, reverse=order == "DESC")
    return records


def _limit(value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)  # GET query strings carry the limit as text
    if value is None:
        return _DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_LIMIT:
        raise validation_error("cursorPaging.limit", f"must be between 1 and {_MAX_LIMIT}", "MAX")
    return value


def _encode_cursor(kind: str, offset: int, filter_: Any, sort: Any) -> str:
    payload = json.dumps({"k": kind, "o": offset, "f": filter_, "s": sort}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor: Any, kind: str) -> tuple[int, Any, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset, filter_, sort = data["o"], data["f"], data["s"]
        valid = data["k"] == kind and isinstance(offset, int) and offset >= 0
    except (TypeError, ValueError, KeyError, binascii.Error):
        valid = False
    if not valid:
        raise validation_error("cursorPaging.cursor", "invalid cursor")
    return offset, filter_, sort


def _run_query(
    state: EmulatorState, query: Any, kind: str, fields: dict[str, Callable[[BalanceRecord], Any]]
) -> tuple[list[BalanceRecord], dict[str, Any]]:
    """Filter, sort and page the records; follow-ups carry only cursorPaging (reference §0)."""
    query = as_object(query if query is not None else {}, "query")
    paging = as_object(query.get("cursorPaging") or {}, "query.cursorPaging")
    limit = _limit(paging.get("limit"))
    if paging.get("cursor"):
        offset, filter_, sort = _decode_cursor(paging["cursor"], kind)
    else:
        offset, filter_, sort = 0, query.get("filter") or {}, query.get("sort") or []
    matches = _compile_filter(filter_, fields)
    records = _sort([r for r in state.balances.values() if matches(r)], sort)
    page = records[offset : offset + limit]
    has_next = offset + limit < len(records)
    next_cursor = _encode_cursor(kind, offset + limit, filter_, sort) if has_next else None
    metadata = {
        "count": len(page),
        "cursors": {"next": next_cursor, "prev": None},
        "hasNext": has_next,
    }
    return page, metadata


# -- Wix handlers -------------------------------------------------------------------------------


async def _query_balances(request: Request, state: EmulatorState) -> Response:
    body = await read_json(request)
    page, metadata = _run_query(state, body.get("query"), "balances", _BALANCE_FIELDS)
    return JSONResponse({"balances": [balance_json(r) for r in page], "metadata": metadata})


async def _list_balances(request: Request, state: EmulatorState) -> Response:
    params = request.query_params
    pool_ids = params.getlist("poolIds")
    if len(pool_ids) > _MAX_LIMIT:
        raise validation_error("poolIds", f"at most {_MAX_LIMIT} ids", "MAX_SIZE")
    query = {
        "filter": {"id": {"$in": pool_ids}} if pool_ids else {},
        "cursorPaging": {
            "limit": params.get("cursorPaging.limit"),
            "cursor": params.get("cursorPaging.cursor"),
        },
    }
    page, metadata = _run_query(state, query, "balances", _BALANCE_FIELDS)
    return JSONResponse({"balances": [balance_json(r) for r in page], "metadata": metadata})


async def _get_balance(request: Request, state: EmulatorState) -> Response:
    record = state.get_balance(request.path_params["poolId"])
    return JSONResponse({"balance": balance_json(record)})


def _change_value(options: Any, field_name: str) -> Decimal:
    value = options.get("value") if isinstance(options, dict) else None
    try:
        return parse_amount(value, signed=True)
    except ValueError as exc:
        raise validation_error(field_name, str(exc)) from None


async def _change_balance(request: Request, state: EmulatorState) -> Response:
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
    result = state.change_balance(request.path_params["poolId"], key, kind, value)
    return JSONResponse(result)


async def _query_pools(request: Request, state: EmulatorState) -> Response:
    body = await read_json(request)
    page, metadata = _run_query(state, body.get("query"), "pools", _POOL_FIELDS)
    return JSONResponse({"pools": [pool_json(r) for r in page], "metadata": metadata})


async def _token_info(request: Request, state: EmulatorState) -> Response:
    token = (await read_json(request)).get("token")
    if not isinstance(token, str):
        raise validation_error("token", "must be a string", "REQUIRED_FIELD")
    record = state.live_token(token)
    if record is None:
        return JSONResponse({"active": False})
    info = {
        "active": True,
        "subjectType": record.subject_type,
        "subjectId": record.subject_id,
        "exp": record.exp,
        "iat": record.iat,
        "clientId": "emulator-client",
        "siteId": state.site_id,
        "instanceId": "emulator-instance",
    }
    return JSONResponse(info)


async def _my_member(request: Request, state: EmulatorState) -> Response:
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
    return JSONResponse({"member": member_json(member, fieldsets)})


_BP = "/benefit-programs/v1"
_WIX_ENDPOINTS: list[tuple[str, str, Handler, str | None]] = [
    ("POST", f"{_BP}/balances/query", _query_balances, "BENEFIT_PROGRAMS.BALANCE_READ"),
    ("GET", f"{_BP}/balances", _list_balances, "BENEFIT_PROGRAMS.BALANCE_READ"),
    ("GET", f"{_BP}/balances/{{poolId}}", _get_balance, "BENEFIT_PROGRAMS.BALANCE_READ"),
    (
        "POST",
        f"{_BP}/balances/{{poolId}}/change",
        _change_balance,
        "BENEFIT_PROGRAMS.BALANCE_CHANGE",
    ),
    ("POST", f"{_BP}/pools/query", _query_pools, "BENEFIT_PROGRAMS.POOL_READ"),
    ("POST", "/oauth2/token-info", _token_info, None),
    ("GET", "/members/v1/members/my", _my_member, None),
]
# The keys of /_emulator/calls and of faults: method + route template.
WIX_ROUTES: tuple[str, ...] = tuple(f"{method} {path}" for method, path, _, _ in _WIX_ENDPOINTS)


# -- admin endpoints (/_emulator, no auth) ------------------------------------------------------


class _AdminBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _PatchBody(_AdminBody):
    available: Amount | None = None
    reserved: Amount | None = None
    status: PoolStatus | None = None


class _TokenBody(_AdminBody):
    member: str | None = None
    visitor: bool = False
    expiresIn: int = DEFAULT_TOKEN_LIFETIME


class _FaultBody(_AdminBody):
    route: str
    status: int | None = Field(default=None, ge=100, le=599)
    body: str = ""
    contentType: str = "application/json"
    times: int | None = Field(default=1, ge=1)  # explicit null: until cleared
    delay: float = Field(default=0.0, ge=0, le=60)


async def _admin_calls(request: Request, state: EmulatorState) -> Response:
    return JSONResponse({"calls": dict(state.calls)})


async def _admin_reset_calls(request: Request, state: EmulatorState) -> Response:
    state.calls.clear()
    return JSONResponse({"calls": {}})


async def _admin_patch_balance(request: Request, state: EmulatorState) -> Response:
    body = parse_model(_PatchBody, await read_json(request))
    pool_id = request.path_params["poolId"]
    record = state.patch_balance(pool_id, body.available, body.reserved, body.status)
    return JSONResponse({"balance": balance_json(record)})


async def _admin_create_balance(request: Request, state: EmulatorState) -> Response:
    data = await read_json(request)
    # id and createdDate are optional here, so tests can mint many pools tersely.
    seed = parse_model(SeedBalance, {"id": state.next_id("pool"), "createdDate": iso_now(), **data})
    record = state.add_balance(seed)
    return JSONResponse({"balance": balance_json(record)}, status_code=201)


async def _admin_mint_token(request: Request, state: EmulatorState) -> Response:
    body = parse_model(_TokenBody, await read_json(request))
    if body.member is not None and not body.visitor:
        member = state.seed.find_member(body.member)
        if member is None:
            raise validation_error("member", f"unknown member {body.member!r}")
        subject = ("MEMBER", member.id)
    elif body.visitor and body.member is None:
        visitors = state.seed.visitors
        subject = ("VISITOR", visitors[0].id if visitors else state.next_id("visitor"))
    else:
        raise validation_error("body", 'give either "member" or "visitor": true')
    token = state.mint_token(*subject, body.expiresIn)
    return JSONResponse({"access_token": token, "expires_in": body.expiresIn})


async def _admin_members(request: Request, state: EmulatorState) -> Response:
    members = [{"id": m.id, "name": m.name, "email": m.email} for m in state.seed.members]
    return JSONResponse({"members": members})


async def _admin_add_fault(request: Request, state: EmulatorState) -> Response:
    body = parse_model(_FaultBody, await read_json(request))
    if body.route not in WIX_ROUTES:
        raise validation_error("route", f"must be one of {list(WIX_ROUTES)}")
    if body.status is None and not body.delay:
        raise validation_error("status", "give a status, a delay, or both")
    fault = Fault(body.status, body.body, body.contentType, body.times, body.delay)
    state.add_fault(body.route, fault)
    return JSONResponse({"fault": {"route": body.route, **fault.describe()}}, status_code=201)


async def _admin_list_faults(request: Request, state: EmulatorState) -> Response:
    faults = {
        route: [f.describe() for f in queue] for route, queue in state.faults.items() if queue
    }
    return JSONResponse({"faults": faults})


async def _admin_clear_faults(request: Request, state: EmulatorState) -> Response:
    state.faults.clear()
    return JSONResponse({"faults": {}})


async def _admin_reset(request: Request, state: EmulatorState) -> Response:
    state.reset()
    return JSONResponse({"reset": True})


_ADMIN_ENDPOINTS: list[tuple[str, str, Handler]] = [
    ("GET", "/_emulator/calls", _admin_calls),
    ("POST", "/_emulator/calls/reset", _admin_reset_calls),
    ("POST", "/_emulator/balances", _admin_create_balance),
    ("PATCH", "/_emulator/balances/{poolId}", _admin_patch_balance),
    ("POST", "/_emulator/tokens", _admin_mint_token),
    ("GET", "/_emulator/members", _admin_members),
    ("GET", "/_emulator/faults", _admin_list_faults),
    ("POST", "/_emulator/faults", _admin_add_fault),
    ("DELETE", "/_emulator/faults", _admin_clear_faults),
    ("POST", "/_emulator/reset", _admin_reset),
]


def _admin_route(method: str, path: str, handler: Handler) -> Route:
    async def endpoint(request: Request) -> Response:
        return await handler(request, state_of(request))

    return Route(path, endpoint, methods=[method])


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body, status_code=exc.status)


def create_emulator(seed: EmulatorSeed, *, api_key: str, site_id: str) -> Starlette:
    """Build an emulator app; all of its state lives on ``app.state.emulator``."""
    if not api_key or not site_id:
        raise ValueError("create_emulator needs a non-empty api_key and site_id")
    routes = [_wix_route(*endpoint) for endpoint in _WIX_ENDPOINTS]
    app = Starlette(
        routes=routes + [_admin_route(*endpoint) for endpoint in _ADMIN_ENDPOINTS],
        exception_handlers={ApiError: _on_api_error},
    )
    app.state.emulator = EmulatorState(seed, api_key=api_key, site_id=site_id)
    return app
