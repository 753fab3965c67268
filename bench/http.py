"""Over HTTP: uvicorn on 127.0.0.1, bare vs gated throughput at 64 connections, A/B.

Each app runs in its own process (uvicorn via ``gate.tooling.testing.run_server``, h11, one worker),
both started before measuring; the load generator is wrk when installed (one thread, 64
connections), otherwise ``bench.loadgen`` (64 keep-alive connections, closed loop). Runs
alternate bare/gated (then gated/bare), and each ratio is gated/bare of one adjacent pair; the
result is the median ratio.

* ``http_ratio_c64``: cached checkout → allow through ``BookingGate`` (Wix token, in-process
  emulator, warmed) vs the bare app.
* ``http_passthrough_ratio_c64``: a non-checkout page, same two servers.
* ``http_private_headers_ratio_c64``: the bare app sending the three headers the gate adds to
  an allowed checkout vs the bare app: what the server's own work on them leaves of the
  throughput, whatever the gate does (the floor under ``http_ratio_c64``).
* ``decision_api_ratio_c64``: ``POST /v1/decisions`` (``create_service``, cached member) vs a
  bare Starlette endpoint that parses the same JSON body and answers JSON.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.common import (
    ALLOW_MEMBER,
    ALLOW_TOKEN,
    API_SECRET,
    CHECKOUT,
    YOGA,
    median,
    percentile,
    progress,
    rnd,
    serve_child,
    temp_dir,
)
from bench.loadgen import RawClient

CONNECTIONS = 64
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, seconds: float, headers: dict[str, str],
         script: Path | None) -> dict[str, Any]:
    # wrk takes whole seconds only.
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency",
               "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True,
                         timeout=seconds + 60, check=True).stdout
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if rps is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    result: dict[str, Any] = {"rps": float(rps.group(1))}
    for pct in ("50", "99"):
        found = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        result[f"p{pct}_ms"] = (float(found.group(1)) * _UNITS[found.group(2)] if found
                                else math.nan)
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    result["non_2xx_3xx"] = int(bad.group(1)) if bad else 0
    errors = re.search(r"Socket errors:.*", out)
    result["socket_errors"] = errors.group(0) if errors else ""
    return result


async def _python_load(url: str, seconds: float, headers: dict[str, str],
                       body: bytes | None) -> dict[str, Any]:
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    method = "POST" if body is not None else "GET"
    all_headers = dict(headers)
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    latencies: list[float] = []
    bad = 0
    async with RawClient(base, CONNECTIONS) as client:
        await client.warm(path if body is None else "/")
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal bad
            while time.perf_counter() < stop:
                began = time.perf_counter()
                response = await client.request(method, path, headers=all_headers,
                                                body=body or b"")
                latencies.append((time.perf_counter() - began) * 1000)
                bad += response.status_code >= 400

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        took = time.perf_counter() - began
    return {"rps": len(latencies) / took, "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99), "non_2xx_3xx": bad, "socket_errors": ""}


class Load:
    """One way of loading a URL: wrk with an optional Lua script, or bench.loadgen."""

    def __init__(self, generator: str, tmp: Path) -> None:
        self.generator = generator
        self._tmp = tmp

    def run(self, url: str, seconds: float, headers: dict[str, str] | None = None,
            body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = headers or {}
        if self.generator == "wrk":
            script = None
            if body is not None:
                script = self._tmp / f"post-{abs(hash(json.dumps(body)))}.lua"
                script.write_text(
                    'wrk.method = "POST"\n'
                    f"wrk.body = {json.dumps(json.dumps(body))}\n"
                    'wrk.headers["Content-Type"] = "application/json"\n', encoding="utf-8")
            return _wrk(url, seconds, headers, script)
        raw = json.dumps(body).encode() if body is not None else None
        return asyncio.run(_python_load(url, seconds, headers, raw))


def _pairs(load: Load, name: str, bare: str, gated: str, *, rounds: int, seconds: float,
           headers: dict[str, str] | None = None,
           body: dict[str, Any] | None = None) -> dict[str, Any]:
    load.run(bare, 1, headers, body)  # warm both servers and their connections
    load.run(gated, 1, headers, body)
    bares, gateds, ratios = [], [], []
    for index in range(rounds):
        if index % 2:
            g = load.run(gated, seconds, headers, body)
            b = load.run(bare, seconds, headers, body)
        else:
            b = load.run(bare, seconds, headers, body)
            g = load.run(gated, seconds, headers, body)
        bares.append(b)
        gateds.append(g)
        ratios.append(g["rps"] / b["rps"])
    result = {
        "ratio": rnd(median(ratios), 3),
        "ratios": [rnd(r, 3) for r in ratios],
        "bare_rps": rnd(median([b["rps"] for b in bares]), 1),
        "gated_rps": rnd(median([g["rps"] for g in gateds]), 1),
        "bare_p50_ms": rnd(median([b["p50_ms"] for b in bares])),
        "bare_p99_ms": rnd(median([b["p99_ms"] for b in bares])),
        "gated_p50_ms": rnd(median([g["p50_ms"] for g in gateds])),
        "gated_p99_ms": rnd(median([g["p99_ms"] for g in gateds])),
        "gated_non_2xx_3xx": sum(int(g["non_2xx_3xx"]) for g in gateds),
        "bare_non_2xx_3xx": sum(int(b["non_2xx_3xx"]) for b in bares),
    }
    progress(f"http {name:30s} gated/bare {result['ratio']:.3f} ({result['gated_rps']:.0f} vs "
             f"{result['bare_rps']:.0f} req/s; p50 {result['gated_p50_ms']} vs "
             f"{result['bare_p50_ms']} ms, p99 {result['gated_p99_ms']} vs "
             f"{result['bare_p99_ms']} ms)")
    return result


def _check(url: str, status: int, **kwargs: Any) -> None:
    response = httpx.request(kwargs.pop("method", "GET"), url, follow_redirects=False, **kwargs)
    if response.status_code != status:
        raise RuntimeError(f"{url} answered {response.status_code} {response.text[:200]!r}, "
                           f"expected {status}: the benchmark would measure the wrong path")


def run(quick: bool) -> dict[str, Any]:
    generator = "wrk" if shutil.which("wrk") else "python"
    rounds, seconds = (2, 1.0) if quick else (6, 5.0)
    results: dict[str, Any] = {"load_generator": generator}
    detail: dict[str, Any] = {}
    token = {"Authorization": ALLOW_TOKEN}
    with temp_dir() as tmp:
        load = Load(generator, tmp)
        with (serve_child("bench.apps:bare") as bare, serve_child("bench.apps:gated") as gated,
              serve_child("bench.apps:bare_private") as private):
            _check(gated + CHECKOUT, 200, headers=token)  # warms the token, balance, service
            _check(gated + "/book-online", 200)
            detail["checkout_allow"] = _pairs(load, "http_ratio_c64 (checkout allow)",
                                              bare + CHECKOUT, gated + CHECKOUT,
                                              rounds=rounds, seconds=seconds, headers=token)
            detail["passthrough"] = _pairs(load, "http_passthrough_ratio_c64",
                                           bare + "/book-online", gated + "/book-online",
                                           rounds=rounds, seconds=seconds, headers=token)
            detail["private_headers"] = _pairs(load, "http_private_headers_ratio_c64",
                                               bare + CHECKOUT, private + CHECKOUT,
                                               rounds=rounds, seconds=seconds, headers=token)
        body = {"memberId": ALLOW_MEMBER, "serviceId": YOGA}
        bearer = {"Authorization": f"Bearer {API_SECRET}"}
        with serve_child("bench.apps:bare_json") as bare, \
                serve_child("bench.apps:service_inproc") as service:
            _check(service + "/v1/decisions", 200, method="POST", json=body, headers=bearer)
            answer = httpx.post(service + "/v1/decisions", json=body, headers=bearer).json()
            if answer["outcome"] != "allow":
                raise RuntimeError(f"the decision API answered {answer}, expected allow")
            detail["decision_api"] = _pairs(load, "decision_api_ratio_c64",
                                            bare + "/v1/decisions", service + "/v1/decisions",
                                            rounds=rounds, seconds=seconds, headers=bearer,
                                            body=body)
    results["http_ratio_c64"] = detail["checkout_allow"]["ratio"]
    results["http_passthrough_ratio_c64"] = detail["passthrough"]["ratio"]
    results["http_private_headers_ratio_c64"] = detail["private_headers"]["ratio"]
    results["decision_api_ratio_c64"] = detail["decision_api"]["ratio"]
    results["http_detail"] = detail
    results["http_setup"] = {
        "load_generator": generator if generator == "python" else
        f"wrk -t1 -c{CONNECTIONS} -d{seconds:g}s --latency",
        "rounds": rounds, "seconds": seconds, "connections": CONNECTIONS,
        "servers": "uvicorn (httptools when installed, 1 worker) via "
                   "gate.tooling.testing.run_server, one process per app, "
                   "decision logging at INFO to a null stream in the gate's default format",
    }
    return results
