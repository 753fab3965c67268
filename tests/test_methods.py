"""A method corpus against a checkout route: nothing reaches the app ungated unless listed.

Every method is tried in upper, lower and mixed case, at three layers: the RouteMatcher with
raw ASGI scopes, a real BookingGate called in-process with raw scopes (any string at all),
and a BookingGate served by uvicorn over a real socket (what an HTTP server lets through).
httpx upper-cases methods before sending, so the socket layer writes the request line itself.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gate import BookingGate, CheckoutRoute, StaticBalanceSource
from gate.adapters.routes import RouteMatcher
from gate.identity import TrustedHeaderResolver
from gate.policy.shipped import shipped_policies
from gate.tooling.testing import run_server

STANDARD = (
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "QUERY",
    "REPORT", "MKCALENDAR", "PURGE", "LINK", "UNLINK", "ACL",
)
#: Not methods anyone defined, but valid tokens: an HTTP server passes them on.
JUNK_TOKENS = ("FOO", "BREW", "X-CUSTOM", "M-SEARCH", "G.E.T", "GET2", "OPTION", "OPTIONS2",
               "~", "*")
#: Not tokens at all: only a raw scope (a lax server, a test client, a proxy) carries these.
#: "OPTION\u017f" (long s) upper-cases to "OPTIONS" under Unicode rules: it must still be gated.
RAW_ONLY = ("", "get ", " GET", "GET\t", "G E T", "OPTIONS ", "OPTIONS\n", "OPTIONS\x00",
            "OPTION\u017f", "\uff27\uff25\uff34", "OPT\u0130ONS", "options;", "GET, POST")


def _cases(method: str) -> set[str]:
    alternating = "".join(ch.lower() if i % 2 else ch.upper() for i, ch in enumerate(method))
    return {method, method.upper(), method.lower(), method.capitalize(), alternating,
            alternating.swapcase()}


CORPUS = sorted({case for method in STANDARD + JUNK_TOKENS + RAW_ONLY for case in _cases(method)})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
#: What an HTTP/1.1 server accepts on the request line.
HTTP_CORPUS = [m for m in CORPUS if _TOKEN.match(m)]

#: Route configurations: which request methods may reach the app without a decision.
ROUTES = {
    "default": (CheckoutRoute(), lambda m: m.isascii() and m.upper() == "OPTIONS"),
    "strict": (CheckoutRoute(pass_methods=()), lambda m: False),
    "form-is-public": (CheckoutRoute(pass_methods=("OPTIONS", "GET", "HEAD")),
                       lambda m: m.isascii() and m.upper() in {"OPTIONS", "GET", "HEAD"}),
}
QUERY = b"bookings_serviceId=svc"


def _id(method: str) -> str:
    return ascii(method)


def test_corpus_size() -> None:
    """The counts in the report come from here: see the assertion message with -rA or -v."""
    sizes = (len(CORPUS), len(HTTP_CORPUS), len(CORPUS) - len(HTTP_CORPUS))
    assert sizes[0] >= 150 and sizes[1] >= 100, f"corpus={sizes[0]} http={sizes[1]} raw={sizes[2]}"
    print(f"method corpus: {sizes[0]} strings, {sizes[1]} valid HTTP tokens, "
          f"{sizes[2]} raw-scope only; x{len(ROUTES)} route configurations")


def _scope(method: str, path: str = "/booking-form", root_path: str = "") -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http",
        "method": method, "path": root_path + path, "raw_path": (root_path + path).encode(),
        "root_path": root_path, "query_string": QUERY, "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }


# --- layer 1: the matcher, with raw scopes ------------------------------------------------


@pytest.mark.parametrize("config", list(ROUTES))
@pytest.mark.parametrize("method", CORPUS, ids=_id)
def test_matcher_gates_every_method_not_listed(config: str, method: str) -> None:
    route, passes = ROUTES[config]
    matcher = RouteMatcher([route])
    for path, root in (("/booking-form", ""), ("/booking-form/", ""), ("/booking-form", "/s")):
        found = matcher.match_scope(_scope(method, path, root))
        if passes(method):
            assert found is None, f"{method!r} on {root}{path} must pass ({config})"
        else:
            assert found is not None, f"{method!r} on {root}{path} reached the app ungated"
            assert found.service_id == "svc"


# --- layer 2: a real BookingGate, in-process, with raw scopes -------------------------------


class Recorder:
    """The app behind the gate: answers 200 and remembers every request that reached it."""

    def __init__(self, app: ASGIApp | None = None) -> None:
        self.seen: list[tuple[str, str]] = []
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["method"], scope["query_string"].decode("latin-1")))
        if self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await PlainTextResponse("reached", headers={"X-App": "reached"})(scope, receive, send)


def _gate(app: ASGIApp, balances: Path, route: CheckoutRoute, policies: Any = None) -> BookingGate:
    return BookingGate(
        app, policies=policies or shipped_policies(), checkouts=[route], reload_interval=None,
        source=StaticBalanceSource(balances, clock=lambda: 0.0),
        resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])],
    )


@pytest.fixture(scope="module")
def balances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("methods") / "balances.yaml"
    path.write_text("members:\n  m-1:\n    - {pool: p, available: '5'}\n")
    return path


def _gate_answered(status: int, headers: dict[str, str]) -> bool:
    """A decision made by the gate itself (which rule is not the point here: a visitor who
    is signed out is never let through by the shipped policies)."""
    return status in (303, 403, 503) and bool(headers.get("x-gate-rule"))


def _call(app: ASGIApp, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return sent


def _start(sent: list[dict[str, Any]]) -> tuple[int, dict[str, str]]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}


@pytest.mark.parametrize("config", list(ROUTES))
@pytest.mark.parametrize("method", CORPUS, ids=_id)
def test_booking_gate_gates_every_method_not_listed(
    config: str, method: str, balances: Path
) -> None:
    route, passes = ROUTES[config]
    app = Recorder()
    gate = _gate(app, balances, route)
    for path, root in (("/booking-form", ""), ("/booking-form/", ""), ("/booking-form", "/s")):
        status, headers = _start(_call(gate, _scope(method, path, root)))
        if passes(method):
            assert app.seen and status == 200, f"{method!r} must reach the app ({config})"
        else:
            assert not app.seen, f"{method!r} on {root}{path} reached the app ungated"
            assert _gate_answered(status, headers), (method, status, headers)
        app.seen.clear()


POLICY = """apiVersion: booking-gate/v1
rules:
  - name: {name}
    when: '{when}'
    action: deny
    status: 403
    message: Closed.
    reason: closed
"""


@pytest.mark.parametrize(("name", "when", "method", "path"), [
    ("no-posts", 'method == "POST"', "post", "/booking-form"),
    ("no-posts", 'method == "POST"', "PoSt", "/booking-form"),
    ("form-closed", 'path == "/booking-form"', "GET", "/booking-form/"),
    ("form-closed", 'path == "/booking-form"', "GET", "/booking-form\n"),
])
def test_policies_see_the_normalised_method_and_path(
    tmp_path: Path, balances: Path, name: str, when: str, method: str, path: str
) -> None:
    """A rule on ``method == "POST"`` or on the path must not be dodged with case or a slash.

    Needs the middleware to hand the core ``match.method`` and ``match.path``.
    """
    (tmp_path / "rules.yaml").write_text(POLICY.format(name=name, when=when))
    app = Recorder()
    gate = _gate(app, balances, CheckoutRoute(), policies=tmp_path / "rules.yaml")
    status, headers = _start(_call(gate, _scope(method, path)))
    assert not app.seen, f"{method} {path!r} dodged rule {name}"
    assert (status, headers.get("x-gate-rule")) == (403, name)


def test_ambiguous_service_answer_is_private(balances: Path) -> None:
    """Needs the middleware to answer with ``gate.adapters.responses.ambiguous_service``."""
    gate = _gate(Recorder(), balances, CheckoutRoute())
    scope = _scope("GET") | {"query_string": b"bookings_serviceId=a&bookings_serviceId=b"}
    status, headers = _start(_call(gate, scope))
    assert status == 400
    assert headers["cache-control"] == "no-store"
    assert headers["vary"] == "Cookie, Authorization, Accept"


# --- layer 3: Starlette behind the gate, served by uvicorn, over a real socket --------------


class Checkout(HTTPEndpoint):
    """Starlette dispatches on ``method.lower()``: "get" and "GeT" both reach ``get``."""

    async def get(self, request: Request) -> Response:
        return PlainTextResponse("checkout", headers={"X-App": "reached"})

    post = put = patch = delete = options = get


def _site() -> Starlette:
    return Starlette(routes=[Route("/booking-form", Checkout)])


@pytest.fixture(scope="module")
def servers(balances: Path) -> Iterator[dict[str, tuple[str, Recorder]]]:
    """The gate straight under uvicorn, and under a Starlette Mount (root_path /studio)."""
    direct, mounted = Recorder(_site()), Recorder(_site())
    outer = Starlette(routes=[Mount("/studio", app=_gate(mounted, balances, CheckoutRoute()))])
    with run_server(_gate(direct, balances, CheckoutRoute())) as url, \
            run_server(outer) as studio_url:
        yield {"direct": (url, direct), "mounted": (studio_url + "/studio", mounted)}


def _raw_request(base: str, method: str, target: str) -> tuple[int, dict[str, str]]:
    """Send one request line as written (no client normalises it); return status, headers."""
    host, port = base.split("//", 1)[1].split("/", 1)[0].split(":")
    prefix = base.split(f"{host}:{port}", 1)[1]
    request = (f"{method} {prefix}{target} HTTP/1.1\r\nHost: {host}\r\n"
               "Connection: close\r\nContent-Length: 0\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split(" ")[1]), headers


@pytest.mark.parametrize("where", ["direct", "mounted"])
@pytest.mark.parametrize("method", HTTP_CORPUS, ids=_id)
def test_over_http_nothing_reaches_the_app_ungated(
    servers: dict[str, tuple[str, Recorder]], where: str, method: str
) -> None:
    base, app = servers[where]
    probe = f"probe={where}-{HTTP_CORPUS.index(method)}"
    for path in ("/booking-form", "/booking-form/"):
        status, headers = _raw_request(base, method, f"{path}?{QUERY.decode()}&{probe}")
        reached = any(probe in query for _, query in app.seen)
        if method.upper() == "OPTIONS":
            assert reached, f"{method} preflight must reach the app"
            continue
        assert not reached, f"{method} {path} reached the app ungated ({where})"
        assert "x-app" not in headers
        assert _gate_answered(status, headers), (method, path, status, headers)
