"""Everything that is not a checkout passes through the gate untouched."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gate import BookingGate, StaticBalanceSource
from gate.identity import TrustedHeaderResolver
from gate.policy.shipped import shipped_policies
from gate.tooling.testing import run_server

EVENTS: list[str] = []


async def page(request: Request) -> Response:
    body = await request.body()
    return Response(
        b"echo:" + body + request.url.query.encode(),
        status_code=218,
        headers={"X-Custom": "1", "Set-Cookie": "a=b; Path=/"},
        media_type="application/x-test",
    )


def _app() -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        EVENTS.append("startup")
        yield {"ready": "yes"}
        EVENTS.append("shutdown")

    methods = ["GET", "POST", "PUT", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", page, methods=methods)], lifespan=lifespan)


def _gate(app: Any, tmp_path: Any) -> BookingGate:
    balances = tmp_path / "balances.yaml"
    balances.write_text("members: {}\n")
    return BookingGate(
        app,
        policies=shipped_policies(),
        source=StaticBalanceSource(balances, clock=lambda: 0.0),
        resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])],
    )


def _snapshot(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in {"date"}]
    return response.status_code, headers, response.content


def test_non_checkout_requests_are_identical_with_and_without_gate(tmp_path: Any) -> None:
    requests = [
        ("GET", "/book-online?x=1", b""),
        ("POST", "/api/things", b"payload"),
        ("OPTIONS", "/booking-form", b""),  # CORS preflight passes on a checkout path
        ("GET", "/booking-form-other", b""),
        ("GET", "/plans-pricing", b""),
    ]
    with run_server(_app()) as bare, run_server(_gate(_app(), tmp_path)) as gated:
        for method, path, body in requests:
            plain = httpx.request(method, bare + path, content=body)
            through = httpx.request(method, gated + path, content=body)
            assert _snapshot(through) == _snapshot(plain), (method, path)
            assert through.status_code == 218


def test_lifespan_reaches_the_app_through_the_gate(tmp_path: Any) -> None:
    EVENTS.clear()
    with run_server(_gate(_app(), tmp_path)) as url:
        assert EVENTS == ["startup"]
        assert httpx.get(url + "/x").status_code == 218
    assert EVENTS == ["startup", "shutdown"]


def test_websocket_and_lifespan_scopes_are_handed_over_unchanged(tmp_path: Any) -> None:
    """The very same scope, receive and send objects reach the app (lifespan send is wrapped
    only to close the gate's HTTP client; the messages themselves are forwarded as they are)."""
    seen: list[tuple[Any, Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))
        if scope["type"] == "lifespan":
            await send({"type": "lifespan.startup.complete"})

    gate = _gate(app, tmp_path)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    ws_scope = {"type": "websocket", "path": "/chat", "query_string": b"",
                "headers": [], "client": ("127.0.0.1", 1), "root_path": ""}
    asyncio.run(gate(ws_scope, receive, send))
    assert seen[0] == (ws_scope, receive, send)
    assert ws_scope == {"type": "websocket", "path": "/chat", "query_string": b"",
                        "headers": [], "client": ("127.0.0.1", 1), "root_path": ""}
    # A socket on a checkout path is refused: nothing would decide it (review finding).
    checkout_ws = {**ws_scope, "path": "/booking-form"}
    asyncio.run(gate(checkout_ws, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert len(seen) == 1
    sent.clear()
    lifespan_scope = {"type": "lifespan"}
    asyncio.run(gate(lifespan_scope, receive, send))
    assert seen[1][0] is lifespan_scope
    assert sent == [{"type": "lifespan.startup.complete"}]


def test_a_page_remembered_as_open_still_drops_a_member_id_a_visitor_wrote(
    tmp_path: Any
) -> None:
    """Pages that are no checkout skip the gate after the first visit (one set lookup), but
    never the removal of a member-id header an untrusted client sent: the app must not see
    it on the second visit either."""
    seen: list[list[str]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append([v.decode() for k, v in scope["headers"] if k == b"x-member-id"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    balances = tmp_path / "balances.yaml"
    balances.write_text("members: {}\n")
    gate = BookingGate(app, policies=shipped_policies(), reload_interval=None,
                       source=StaticBalanceSource(balances, clock=lambda: 0.0),
                       resolvers=[TrustedHeaderResolver(trusted_proxies=["10.9.9.9"])])

    async def visit() -> list[int]:
        transport = httpx.ASGITransport(app=gate, client=("127.0.0.1", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [(await client.get("/book-online", headers={"X-Member-Id": "m-ana"}))
                    .status_code for _ in range(3)]

    assert asyncio.run(visit()) == [200, 200, 200]
    assert "/book-online" in gate._open_paths  # the second and third visits took the shortcut
    assert seen == [[], [], []]
