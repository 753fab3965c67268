"""Shared fixtures: a real Wix emulator and real gated apps, all on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gate import BookingGate, WixSettings
from gate.policy.shipped import shipped_policies
from gate.tooling.demo.site import DEMO_SERVICES, TOKEN_COOKIE, create_demo_site
from gate.tooling.emulator import DEMO_SEED_PATH, create_emulator, load_seed
from gate.tooling.emulator import TOKEN_PATTERN as EMULATOR_TOKENS
from gate.tooling.testing import run_server
from tests.redis_server import RedisServer, redis_server_running

SITE_ID = "test-site-0001"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Under CI=true a skip is a failure: CI installs every real component the tests use, so
    a test that skips there proves nothing and must not pass quietly."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must not happen: {report.longrepr}"
YOGA = DEMO_SERVICES[0].id
PILATES = DEMO_SERVICES[1].id
CHECKOUT = f"/booking-form?bookings_serviceId={YOGA}"


async def _checkout_page(request: Request) -> PlainTextResponse:
    return PlainTextResponse("checkout page", headers={"X-Demo-Page": "checkout"})


#: A bare app with a checkout page, for gates that do not need the demo site.
CHECKOUT_APP = Starlette(routes=[Route("/booking-form", _checkout_page, methods=["GET", "POST"])])


class FakeClock:
    """A monotonic clock the test moves by hand, so TTLs expire without sleeping."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Emulator:
    """A running emulator and an HTTP client for its admin endpoints."""

    url: str
    api_key: str
    admin: httpx.Client
    members: dict[str, str] = field(default_factory=dict)

    def calls(self, route: str = "POST /benefit-programs/v1/balances/query") -> int:
        return int(self.admin.get("/_emulator/calls").json()["calls"].get(route, 0))

    def token(self, member: str) -> str:
        response = self.admin.post("/_emulator/tokens", json={"member": member})
        response.raise_for_status()
        return str(response.json()["access_token"])

    def visitor_token(self) -> str:
        response = self.admin.post("/_emulator/tokens", json={"visitor": True})
        return str(response.json()["access_token"])

    def set_balance(self, pool_id: str, **fields: str) -> None:
        self.admin.patch(f"/_emulator/balances/{pool_id}", json=fields).raise_for_status()

    def fault(self, route: str, **spec: Any) -> None:
        response = self.admin.post("/_emulator/faults", json={"route": route, **spec})
        response.raise_for_status()


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[tuple[str, str]]:
    api_key = "test-key-" + secrets.token_urlsafe(16)
    app = create_emulator(load_seed(DEMO_SEED_PATH), api_key=api_key, site_id=SITE_ID)
    with run_server(app) as url:
        yield url, api_key


@pytest.fixture
def emulator(emulator_server: tuple[str, str]) -> Iterator[Emulator]:
    url, api_key = emulator_server
    with httpx.Client(base_url=url) as admin:
        admin.post("/_emulator/reset").raise_for_status()
        listing = admin.get("/_emulator/members").json()["members"]
        yield Emulator(url, api_key, admin, {m["name"]: m["id"] for m in listing})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def balances(tmp_path: Path) -> Path:
    """A static balance file: ``m-rich`` holds 3 credits in one pool, ``m-broke`` none."""
    path = tmp_path / "balances.yaml"
    path.write_text(
        "members:\n"
        "  m-rich:\n    - {pool: p1, available: '3'}\n"
        "  m-broke:\n    - {pool: p2, available: '0'}\n"
    )
    return path


@pytest.fixture
def gated(emulator: Emulator, clock: FakeClock) -> Iterator[Callable[..., Any]]:
    """Start a gated app; returns (base URL, gate). Members sign in with Authorization."""
    stack: list[Any] = []

    @contextmanager
    def start(**options: Any) -> Iterator[tuple[str, BookingGate]]:
        wix = options.pop("wix", WixSettings(api_key=emulator.api_key, site_id=SITE_ID,
                                             base_url=emulator.url, retries=0))
        options.setdefault("token_pattern", EMULATOR_TOKENS)  # a real gate: Wix's shape only
        gate = BookingGate(CHECKOUT_APP, policies=options.pop("policies", shipped_policies()),
                           wix=wix, clock=clock, **options)
        with run_server(gate) as url:
            yield url, gate

    def factory(**options: Any) -> tuple[str, BookingGate]:
        context = start(**options)
        stack.append(context)
        return context.__enter__()

    yield factory
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def demo(emulator: Emulator, clock: FakeClock) -> Iterator[Callable[..., httpx.Client]]:
    """The demo site behind the gate, served by uvicorn; call it to get a client as someone."""
    gate = create_demo_site(
        emulator_url=emulator.url, api_key=emulator.api_key, site_id=SITE_ID,
        policies=shipped_policies(), clock=clock,
    )
    with run_server(gate) as url:
        clients: list[httpx.Client] = []

        def client_as(member: str | None = None) -> httpx.Client:
            client = httpx.Client(base_url=url, follow_redirects=False)
            if member is not None:
                client.cookies.set(TOKEN_COOKIE, emulator.token(member))
            clients.append(client)
            return client

        client_as.gate = gate  # type: ignore[attr-defined]
        yield client_as
        for client in clients:
            client.close()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1 for one test module (skips if not installed)."""
    with redis_server_running(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The module's redis-server, emptied (and running) for this test."""
    if redis_server.process is None:
        redis_server.start()  # a test before this one stopped it
    redis_server.flush()
    return redis_server.url
