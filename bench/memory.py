"""Memory per cached member, and how long a 200-rule policy takes to load.

Memory: in a fresh process, the gate is assembled as deployed (``WixBalanceSource``, the
loader, ``MemoryBalanceCache`` sized for every member), but its Wix client is a stand-in that
answers the balances and pools queries with JSON in the emulator's shapes, parsed by the
gate's own Wix models: each member's strings are new objects, as they are when they come off
the network. 100,000 members are loaded through ``loader.load`` 100 at a time (the batcher
sends them together), then the growth is divided by the member count: once as RSS (what the
machine pays, allocator slack included), once as tracemalloc (live Python objects), each in its
own process so neither disturbs the other.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import ROOT, member_id, progress, rnd, run_child, temp_dir, write_policy


def _rss() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def template_value(record: dict[str, Any], key: str) -> Any:
    """The pool id (``id``) or the member id (``memberId``) of a balance or pool record."""
    return record["id"] if key == "id" else record["beneficiary"]["memberId"]


class _Client:
    """Answers like WixClient.query_* from templates of a real emulator balance and pool."""

    def __init__(self) -> None:
        from gate.tooling.emulator import SCENARIO_SEED_PATH, load_seed
        from gate.tooling.emulator.shapes import balance_json, pool_json
        from gate.tooling.emulator.state import EmulatorState

        state = EmulatorState(load_seed(SCENARIO_SEED_PATH), api_key="k", site_id="s")
        record = next(r for r in state.balances.values() if r.available == "5"
                      and r.status == "ACTIVE")
        self._balance = balance_json(record)
        self._pool = pool_json(record)

    def _page(self, template: dict[str, Any], ids: Sequence[str]) -> list[dict[str, Any]]:
        # Through JSON text, so every string is a fresh object, as off the network.
        text = json.dumps(template)
        for key, value in (("id", "@POOL@"), ("memberId", "@MEMBER@")):
            text = text.replace(json.dumps(template_value(template, key)), f'"{value}"')
        body = ",".join(text.replace("@POOL@", "pool-" + mid).replace("@MEMBER@", mid)
                        for mid in ids)
        parsed: list[dict[str, Any]] = json.loads(f"[{body}]")
        return parsed

    async def query_balances(self, ids: Sequence[str]) -> list[Any]:
        from gate.wix.models import QueryBalancesResponse

        page = QueryBalancesResponse.model_validate({"balances": self._page(self._balance, ids)})
        return list(page.balances or ())

    async def query_pools(self, ids: Sequence[str]) -> list[Any]:
        from gate.wix.models import QueryPoolsResponse

        page = QueryPoolsResponse.model_validate({"pools": self._page(self._pool, ids)})
        return list(page.pools or ())

    async def aclose(self) -> None:
        return None


async def _fill(members: int, use_tracemalloc: bool) -> dict[str, Any]:
    from gate.config.assemble import assemble
    from gate.data.sources.wix import WixBalanceSource
    from gate.identity import TrustedHeaderResolver
    from gate.policy.shipped import shipped_policies

    source = WixBalanceSource(_Client(), site_id="s")  # type: ignore[arg-type]
    parts = assemble(policies=shipped_policies(), source=source, reload_interval=None,
                     resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])],
                     cache_maxsize=members + 1000, cache_ttl=24 * 3600.0)
    loader = parts.core.loader
    ids = [member_id(i) for i in range(members)]

    async def load(chunk: Sequence[str]) -> None:
        await asyncio.gather(*(loader.load(m) for m in chunk))

    await load([member_id(-1 - i) for i in range(200)])  # warm every code path first
    gc.collect()
    if use_tracemalloc:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = _rss()
    began = time.perf_counter()
    for start in range(0, members, 100):
        await load(ids[start:start + 100])
    took = time.perf_counter() - began
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] if use_tracemalloc else _rss()
    snapshots_only = None
    if use_tracemalloc:
        # What the balance snapshots alone hold: drop the source's pool models (benefits,
        # kept up to 10,000 members, 10 minutes) and measure again.
        source._pools.clear()
        gc.collect()
        snapshots_only = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    cached = len(loader.cache)  # type: ignore[arg-type]
    return {"bytes": after - before, "members": members, "cached": cached,
            "fill_s": round(took, 2), "snapshots_only": snapshots_only,
            "pool_models_kept": len(source._pools) if not use_tracemalloc else None}


def measure(members: int, use_tracemalloc: bool) -> dict[str, Any]:
    """In a child process: fill the cache and report the growth."""
    import logging

    logging.getLogger("booking_gate").setLevel(logging.ERROR)
    return asyncio.run(_fill(members, use_tracemalloc))


def run_memory(members: int = 100_000, traced: bool = True) -> dict[str, Any]:
    """RSS growth per member, and (``traced``) tracemalloc's count in a second process."""
    rss = run_child("bench.memory:measure", members=members, use_tracemalloc=False)
    if traced:
        detail = run_child("bench.memory:measure", members=members, use_tracemalloc=True)
    else:
        detail = {"bytes": math.nan, "snapshots_only": math.nan}
    if rss["cached"] < members:
        raise RuntimeError(f"only {rss['cached']} of {members} members stayed in the cache")
    result = {
        "rss_per_member_bytes": round(rss["bytes"] / members),
        "tracemalloc_per_member_bytes": _per(detail["bytes"], members),
        "tracemalloc_per_member_snapshot_only_bytes": _per(detail["snapshots_only"], members),
        "memory_detail": {"members": members, "cached": rss["cached"],
                          "rss_growth_bytes": rss["bytes"],
                          "traced_growth_bytes": detail["bytes"], "fill_s": rss["fill_s"],
                          "pool_models_kept": rss["pool_models_kept"],
                          "setup": "WixBalanceSource with a stand-in client (emulator JSON "
                                   "shapes through gate.wix.models), loader.load in batches "
                                   "of 100, MemoryBalanceCache maxsize > members"},
    }
    progress(f"mem  rss_per_member_bytes {result['rss_per_member_bytes']} "
             f"(tracemalloc {result['tracemalloc_per_member_bytes']}, snapshots alone "
             f"{result['tracemalloc_per_member_snapshot_only_bytes']}) with {members} members, "
             f"{rss['pool_models_kept']} members' pool models kept by the source; filled in "
             f"{rss['fill_s']} s")
    return result


def _per(total: float, members: int) -> float | None:
    return round(total / members) if math.isfinite(total) else None


def run_policy_load(repeats: int = 5) -> dict[str, Any]:
    from gate.policy import load_policies

    with temp_dir() as tmp:
        folder = write_policy(200, tmp / "two-hundred")
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            policies = load_policies([folder])
            times.append((time.perf_counter() - began) * 1000)
        if len(policies.rules) != 200:
            raise RuntimeError(f"the generated policy has {len(policies.rules)} rules, not 200")
        began = time.perf_counter()
        check = subprocess.run([sys.executable, "-m", "gate", "check", str(folder)],
                               cwd=ROOT, capture_output=True, text=True, timeout=120,
                               check=False)
        cli_ms = (time.perf_counter() - began) * 1000
        if check.returncode != 0:
            raise RuntimeError(f"booking-gate check failed: {check.stdout}{check.stderr}")
    result: dict[str, Any] = {
        "load_200_rules_ms": rnd(statistics.median(times), 1),
        "policy_load_detail": {"runs_ms": [rnd(t, 1) for t in times],
                               "first_ms": rnd(times[0], 1),
                               "check_cli_ms": rnd(cli_ms, 1),
                               "setup": "gate.policy.load_policies on the shipped 8 rules + "
                                        "192 generated fillers; median of runs in this "
                                        "process; check_cli_ms: `python -m gate check` "
                                        "(interpreter start and imports included)"},
    }
    progress(f"load load_200_rules_ms {result['load_200_rules_ms']} (runs "
             f"{result['policy_load_detail']['runs_ms']}, `booking-gate check` "
             f"{rnd(cli_ms, 0)} ms)")
    return result
