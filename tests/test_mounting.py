"""Mounted with ``Middleware(...)``: the app can still reach the gate, and its lines show."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gate import BookingGate
from gate.adapters.middleware import GATE_KEY
from gate.data.sources.static import StaticBalanceSource
from gate.identity.trusted_header import TrustedHeaderResolver
from gate.observe.lines import show_decision_lines
from gate.policy.shipped import shipped_policies
from gate.tooling.testing import run_server

BALANCES = """services:
  yoga: [yoga-set]
members:
  m-1: [{pool: p, available: "3", benefits: [{item_set: yoga-set, price: "1"}]}]
"""


def test_the_app_reaches_the_gate_through_request_state(tmp_path: Path) -> None:
    (tmp_path / "balances.yaml").write_text(BALANCES)
    forgotten: list[str] = []

    async def booked(request: Request) -> PlainTextResponse:
        gate: BookingGate = getattr(request.state, GATE_KEY)
        await gate.invalidate("m-1")  # e.g. right after the booking went through
        forgotten.append("m-1")
        return PlainTextResponse("thanks")

    async def checkout(request: Request) -> PlainTextResponse:
        return PlainTextResponse("checkout")

    app = Starlette(
        routes=[Route("/booked", booked, methods=["POST"]), Route("/booking-form", checkout)],
        middleware=[Middleware(
            BookingGate,  # type: ignore[arg-type]  # starlette's factory protocol
            policies=shipped_policies(), reload_interval=None,
            source=StaticBalanceSource(tmp_path / "balances.yaml", clock=lambda: 0.0),
            resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])])],
    )
    with run_server(app) as url:
        ok = httpx.get(url + "/booking-form?bookings_serviceId=yoga",
                       headers={"X-Member-Id": "m-1"})
        assert ok.text == "checkout"
        assert httpx.post(url + "/booked").text == "thanks"
    assert forgotten == ["m-1"]


def test_decision_lines_go_to_stderr_only_when_nothing_is_configured() -> None:
    gate_logger = logging.getLogger("booking_gate")
    before = list(gate_logger.handlers), gate_logger.level
    try:
        configured = logging.Logger("root-with-a-handler")
        configured.addHandler(logging.NullHandler())
        assert not show_decision_lines(configured)  # the application chose: left alone
        assert gate_logger.handlers == before[0]
        assert show_decision_lines(logging.Logger("bare-root"))
        assert len(gate_logger.handlers) == len(before[0]) + 1
        assert gate_logger.isEnabledFor(logging.INFO)
        assert not show_decision_lines(logging.Logger("bare-root"))  # once only
    finally:
        gate_logger.handlers[:] = before[0]
        gate_logger.setLevel(before[1])
