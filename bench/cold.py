"""The cold path against the Wix emulator (issue E): burst, sustained load, junk tokens.

Three processes: the emulator (``bench.apps.emulator`` on a generated seed of 1,000 members,
each with one pool; every tenth member has 0 credits), the gate (``create_service`` or the
middleware, default settings, served by uvicorn through ``gate.tooling.testing.run_server``),
and this one, the load generator: ``bench.loadgen.RawClient`` (httpx for set-up) sending
open-loop, so each request leaves at its scheduled time whether or not earlier ones have
answered. Wix calls are counted at the emulator, never inferred from the gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    API_SECRET,
    CHECKOUT,
    YOGA,
    Server,
    expected_rule,
    max_in_window,
    member_id,
    percentile,
    progress,
    rnd,
    serve_child,
    temp_dir,
    write_seed,
)
from bench.loadgen import RawClient

LATENCY = 0.05
MEMBERS = 1000
TOKEN_INFO = "POST /oauth2/token-info"
#: Real members' checkouts per second during the junk-token phases.
REAL_RATE = 100.0

Sample = tuple[float, float, Any]  # (scheduled offset, latency in s, result)


async def open_loop(
    calls: list[tuple[float, Callable[[], Awaitable[Any]]]],
) -> list[Sample]:
    """Start each call at its offset (seconds from now); latency is measured per call from
    the moment it actually starts."""
    start = time.perf_counter()
    samples: list[Sample] = []

    async def one(offset: float, call: Callable[[], Awaitable[Any]]) -> None:
        began = time.perf_counter()
        try:
            result = await call()
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result = ("client_error", None, None, None, None, type(exc).__name__)
        samples.append((offset, time.perf_counter() - began, result))

    tasks = []
    for offset, call in sorted(calls, key=lambda item: item[0]):
        delay = start + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(offset, call)))
    await asyncio.gather(*tasks)
    return samples


def _client(base_url: str, connections: int) -> RawClient:
    return RawClient(base_url, connections)


def _decide(client: RawClient, index: int) -> Callable[[], Awaitable[Any]]:
    async def call() -> Any:
        response = await client.post(
            "/v1/decisions", json={"memberId": member_id(index), "serviceId": YOGA},
            headers={"Authorization": f"Bearer {API_SECRET}"})
        if response.status_code != 200:
            return ("http", index, None, None, None, f"http {response.status_code}")
        body = response.json()
        return ("ok", index, body["outcome"], body["rule"], body.get("data"), body.get("error"))

    return call


def _error_kind(result: Any) -> str:
    if result[0] == "ok":
        return str(result[5])
    return str(result[-1])


def _judge(result: Any) -> str:
    """correct, wrong (the opposite answer) or error (on_error, HTTP or client failure)."""
    if result[0] != "ok":
        return "error"
    _, index, outcome, rule, _data, error = result
    if error is not None:
        return "error"
    want = expected_rule(index)
    if want is None:
        return "correct" if outcome == "allow" else "wrong"
    return "correct" if outcome == "redirect" and rule == want else "wrong"


async def _calls(admin: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await admin.get("/_emulator/calls", params=params)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


# -- burst ------------------------------------------------------------------------------------

async def _burst(emulator_url: Server, service_url: Server, count: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=emulator_url) as admin, \
            _client(service_url, connections=count + 50) as client:
        await client.warm("/healthz")
        await admin.post("/_emulator/calls/reset")
        order = list(range(count))
        random.Random(500).shuffle(order)
        calls = [(n / count, _decide(client, index)) for n, index in enumerate(order)]
        cpu = (emulator_url.cpu(), service_url.cpu(), time.process_time())
        began = time.perf_counter()
        samples = await open_loop(calls)
        took = time.perf_counter() - began
        cpu = (emulator_url.cpu() - cpu[0], service_url.cpu() - cpu[1],
               time.process_time() - cpu[2])
        await asyncio.sleep(0.2)  # nothing should follow, but count anything that does
        counted = await _calls(admin, timeline=1)
    verdicts = Counter(_judge(result) for _, _, result in samples)
    latencies = [latency * 1000 for _, latency, _ in samples]
    errors = Counter(_error_kind(r) for _, _, r in samples if _judge(r) == "error")
    return {
        "burst_500_calls": sum(counted["calls"].values()),
        "burst_500_p99_ms": rnd(percentile(latencies, 99), 1),
        "burst_detail": {
            "members": count, "spread_s": 1.0, "took_s": rnd(took, 3),
            "p50_ms": rnd(percentile(latencies, 50), 1),
            "max_ms": rnd(max(latencies), 1),
            "correct": verdicts["correct"], "wrong": verdicts["wrong"],
            "errors": verdicts["error"], "error_kinds": dict(errors),
            "calls_by_route": counted["calls"],
            "zero_credit_members": sum(1 for i in range(count) if expected_rule(i)),
            "cpu_s": {"emulator": rnd(cpu[0]), "gate": rnd(cpu[1]), "client": rnd(cpu[2])},
            # When each Wix call reached the emulator, in ms after the first one.
            "calls_at_ms": _call_times(counted["timeline"]),
        },
    }


def _call_times(timeline: list[dict[str, Any]]) -> list[str]:
    if not timeline:
        return []
    first = timeline[0]["at"]
    return [f"{(entry['at'] - first) * 1000:.0f} {entry['route'].split('/')[-2]}"
            for entry in timeline]


# -- sustained --------------------------------------------------------------------------------

async def _sustained(emulator_url: str, service_urls: list[str], seconds: float,
                     rate: float) -> dict[str, Any]:
    """``rate`` decisions a second, spread over ``service_urls`` in turn (one instance, or a
    fleet sharing Redis); Wix calls counted at the emulator, for all of them together."""
    rng = random.Random(100)
    async with contextlib.AsyncExitStack() as stack:
        admin = await stack.enter_async_context(httpx.AsyncClient(base_url=emulator_url))
        clients = [await stack.enter_async_context(_client(url, connections=128))
                   for url in service_urls]
        for client in clients:
            await client.warm("/healthz")
        await admin.post("/_emulator/calls/reset")
        total = int(seconds * rate)
        calls = [(n / rate, _decide(clients[n % len(clients)], rng.randrange(MEMBERS)))
                 for n in range(total)]
        samples = await open_loop(calls)
        await asyncio.sleep(0.5)  # let background refreshes started at the end land
        counted = await _calls(admin, timeline=1)
    times = [entry["at"] for entry in counted["timeline"]]
    verdicts = Counter(_judge(result) for _, _, result in samples)
    data = Counter(str(r[4]) for _, _, r in samples if r[0] == "ok")
    errors = Counter(_error_kind(r) for _, _, r in samples if _judge(r) == "error")
    latencies = [latency * 1000 for _, latency, _ in samples]
    first = min(times) if times else 0.0
    per_10s = Counter(int((at - first) // 10) for at in times)
    return {
        "sustained_max_calls_per_min": max_in_window(times, 60.0),
        "sustained_detail": {
            "seconds": seconds, "rate_per_s": rate, "members": MEMBERS, "decisions": total,
            "calls_total": len(times), "calls_by_route": counted["calls"],
            "calls_per_10s": [per_10s.get(k, 0) for k in range(max(per_10s, default=-1) + 1)],
            "correct": verdicts["correct"], "wrong": verdicts["wrong"],
            "errors": verdicts["error"], "error_kinds": dict(errors),
            "data": dict(data),
            "p50_ms": rnd(percentile(latencies, 50), 1),
            "p99_ms": rnd(percentile(latencies, 99), 1),
        },
    }


# -- junk tokens ------------------------------------------------------------------------------

def _checkout(client: RawClient, token: str, forwarded: str,
              index: int | None) -> Callable[[], Awaitable[Any]]:
    """A checkout through the middleware; ``X-Forwarded-For`` (trusted by uvicorn from
    127.0.0.1) says which client it comes from."""
    async def call() -> Any:
        try:
            response = await client.get(CHECKOUT, headers={"Authorization": token,
                                                           "X-Forwarded-For": forwarded})
        except (OSError, asyncio.IncompleteReadError) as exc:
            return ("client_error", index, 0, None, type(exc).__name__)
        rule = response.headers.get("x-gate-rule")
        return ("ok", index, response.status_code, rule, response.headers.get("x-gate-error"))

    return call


def _judge_checkout(result: Any) -> str:
    if result[0] != "ok":
        return "error"
    _, index, status, rule, error = result
    if index is None or index < 0:
        raise ValueError("only real members have an expected answer")
    if error is not None or status not in (200, 303):
        return "error"
    want = expected_rule(index)
    if want is None:
        return "correct" if status == 200 else "wrong"
    return "correct" if status == 303 and rule == want else "wrong"


def _junk_token() -> str:
    """Junk in the shape of a Wix access token (``OauthNG.JWS.`` + three base64url parts), so
    no shape check can drop it: the worst case for the budget."""
    return "OauthNG.JWS." + ".".join(secrets.token_urlsafe(n) for n in (16, 48, 32))


async def _junk_phase(
    gate: Server, client: RawClient, admin: httpx.AsyncClient, real: list[tuple[int, str]],
    newcomers: list[tuple[int, str]], seconds: float, junk: int, junk_clients: int,
) -> dict[str, Any]:
    """Real members at REAL_RATE for ``seconds``, ``junk`` junk tokens spread over the same
    time, and ``newcomers``: real members signing in for the first time mid-way."""
    await admin.post("/_emulator/calls/reset")
    calls: list[tuple[float, Callable[[], Awaitable[Any]]]] = []
    for n in range(int(seconds * REAL_RATE)):
        index, token = real[n % len(real)]
        calls.append((n / REAL_RATE, _checkout(client, token, f"203.0.113.{1 + n % len(real)}",
                                               index)))
    for n, (index, token) in enumerate(newcomers):
        calls.append((seconds / 2 + n * 0.05,
                      _checkout(client, token, f"203.0.113.{100 + n}", -index)))
    for n in range(junk):
        forwarded = f"198.51.{100 + n % junk_clients // 250}.{1 + n % junk_clients % 250}"
        calls.append((n * seconds / max(junk, 1),
                      _checkout(client, _junk_token(), forwarded, None)))
    cpu = gate.cpu()
    samples = await open_loop(calls)
    cpu = gate.cpu() - cpu
    counted = await _calls(admin)
    junk_ms = [lat * 1000 for _, lat, r in samples if r[0] == "ok" and r[1] is None]
    regular = [(lat, r) for _, lat, r in samples if r[1] is not None and r[1] > 0]
    real_ms = [lat * 1000 for lat, r in regular if r[0] == "ok"]
    real_verdicts = Counter(_judge_checkout(r) for _, r in regular)
    new = [_first_visit(r) for _, _, r in samples if r[1] is not None and r[1] < 0]
    junk_answers = Counter(f"{r[2]} {r[3]}" for _, _, r in samples
                           if r[0] == "ok" and r[1] is None)
    token_calls = counted["calls"].get(TOKEN_INFO, 0)
    # A newcomer answered correctly was looked up once; every other lookup was junk's.
    new_looked_up = sum(1 for verdict, _ in new if verdict == "correct")
    return {
        "real_p50_ms": rnd(percentile(real_ms, 50), 2),
        "real_p99_ms": rnd(percentile(real_ms, 99), 2),
        "real_requests": len(real_ms),
        "real_correct": real_verdicts["correct"], "real_wrong": real_verdicts["wrong"],
        "real_errors": real_verdicts["error"],
        "newcomers": len(new),
        "newcomers_correct": new_looked_up,
        "newcomers_refused": dict(Counter(kind for verdict, kind in new if verdict != "correct")),
        "junk_requests": junk, "junk_clients": junk_clients if junk else 0,
        "junk_answers": dict(junk_answers),
        "junk_p50_ms": rnd(percentile(junk_ms, 50), 2),
        "junk_p99_ms": rnd(percentile(junk_ms, 99), 2),
        "gate_cpu_s": rnd(cpu),
        "token_info_calls": token_calls,
        "junk_token_lookups": token_calls - new_looked_up,
        "calls_by_route": counted["calls"],
    }


def _first_visit(result: Any) -> tuple[str, str]:
    """A newcomer's verdict, and what refused it (X-Gate-Error, or the status)."""
    if result[0] != "ok":
        return "error", str(result[-1])
    _, index, status, rule, error = result
    verdict = _judge_checkout(("ok", -index, status, rule, error))
    return verdict, (error or f"{status} {rule}") if verdict != "correct" else ""


async def _junk(emulator_url: str, middleware_url: Server, *, seconds: float, junk: int,
                junk_clients: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=emulator_url) as admin, \
            _client(middleware_url, connections=512) as client:

        async def mint(index: int) -> tuple[int, str]:
            minted = await admin.post("/_emulator/tokens", json={"member": f"m{index:05d}"})
            minted.raise_for_status()
            return index, minted.json()["access_token"]

        real = [await mint(i) for i in range(1, 21)]  # 20 members, two with 0 credits
        newcomers = {"quiet": [await mint(i) for i in range(21, 31)],
                     "junk": [await mint(i) for i in range(31, 41)]}
        # Each real member signs in once (one token lookup each), from its own address.
        for n, (index, token) in enumerate(real):
            verdict = _judge_checkout(await _checkout(client, token, f"203.0.113.{1 + n}",
                                                      index)())
            if verdict != "correct":
                raise RuntimeError(f"real member m{index:05d} warm-up: {verdict}")
        await client.warm("/book-online")
        return {
            "quiet": await _junk_phase(middleware_url, client, admin, real, newcomers["quiet"],
                                       seconds, 0, 1),
            "junk": await _junk_phase(middleware_url, client, admin, real, newcomers["junk"],
                                      seconds, junk, junk_clients),
        }


# -- the scenario -----------------------------------------------------------------------------

def run(quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with temp_dir() as tmp:
        seed = write_seed(MEMBERS, Path(tmp) / "seed.json")
        with serve_child("bench.apps:emulator", seed=str(seed), latency=LATENCY) as emu:
            progress(f"cold emulator with {MEMBERS} members at {emu}, latency "
                     f"{LATENCY * 1000:.0f} ms per Wix call")
            _run_burst(emu, results)
            _run_sustained(emu, results, seconds=15.0 if quick else 60.0)
            _run_junk(emu, results, seconds=3.0 if quick else 10.0)
            _run_fleet(emu, results, Path(tmp), seconds=15.0 if quick else 60.0)
    results["cold_setup"] = {
        "emulator": f"gate.tooling.emulator, {MEMBERS} generated members (one pool each; "
                    f"every tenth has 0 credits), latency {LATENCY * 1000:.0f} ms per Wix call, "
                    "own process",
        "gate": "create_service(GateSettings(...)) defaults (budget 200/min, cache_ttl 30 s, "
                "stale_while_revalidate 30 s) / BookingGate middleware for junk tokens, "
                "uvicorn via gate.tooling.testing.run_server, own process",
        "client": "bench.loadgen.RawClient (a lean asyncio HTTP/1.1 keep-alive client; httpx "
                  "for set-up), open loop, every connection opened before timing (burst: 550, "
                  "sustained: 128, junk: 512)",
    }
    return results


def _run_burst(emu: Server, results: dict[str, Any]) -> None:
    with serve_child("bench.apps:service_wix", base_url=emu) as service:
        burst = asyncio.run(_burst(emu, service, 500))
    results.update(burst)
    detail = burst["burst_detail"]
    progress(f"cold burst_500: {burst['burst_500_calls']} Wix calls "
             f"{detail['calls_by_route']}, p99 {burst['burst_500_p99_ms']} ms, p50 "
             f"{detail['p50_ms']} ms; {detail['correct']} correct, {detail['wrong']} wrong, "
             f"{detail['errors']} errors {detail['error_kinds'] or ''}; CPU s {detail['cpu_s']}")


def _run_sustained(emu: Server, results: dict[str, Any], seconds: float) -> None:
    progress(f"cold sustained: 100 decisions/s over {MEMBERS} members for {seconds:g} s ...")
    with serve_child("bench.apps:service_wix", base_url=emu) as service:
        sustained = asyncio.run(_sustained(emu, [service], seconds, 100.0))
    results.update(sustained)
    _report("sustained_max_calls_per_min", sustained)


def _report(field: str, sustained: dict[str, Any]) -> None:
    detail = sustained["sustained_detail"]
    progress(f"cold {field}: {sustained['sustained_max_calls_per_min']} "
             f"(calls per 10 s {detail['calls_per_10s']}); {detail['correct']} correct, "
             f"{detail['wrong']} wrong, {detail['errors']} errors {detail['error_kinds'] or ''}"
             f"; data {detail['data']}; p99 {detail['p99_ms']} ms")


def _run_fleet(emu: Server, results: dict[str, Any], tmp: Path, seconds: float) -> None:
    """Issue H: the sustained load over two instances sharing one Redis (a real
    redis-server on loopback): the fleet together must stay within one Wix budget."""
    import shutil

    from tests.redis_server import redis_server_running  # the suite's own starter

    if shutil.which("redis-server") is None:
        progress("cold fleet: skipped, no redis-server on this machine")
        return
    progress(f"cold fleet: 100 decisions/s over {MEMBERS} members for {seconds:g} s, two "
             "instances, one Redis ...")
    (tmp / "redis").mkdir(exist_ok=True)
    with redis_server_running(tmp / "redis") as redis, \
            serve_child("bench.apps:service_wix", base_url=emu, redis_url=redis.url) as one, \
            serve_child("bench.apps:service_wix", base_url=emu, redis_url=redis.url) as two:
        fleet = asyncio.run(_sustained(emu, [one, two], seconds, 100.0))
    results["fleet_sustained_max_calls_per_min"] = fleet["sustained_max_calls_per_min"]
    results["fleet_detail"] = fleet["sustained_detail"]
    _report("fleet_sustained_max_calls_per_min", fleet)


def _run_junk(emu: Server, results: dict[str, Any], seconds: float) -> None:
    from bench.apps import supports

    detail: dict[str, Any] = {}
    variants: list[tuple[str, int, dict[str, Any]]] = [("defaults", 500, {})]
    if supports("token_lookups_per_client"):
        variants.append(("one_address_per_client_30", 1, {"token_lookups_per_client": 30}))
    else:
        variants.append(("one_address", 1, {}))
    # A fresh gate for each variant, so neither inherits the other's spent budget.
    for name, clients, options in variants:
        with serve_child("bench.apps:middleware_wix", base_url=emu, **options) as gate:
            detail[name] = asyncio.run(_junk(emu, gate, seconds=seconds, junk=1000,
                                             junk_clients=clients))
        quiet, flood = detail[name]["quiet"], detail[name]["junk"]
        ratio = rnd(flood["real_p99_ms"] / quiet["real_p99_ms"], 2)
        detail[name]["real_p99_ratio"] = ratio
        progress(f"cold junk_tokens [{name}] 1000 junk from {clients} address(es): real members "
                 f"p50 {quiet['real_p50_ms']} → {flood['real_p50_ms']} ms, p99 "
                 f"{quiet['real_p99_ms']} → {flood['real_p99_ms']} ms (ratio {ratio}); token "
                 f"lookups for junk {flood['junk_token_lookups']}; junk answered "
                 f"{flood['junk_answers']}; first-time members mid-flood: "
                 f"{flood['newcomers_correct']}/{flood['newcomers']} served "
                 f"{flood['newcomers_refused'] or ''} (quiet: "
                 f"{quiet['newcomers_correct']}/{quiet['newcomers']})")
    main = detail["defaults"]
    results["junk_real_p50_quiet_ms"] = main["quiet"]["real_p50_ms"]
    results["junk_real_p99_quiet_ms"] = main["quiet"]["real_p99_ms"]
    results["junk_real_p50_ms"] = main["junk"]["real_p50_ms"]
    results["junk_real_p99_ms"] = main["junk"]["real_p99_ms"]
    results["junk_real_p99_ratio"] = main["real_p99_ratio"]
    results["junk_token_lookups"] = main["junk"]["junk_token_lookups"]
    results["junk_newcomers_served"] = main["junk"]["newcomers_correct"]
    other = variants[1][0]
    results["junk_one_address_real_p99_ratio"] = detail[other]["real_p99_ratio"]
    results["junk_one_address_token_lookups"] = detail[other]["junk"]["junk_token_lookups"]
    results["junk_detail"] = detail
