"""Test controls under ``/_emulator``: no auth, never part of Wix, never counted as Wix calls.

They let a test set up a situation (pools, items, balances, tokens), make Wix misbehave
(faults, quirks, latency), send it Wix's signed webhooks (admin_webhooks.py) and observe the
client (call counts and their timeline).
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gate.credits.balances import KNOWN_POOL_STATUSES, POOL_STATUS_PATTERN
from gate.strict import StrictModel
from gate.tooling.emulator.admin_webhooks import WEBHOOK_ENDPOINTS
from gate.tooling.emulator.errors import parse_model, read_json, validation_error
from gate.tooling.emulator.faults import FaultBody, build_fault
from gate.tooling.emulator.quirks import Quirks
from gate.tooling.emulator.seed import Amount, SeedBalance, SeedItem, SignedAmount
from gate.tooling.emulator.shapes import balance_json, item_json
from gate.tooling.emulator.state import DEFAULT_TOKEN_LIFETIME, EmulatorState, Latency, iso_now
from gate.tooling.emulator.wix import WIX_ROUTES

__all__ = ["ADMIN_ENDPOINTS", "AdminHandler"]

AdminHandler = Callable[[Request, EmulatorState], Awaitable[Response]]

# What a future Wix status looks like: the shape the gate's models accept (gate.wix.models).
_STATUS_NAME = re.compile(POOL_STATUS_PATTERN)


class _PatchBody(StrictModel):
    available: SignedAmount | None = None
    reserved: Amount | None = None
    status: str | None = None
    # True lets ``status`` be any upper-case enum name, e.g. "SUSPENDED": a status Wix may add
    # one day, which a client must treat as "not usable" instead of failing on.
    allowUnknown: bool = False


class _TokenBody(StrictModel):
    member: str | None = None
    visitor: bool = False
    expiresIn: int = DEFAULT_TOKEN_LIFETIME


class _LatencyBody(StrictModel):
    seconds: float = Field(default=0.0, ge=0, le=60)
    jitter: float = Field(default=0.0, ge=0, le=60)


async def _calls(request: Request, state: EmulatorState) -> Response:
    """Counts per route; ``?timeline=1`` adds every call's clock time, ``?window=S`` the counts
    of the last S seconds. Times come from the emulator's clock (``time.monotonic`` unless
    ``create_emulator`` was given another), and ``now`` is that clock at the time of asking."""
    params = request.query_params
    result: dict[str, object] = {"calls": dict(state.calls)}
    if params.get("timeline", "").lower() in ("1", "true"):
        result["timeline"] = [{"route": route, "at": at} for route, at in state.timeline]
        result["now"] = state.clock()
    if "window" in params:
        try:
            seconds = float(params["window"])
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds > 0):
            raise validation_error("window", "must be a positive number of seconds")
        now = state.clock()
        counts = state.calls_since(now - seconds)
        result["window"] = {"seconds": seconds, "calls": dict(counts)}
        result["now"] = now
    return JSONResponse(result)


async def _reset_calls(request: Request, state: EmulatorState) -> Response:
    state.clear_calls()
    return JSONResponse({"calls": {}})


async def _patch_balance(request: Request, state: EmulatorState) -> Response:
    body = parse_model(_PatchBody, await read_json(request))
    if body.status is not None:
        known = body.status in KNOWN_POOL_STATUSES
        if not (known or (body.allowUnknown and _STATUS_NAME.fullmatch(body.status))):
            hint = " (or an upper-case name with allowUnknown: true)"
            raise validation_error("status", f"must be one of {list(KNOWN_POOL_STATUSES)}{hint}")
    pool_id = request.path_params["poolId"]
    record = state.patch_balance(pool_id, body.available, body.reserved, body.status)
    return JSONResponse({"balance": balance_json(record)})


async def _create_balance(request: Request, state: EmulatorState) -> Response:
    data = await read_json(request)
    # id and createdDate are optional here, so tests can mint many pools tersely.
    seed = parse_model(SeedBalance, {"id": state.next_id("pool"), "createdDate": iso_now(), **data})
    record = state.add_balance(seed)
    return JSONResponse({"balance": balance_json(record)}, status_code=201)


async def _create_item(request: Request, state: EmulatorState) -> Response:
    """Add a benefit item (``{"service", "itemSetId", ...}`` as in a seed's ``items``)."""
    item = state.add_item(parse_model(SeedItem, await read_json(request)))
    return JSONResponse({"item": item_json(item)}, status_code=201)


async def _mint_token(request: Request, state: EmulatorState) -> Response:
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


async def _members(request: Request, state: EmulatorState) -> Response:
    members = [{"id": m.id, "name": m.name, "email": m.email} for m in state.seed.members]
    return JSONResponse({"members": members})


async def _add_fault(request: Request, state: EmulatorState) -> Response:
    """Arm a fault on one route (gate.tooling.emulator.faults describes the fields and
    the kinds)."""
    body = parse_model(FaultBody, await read_json(request))
    if body.route not in WIX_ROUTES:
        raise validation_error("route", f"must be one of {list(WIX_ROUTES)}")
    fault = build_fault(body)
    state.add_fault(body.route, fault)
    return JSONResponse({"fault": {"route": body.route, **fault.describe()}}, status_code=201)


async def _list_faults(request: Request, state: EmulatorState) -> Response:
    faults = {
        route: [f.describe() for f in queue] for route, queue in state.faults.items() if queue
    }
    return JSONResponse({"faults": faults})


async def _clear_faults(request: Request, state: EmulatorState) -> Response:
    state.faults.clear()
    return JSONResponse({"faults": {}})


async def _get_quirks(request: Request, state: EmulatorState) -> Response:
    return JSONResponse({"quirks": state.quirks.model_dump()})


async def _set_quirks(request: Request, state: EmulatorState) -> Response:
    """Merge the given switches into the current ones; the others keep their values."""
    changes = await read_json(request)
    state.quirks = parse_model(Quirks, {**state.quirks.model_dump(), **changes})
    return JSONResponse({"quirks": state.quirks.model_dump()})


async def _clear_quirks(request: Request, state: EmulatorState) -> Response:
    state.quirks = Quirks()
    return JSONResponse({"quirks": state.quirks.model_dump()})


def _latency_json(state: EmulatorState) -> Response:
    latency = state.latency
    return JSONResponse({"latency": {"seconds": latency.seconds, "jitter": latency.jitter}})


async def _get_latency(request: Request, state: EmulatorState) -> Response:
    return _latency_json(state)


async def _set_latency(request: Request, state: EmulatorState) -> Response:
    """Every Wix call waits ``seconds`` (plus up to ``jitter`` more) before it is answered,
    without holding up the others; admin calls never wait."""
    body = parse_model(_LatencyBody, await read_json(request))
    state.latency = Latency(body.seconds, body.jitter)
    return _latency_json(state)


async def _clear_latency(request: Request, state: EmulatorState) -> Response:
    state.latency = Latency()
    return _latency_json(state)


async def _reset(request: Request, state: EmulatorState) -> Response:
    state.reset()
    return JSONResponse({"reset": True})


ADMIN_ENDPOINTS: list[tuple[str, str, AdminHandler]] = [
    ("GET", "/_emulator/calls", _calls),
    ("POST", "/_emulator/calls/reset", _reset_calls),
    ("POST", "/_emulator/balances", _create_balance),
    ("PATCH", "/_emulator/balances/{poolId}", _patch_balance),
    ("POST", "/_emulator/items", _create_item),
    ("POST", "/_emulator/tokens", _mint_token),
    ("GET", "/_emulator/members", _members),
    ("GET", "/_emulator/faults", _list_faults),
    ("POST", "/_emulator/faults", _add_fault),
    ("DELETE", "/_emulator/faults", _clear_faults),
    ("GET", "/_emulator/quirks", _get_quirks),
    ("POST", "/_emulator/quirks", _set_quirks),
    ("DELETE", "/_emulator/quirks", _clear_quirks),
    ("GET", "/_emulator/latency", _get_latency),
    ("POST", "/_emulator/latency", _set_latency),
    ("DELETE", "/_emulator/latency", _clear_latency),
    ("POST", "/_emulator/reset", _reset),
    *WEBHOOK_ENDPOINTS,
]
