"""The ASGI apps the benchmarks measure, built the same way in-process and in child processes.

* ``bare_app``: the app a gate stands in front of; answers 200 "ok" and nothing else.
* ``bare_private()``: ``bare_app`` whose answer carries the headers the gate adds to an allowed
  checkout (``Cache-Control``, ``Vary``, ``X-Gate-Data: fresh``), through the gate's own
  ``private_send``: what those headers cost, the server's work on them and the gate's header
  code together, with no decision at all (the floor under ``http_ratio_c64``).
* ``gated(...)``: ``BookingGate(bare_app)`` reading Wix, exactly as deployed (member tokens in
  ``Authorization``, credits from Benefit Programs), with the emulator inside the same process
  behind ``httpx.ASGITransport``: no sockets, and once warmed every request is served from the
  gate's caches, so what is measured is the gate's own cost.
* ``gated_static(...)``: the same gate on a ``StaticBalanceSource`` and ``X-Member-Id`` from a
  trusted proxy: the cheapest identity and source, for comparison.
* ``service_inproc(...)`` / ``service_wix(...)``: ``create_service(GateSettings(...))``, the
  decision API, on the in-process emulator or on one served elsewhere.
* ``middleware_wix(...)``: ``BookingGate(bare_app)`` on an emulator served elsewhere.
* ``bare_json()``: a bare Starlette JSON endpoint, the decision API's baseline.
* ``emulator(...)``: the Wix emulator on a seed file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    ALLOW_MEMBER,
    API_KEY,
    API_SECRET,
    REDIRECT_MEMBER,
    SITE_ID,
    YOGA,
    decision_logging_on,
)

#: A base URL that only ASGITransport ever sees: nothing is resolved or connected.
INPROC_URL = "http://wix.emulator.invalid"
#: Caches that outlive any benchmark: a measured request must never fall back to Wix.
LONG_TTL = 24 * 3600.0


def _clean_env() -> None:
    # GateSettings reads BOOKING_GATE_* and the environment wins: nothing inherited may leak in.
    for name in [n for n in os.environ if n.startswith("BOOKING_GATE_")]:
        del os.environ[name]


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def bare() -> Any:
    """``bare_app``, for ``serve_child``."""
    return bare_app


def bare_private() -> Any:
    """``bare_app`` with an allowed checkout's private headers, for ``serve_child``."""
    from gate.adapters.responses import PrivateSend, private_send
    from gate.policy.decision import Decision, Outcome

    tail = PrivateSend().extra(Decision(Outcome("allow", 200), "(default)", "bench",
                                        data="fresh"))

    # ``async``, as servers tell ASGI 3 apps by it (a plain function is served as ASGI 2): one
    # frame over ``bare_app``, a fraction of a microsecond in a request of tens.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await bare_app(scope, receive,
                       private_send(send, tail) if scope["type"] == "http" else send)

    return app


def emulator(seed: str | None = None, latency: float = 0.0) -> Any:
    """The Wix emulator on ``seed`` (a path), or on the scenario seed (fixed tokens)."""
    from gate.tooling.emulator import SCENARIO_SEED_PATH, create_emulator, load_seed
    from gate.tooling.emulator.state import Latency

    app = create_emulator(load_seed(seed or SCENARIO_SEED_PATH), api_key=API_KEY,
                          site_id=SITE_ID)
    if latency:
        app.state.emulator.latency = Latency(latency)
    return app


def inproc_http() -> httpx.AsyncClient:
    """An httpx client whose every request is answered by an in-process scenario emulator."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator()), base_url=INPROC_URL)


def supports(option: str) -> bool:
    """Whether this gate's ``assemble`` takes ``option`` (the gate is being worked on)."""
    import inspect

    from gate.config.assemble import assemble

    return option in inspect.signature(assemble).parameters


def _token_options() -> dict[str, Any]:
    """The emulator's tokens are not shaped like Wix's (``OauthNG.JWS.…``): a gate that only
    sends Wix-shaped values to Wix must be told to accept them
    (gate.tooling.emulator.TOKEN_PATTERN)."""
    import gate.tooling.emulator

    pattern = getattr(gate.tooling.emulator, "TOKEN_PATTERN", None)
    return {"token_pattern": pattern} if pattern and supports("token_pattern") else {}


def _policies(policy_dir: str | None) -> Any:
    from gate.policy.shipped import shipped_policies

    return Path(policy_dir) if policy_dir else shipped_policies()


def gated(policy_dir: str | None = None, logging_on: bool = True) -> Any:
    """The middleware on Wix (in-process emulator), Bearer tokens, long caches."""
    from gate import BookingGate, WixSettings

    _clean_env()
    if logging_on:
        decision_logging_on()
    return BookingGate(
        bare_app, policies=_policies(policy_dir), reload_interval=None,
        wix=WixSettings(api_key=API_KEY, site_id=SITE_ID, base_url=INPROC_URL),
        http_client=inproc_http(), cache_ttl=LONG_TTL, **_token_options(),
    )


def gated_static(policy_dir: str | None = None, logging_on: bool = True) -> Any:
    """The middleware on a static balance file and a trusted ``X-Member-Id`` header."""
    import tempfile
    import time

    from gate import BookingGate, StaticBalanceSource
    from gate.identity import TrustedHeaderResolver

    _clean_env()
    if logging_on:
        decision_logging_on()
    folder = Path(tempfile.mkdtemp(prefix="booking-gate-bench-static-"))
    balances = folder / "balances.yaml"
    balances.write_text(
        "members:\n"
        f"  {ALLOW_MEMBER}:\n    - {{pool: p1, available: '5', benefits: [{{item_set: s}}]}}\n"
        f"  {REDIRECT_MEMBER}:\n    - {{pool: p2, available: '0', benefits: [{{item_set: s}}]}}\n"
        f"services:\n  {YOGA}: [s]\n", encoding="utf-8")
    return BookingGate(
        bare_app, policies=_policies(policy_dir), reload_interval=None,
        source=StaticBalanceSource(balances, clock=time.monotonic), cache_ttl=LONG_TTL,
        resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])],
    )


def _settings(base_url: str, **extra: Any) -> Any:
    from pydantic import SecretStr

    from gate.config.settings import GateSettings
    from gate.policy.shipped import shipped_policies

    return GateSettings(
        wix_api_key=SecretStr(API_KEY), wix_site_id=SITE_ID, wix_base_url=base_url,
        api_secret=SecretStr(API_SECRET), policies=[shipped_policies()], reload_interval=None,
        **extra,
    )


def service_inproc(logging_on: bool = True) -> Any:
    """``booking-gate serve``'s app on the in-process emulator, with long caches."""
    from gate.adapters.service.app import create_service

    _clean_env()
    if logging_on:
        decision_logging_on()
    return create_service(_settings(INPROC_URL, cache_ttl=LONG_TTL), http_client=inproc_http())


def service_wix(base_url: str, logging_on: bool = True, **settings: Any) -> Any:
    """``booking-gate serve``'s app on an emulator at ``base_url``, default settings."""
    from gate.adapters.service.app import create_service

    _clean_env()
    if logging_on:
        decision_logging_on()
    return create_service(_settings(base_url, **settings))


def middleware_wix(base_url: str, logging_on: bool = True, **options: Any) -> Any:
    """``BookingGate(bare_app)`` on an emulator at ``base_url``: tokens and credits from it."""
    from gate import BookingGate, WixSettings
    from gate.policy.shipped import shipped_policies

    _clean_env()
    if logging_on:
        decision_logging_on()
    return BookingGate(
        bare_app, policies=shipped_policies(), reload_interval=None,
        wix=WixSettings(api_key=API_KEY, site_id=SITE_ID, base_url=base_url),
        **{**_token_options(), **options},
    )


def bare_json() -> Any:
    """What a minimal JSON API on the same stack costs: read the body, parse it, answer."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def decide(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"outcome": "allow", "location": None, "status": 200,
                             "rule": None, "memberId": body.get("memberId")},
                            headers={"Cache-Control": "no-store"})

    return Starlette(routes=[Route("/v1/decisions", decide, methods=["POST"])])
