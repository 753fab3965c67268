"""A Starlette app that answers like https://www.wixapis.com for the endpoints the gate uses.

Every Wix route goes through ``_wix_route``: the request is counted (and stamped on the call
timeline) first and takes its armed fault, if any; then it waits out the latency (an
``asyncio.sleep``, so concurrent calls wait side by side); then the fault may answer instead
(faults.py), then auth runs, then the handler, and finally the quirks bend the spelling of the
answer. So a test can observe exactly how many calls a client made, whatever the answers were.
Admin routes live under ``/_emulator`` (admin.py, admin_webhooks.py) and never wait.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from functools import partial

from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gate.tooling.emulator.admin import ADMIN_ENDPOINTS, AdminHandler
from gate.tooling.emulator.errors import ApiError, app_error, blank_descriptions
from gate.tooling.emulator.faults import fault_response, quiet_truncation_logs
from gate.tooling.emulator.quirks import present
from gate.tooling.emulator.seed import EmulatorSeed
from gate.tooling.emulator.shapes import balance_json, item_json, pool_json
from gate.tooling.emulator.state import EmulatorState
from gate.tooling.emulator.webhooks import WebhookKeys
from gate.tooling.emulator.wix import WIX_ENDPOINTS, WIX_ROUTES, WixHandler

__all__ = ["WIX_ROUTES", "create_emulator"]


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _require_app_identity(request: Request, state: EmulatorState, permission: str) -> None:
    """API-key auth. Benefit-programs methods are APP-only, so member tokens get the 403 too."""
    key = request.headers.get("authorization", "")
    if not key:
        raise app_error(401, "UNAUTHENTICATED", "Unauthorized")
    site = request.headers.get("wix-site-id", "")
    key_ok = secrets.compare_digest(key.encode(), state.api_key.encode())
    site_ok = secrets.compare_digest(site.encode(), state.site_id.encode())
    if not (key_ok and site_ok):
        message = f"Insufficient permission: {permission}"
        raise app_error(403, "PERMISSION_DENIED", message, description="")


def _error_response(error: ApiError, state: EmulatorState) -> Response:
    if state.quirks.emptyErrorDescriptions:
        if error.status >= 500:
            return Response(b"", error.status)  # "System errors are sent empty by design"
        return JSONResponse(blank_descriptions(error.body), status_code=error.status)
    return JSONResponse(error.body, status_code=error.status)


def _sample(route: str, state: EmulatorState) -> tuple[str, bytes]:
    """The list key and one record (as JSON) that ``huge`` and ``endless`` bodies repeat."""
    path = route.split(" ", 1)[1]
    record: dict[str, object] = {}
    if "/balances" in path or "/pools" in path:
        key = "balances" if "/balances" in path else "pools"
        first = next(iter(state.balances.values()), None)
        if first is not None:
            record = balance_json(first) if key == "balances" else pool_json(first)
    elif "/items" in path:
        key = "items"
        item = next(iter(state.items.values()), None)
        record = item_json(item) if item is not None else {}
    else:
        key = "data"
    return key, json.dumps(present(record, state.quirks)).encode()


async def _answer(
    request: Request, state: EmulatorState, handler: WixHandler, permission: str | None
) -> Response:
    """The real answer: auth, the handler, then the quirks."""
    try:
        if permission is not None:
            _require_app_identity(request, state, permission)
        payload = await handler(request, state)
    except ApiError as error:
        return _error_response(error, state)
    return JSONResponse(present(payload, state.quirks))


def _wix_route(method: str, path: str, handler: WixHandler, permission: str | None) -> Route:
    route_key = f"{method} {path}"

    async def endpoint(request: Request) -> Response:
        state = state_of(request)
        state.record_call(route_key)
        fault = state.take_fault(route_key)  # consumed before any await: no double use
        latency = state.latency.sample()
        if latency:
            await asyncio.sleep(latency)
        answer = partial(_answer, request, state, handler, permission)
        if fault is not None:
            sample = partial(_sample, route_key, state)
            empty_5xx = state.quirks.emptyErrorDescriptions
            response = await fault_response(fault, answer, sample, empty_5xx=empty_5xx)
            if response is not None:
                return response
        return await answer()

    return Route(path, endpoint, methods=[method], name=route_key)


def _admin_route(method: str, path: str, handler: AdminHandler) -> Route:
    async def endpoint(request: Request) -> Response:
        return await handler(request, state_of(request))

    return Route(path, endpoint, methods=[method])


async def _on_api_error(request: Request, exc: Exception) -> Response:
    # Admin errors only: Wix routes render theirs in _wix_route, where quirks apply.
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body, status_code=exc.status)


def create_emulator(
    seed: EmulatorSeed,
    *,
    api_key: str,
    site_id: str,
    clock: Callable[[], float] = time.monotonic,
    webhook_key: rsa.RSAPrivateKey | None = None,
) -> Starlette:
    """Build an emulator app; all of its state lives on ``app.state.emulator``.

    ``clock`` stamps the call timeline (``GET /_emulator/calls?timeline=1``); pass a fake one to
    test per-minute call budgets without sleeping. ``webhook_key`` signs the webhooks the
    emulator sends; by default a new 2048-bit RSA key, published at
    ``GET /_emulator/webhooks/public-key``.
    """
    if not api_key or not site_id:
        raise ValueError("create_emulator needs a non-empty api_key and site_id")
    routes = [_wix_route(*endpoint) for endpoint in WIX_ENDPOINTS]
    app = Starlette(
        routes=routes + [_admin_route(*endpoint) for endpoint in ADMIN_ENDPOINTS],
        exception_handlers={ApiError: _on_api_error},
    )
    keys = WebhookKeys(webhook_key)
    app.state.emulator = EmulatorState(
        seed, api_key=api_key, site_id=site_id, clock=clock, webhook_keys=keys
    )
    quiet_truncation_logs()
    return app
