"""The hot path in-process: what the gate adds to one request, bare app vs gated, A/B.

The ASGI apps are called directly with prebuilt scopes (no sockets, no server). Each round
times a batch of requests on the bare app and a batch on the gate, in alternating order, and
the result is the median over rounds of (gated - bare), in µs per request. Data is cached:
the gate reads Wix (Bearer tokens, Benefit Programs) from an in-process emulator, warmed
before timing, with caches longer than the run; decision logging is on at INFO to a null
stream in the gate's default format (bench.common.decision_logging_on).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import apps
from bench.common import (
    ALLOW_MEMBER,
    ALLOW_TOKEN,
    CHECKOUT,
    REDIRECT_MEMBER,
    REDIRECT_TOKEN,
    TIMED_LOG_FORMAT,
    decision_logging_on,
    median,
    percentile,
    progress,
    rnd,
    temp_dir,
    write_policy,
)

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def scope(path_and_query: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    path, _, query = path_and_query.partition("?")
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "headers": [(b"host", b"studio.example"), *headers],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: dict[str, Any]) -> None:
    return None


async def answer(app: ASGIApp, request: dict[str, Any]) -> tuple[int, dict[str, str]]:
    """Status and headers of one in-process request."""
    found: dict[str, Any] = {}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            found["status"] = message["status"]
            found["headers"] = {k.decode().lower(): v.decode()
                                for k, v in message.get("headers", [])}

    await app({**request, "state": {}}, _receive, send)
    return found["status"], found["headers"]


async def _batch(app: ASGIApp, request: dict[str, Any], count: int) -> float:
    """µs per request over ``count`` requests (each gets a fresh scope dict, as a server's)."""
    start = time.perf_counter_ns()
    for _ in range(count):
        await app({**request, "state": {}}, _receive, _discard)
    return (time.perf_counter_ns() - start) / count / 1000


async def ab(bare: ASGIApp, gated: ASGIApp, request: dict[str, Any], *,
             rounds: int) -> dict[str, float]:
    """Alternate bare and gated batches; the median of per-round differences.

    A batch is sized so the gated one takes about 20 ms: long enough to dwarf the timer,
    short enough that many rounds fit and a noisy neighbour spoils only a few of them.
    """
    for _ in range(3):  # warm both paths: caches, the interpreter's specialisations
        await _batch(bare, request, 50)
        await _batch(gated, request, 50)
    batch = max(20, min(2000, int(20_000 / max(await _batch(gated, request, 50), 0.1))))
    gc.collect()
    bare_us, gated_us, diffs = [], [], []
    for index in range(rounds):
        if index % 2:
            g = await _batch(gated, request, batch)
            b = await _batch(bare, request, batch)
        else:
            b = await _batch(bare, request, batch)
            g = await _batch(gated, request, batch)
        bare_us.append(b)
        gated_us.append(g)
        diffs.append(g - b)
    return {"diff_us": median(diffs), "bare_us": median(bare_us), "gated_us": median(gated_us),
            "diff_p90_us": percentile(diffs, 90), "batch": batch}


class EmptyMiddleware:
    """The least a pure ASGI middleware can cost: one ``async def __call__`` awaiting the app.
    What ``passthrough_us`` is compared with (``empty_middleware_us``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


async def _expect(app: ASGIApp, request: dict[str, Any], status: int, rule: str | None) -> None:
    got, headers = await answer(app, request)
    if got != status or (rule is not None and headers.get("x-gate-rule") != rule):
        raise RuntimeError(f"{request['path']}?{request['query_string'].decode()} answered "
                           f"{got} rule={headers.get('x-gate-rule')!r}, expected {status} "
                           f"rule={rule!r}: the benchmark would measure the wrong path")


async def _cases(quick: bool) -> dict[str, Any]:
    rounds = 20 if quick else 150
    results: dict[str, Any] = {}
    bearer = {"allow": [(b"authorization", ALLOW_TOKEN.encode())],
              "redirect": [(b"authorization", REDIRECT_TOKEN.encode())]}
    header = {"allow": [(b"x-member-id", ALLOW_MEMBER.encode())],
              "redirect": [(b"x-member-id", REDIRECT_MEMBER.encode())]}
    with temp_dir() as tmp:
        fifty = str(write_policy(50, tmp / "fifty"))
        setups = [
            ("wix", apps.gated(), apps.gated(fifty), bearer),
            ("static", apps.gated_static(), apps.gated_static(fifty), header),
        ]
        for kind, gate, gate50, who in setups:
            suffix = "" if kind == "wix" else "_static"
            passthrough = scope("/book-online", who["allow"])
            allow = scope(CHECKOUT, who["allow"])
            redirect = scope(CHECKOUT, who["redirect"])
            # Warm every cache the measured requests use, and check they take the right path.
            await _expect(gate, allow, 200, None)
            await _expect(gate, redirect, 303, "no-credits")
            await _expect(gate50, allow, 200, None)
            await _expect(gate, passthrough, 200, None)
            cases = [
                ("passthrough_us", gate, passthrough),
                ("checkout_allow_us", gate, allow),
                ("checkout_redirect_us", gate, redirect),
                ("checkout_allow_50_rules_us", gate50, allow),
            ]
            for field, app, request in cases:
                name = field.replace("_us", suffix + "_us")
                measured = await ab(apps.bare_app, app, request, rounds=rounds)
                results[name] = rnd(measured["diff_us"])
                results.setdefault("hot_detail", {})[name] = {
                    k: rnd(v) for k, v in measured.items()}
                progress(f"hot  {name:36s} +{measured['diff_us']:8.2f} µs over bare "
                         f"(bare {measured['bare_us']:.2f} µs, gated {measured['gated_us']:.2f}"
                         f" µs, p90 of diffs {measured['diff_p90_us']:.2f})")
            if kind == "wix":
                # The same checkout with a hand-written format that has the time in it: the
                # stdlib formats each line (gate.observe.lines), what a site pays that sets one.
                decision_logging_on(TIMED_LOG_FORMAT)
                timed = await ab(apps.bare_app, gate, allow, rounds=rounds)
                decision_logging_on()
                results["checkout_allow_timed_log_us"] = rnd(timed["diff_us"])
                progress(f"hot  {'checkout_allow_timed_log_us':36s} +{timed['diff_us']:8.2f} µs "
                         "over bare (decision lines formatted with %(asctime)s)")
            for app in (gate, gate50):
                await app.aclose()
    # The floor under passthrough_us on this machine and Python: an empty middleware.
    floor = await ab(apps.bare_app, EmptyMiddleware(apps.bare_app),
                     scope("/book-online", []), rounds=rounds)
    results["empty_middleware_us"] = rnd(floor["diff_us"])
    progress(f"hot  {'empty_middleware_us':36s} +{floor['diff_us']:8.2f} µs over bare (an "
             "async def __call__ that awaits the app: the floor under passthrough_us)")
    results["hot_setup"] = {
        "rounds": rounds,
        "wix": "BookingGate over bare ASGI app; Wix member token in Authorization "
               "(WixTokenResolver) and WixBalanceSource on an in-process emulator "
               "(httpx.ASGITransport), warmed, cache_ttl 24 h",
        "static": "BookingGate; X-Member-Id from a trusted proxy; StaticBalanceSource",
        "logging": "booking_gate.decision at INFO to a null stream, in the gate's default "
                   "format (%(levelname)s %(name)s: %(message)s, as serve, the demo and "
                   "show_decision_lines set up); checkout_allow_timed_log_us with "
                   "%(asctime)s added",
        "policy": "shipped policies/ (8 rules); 50 rules = shipped + 42 fillers, all false",
    }
    return results


def run(quick: bool) -> dict[str, Any]:
    return asyncio.run(_cases(quick))


async def profile_allow(requests: int = 20000) -> str:
    """cProfile of the cached allowed checkout through the Wix-configured gate."""
    import cProfile
    import io
    import pstats

    gate = apps.gated()
    allow = scope(CHECKOUT, [(b"authorization", ALLOW_TOKEN.encode())])
    await _expect(gate, allow, 200, None)
    profiler = cProfile.Profile()
    profiler.enable()
    await _batch(gate, allow, requests)
    profiler.disable()
    await gate.aclose()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"gate/|cel|logging", 30)
    stats.sort_stats("tottime").print_stats(25)
    return out.getvalue()
