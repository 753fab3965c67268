"""What a cached checkout costs over the bare app, measured in-process (no sockets).

    python -m bench.hot_path [--requests 20000]

Prints the median per-request time of the bare app, of the gate in front of it on a cached
balance, and of the gate on a non-checkout path, plus their differences.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gate import BookingGate, StaticBalanceSource
from gate.identity import TrustedHeaderResolver
from gate.shipped import shipped_policies


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _scope(path: str, query: bytes) -> dict[str, Any]:
    return {
        "type": "http", "method": "GET", "path": path, "query_string": query,
        "headers": [(b"x-member-id", b"m-1"), (b"host", b"studio.example")],
        "client": ("127.0.0.1", 5000), "scheme": "http", "root_path": "",
    }


async def _time(app: Any, scope: dict[str, Any], requests: int) -> list[float]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    samples = []
    for _ in range(requests):
        fresh = dict(scope)  # the gate writes its decision into scope["state"]
        start = time.perf_counter_ns()
        await app(fresh, receive, send)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


async def run(requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        balances = Path(tmp) / "balances.yaml"
        balances.write_text("members:\n  m-1:\n    - {pool: p, available: '3'}\n")
        gate = BookingGate(
            bare_app, policies=shipped_policies(), reload_interval=None,
            source=StaticBalanceSource(balances, clock=time.monotonic),
            resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])],
        )
        import logging

        logging.getLogger("booking_gate").setLevel(logging.WARNING)
        checkout = _scope("/booking-form", b"bookings_serviceId=svc")
        await _time(gate, checkout, 500)  # warm the cache and the interpreter
        bare = statistics.median(await _time(bare_app, checkout, requests))
        gated = statistics.median(await _time(gate, checkout, requests))
        other = statistics.median(await _time(gate, _scope("/book-online", b""), requests))
    print(f"requests per case:          {requests}")
    print(f"bare app (median):          {bare:8.2f} µs")
    print(f"gate, cached checkout:      {gated:8.2f} µs  (+{gated - bare:.2f} µs over bare)")
    print(f"gate, non-checkout path:    {other:8.2f} µs  (+{other - bare:.2f} µs over bare)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    asyncio.run(run(args.requests))


if __name__ == "__main__":
    main()
