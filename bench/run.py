"""booking-gate's one benchmark entry point.

    python bench/run.py [--quick] [--json PATH] [--only hot,load,memory,http,cold] [--profile]

Scenarios (each in its own module under bench/):

* hot     in-process ASGI cost, bare vs gated, A/B (bench/hot.py)
* load    a 200-rule policy: load time (bench/memory.py)
* memory  bytes per cached member with 100k members (bench/memory.py)
* http    uvicorn on 127.0.0.1, wrk or a Python client, bare vs gated, A/B (bench/http.py)
* cold    against the Wix emulator: 500-member burst, sustained 100/s, junk tokens
          (bench/cold.py)

Everything listens on 127.0.0.1 only, every loop is bounded, and the run stops by itself:
``--quick`` in under 2 minutes, the full run in under 15. Progress lines go to stdout as it
goes; ``--json PATH`` writes every number, the targets beside them and the machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script, Python puts bench/ first on sys.path, where bench/http.py would shadow
    # the standard library's http: put the repository there instead, before any other import.
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
    sys.path.insert(0, str(_HERE.parent))

import argparse
import datetime as dt
import json
import math
import os
import signal
import time
import traceback
from typing import Any

from bench.common import machine, progress

#: Issue G's targets (and issue E's junk-token one): field -> (comparison, value).
TARGETS: dict[str, tuple[str, float]] = {
    "passthrough_us": ("<=", 0.5),
    "checkout_allow_us": ("<=", 5),
    "checkout_redirect_us": ("<=", 5),
    "checkout_allow_50_rules_us": ("<=", 10),
    "http_ratio_c64": (">=", 0.95),
    "decision_api_ratio_c64": (">=", 0.8),
    "rss_per_member_bytes": ("<=", 1024),
    "load_200_rules_ms": ("<=", 1000),
    "burst_500_calls": ("<=", 30),
    "burst_500_p99_ms": ("<=", 300),
    "sustained_max_calls_per_min": ("<=", 200),
    "fleet_sustained_max_calls_per_min": ("<=", 200),
    "junk_real_p99_ratio": ("<=", 2.0),
}
SCENARIOS = ("hot", "load", "memory", "http", "cold")
#: A run that takes longer than this has hung: stop it (children are daemons and die too).
_HARD_LIMIT = {"quick": 300, "full": 1500}


def _met(field: str, value: Any) -> bool | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    op, target = TARGETS[field]
    return value <= target if op == "<=" else value >= target


def _scenario(name: str, quick: bool) -> dict[str, Any]:
    if name == "hot":
        from bench import hot

        return hot.run(quick)
    if name == "load":
        from bench import memory

        return memory.run_policy_load()
    if name == "memory":
        from bench import memory

        # Quick: 20k members and RSS only (100k and tracemalloc take a minute and a half).
        return memory.run_memory(20_000 if quick else 100_000, traced=not quick)
    if name == "http":
        from bench import http

        return http.run(quick)
    if name == "cold":
        from bench import cold

        return cold.run(quick)
    raise ValueError(name)


def _timeout(signum: int, frame: Any) -> None:
    raise TimeoutError("the benchmark ran past its hard time limit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the short run (under 2 minutes)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results here")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated scenarios (default: all of {','.join(SCENARIOS)})")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of the cached allowed checkout, then exit")
    args = parser.parse_args(argv)
    if args.profile:
        import asyncio

        from bench import hot

        print(asyncio.run(hot.profile_allow()))
        return 0
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {list(SCENARIOS)}")
    mode = "quick" if args.quick else "full"
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(_HARD_LIMIT[mode])

    began = time.monotonic()
    busy_before, ours_before = _busy_cpu(), _our_cpu()
    about = machine()
    about["loadavg_start"] = _loadavg()
    progress(f"booking-gate benchmark, {mode} run: {about['cpu_model']} x{about['cpu_count']}, "
             f"Python {about['python']}, load average {about['loadavg_start']}")
    progress("versions " + ", ".join(f"{k} {v}" for k, v in about["versions"].items()))
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in chosen:
        progress(f"--- {name}")
        try:
            results.update(_scenario(name, args.quick))
        except Exception as exc:  # one broken scenario must not lose the others' numbers
            errors[name] = f"{type(exc).__name__}: {exc}"
            progress(f"{name} FAILED: {errors[name]}")
            traceback.print_exc()
    signal.alarm(0)
    about["loadavg_end"] = _loadavg()
    duration = time.monotonic() - began
    # Other processes on the same CPUs disturb every number: say how much they used.
    busy, ours = _busy_cpu() - busy_before, _our_cpu() - ours_before
    about["cpu_busy_s"] = round(busy, 1)
    about["cpu_used_by_this_run_s"] = round(ours, 1)
    about["cpu_used_by_other_processes_s"] = round(max(0.0, busy - ours), 1)
    about["cpu_available_s"] = round(duration * (about["cpu_count"] or 1), 1)

    targets: dict[str, dict[str, Any]] = {}
    for field, (op, value) in TARGETS.items():
        if field in results:
            targets[field] = {"target": f"{op} {value:g}", "met": _met(field, results[field])}
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "duration_s": round(duration, 1),
        "machine": about,
        **{k: v for k, v in results.items() if not isinstance(v, dict)},
        "targets": targets,
        "errors": errors,
        "details": {k: v for k, v in results.items() if isinstance(v, dict)},
    }
    progress(f"--- summary ({duration:.0f} s)")
    for field, (op, value) in TARGETS.items():
        if field in results:
            verdict = {True: "met", False: "NOT MET", None: "?"}[targets[field]["met"]]
            progress(f"{field:30s} {results[field]!s:>10s}   target {op} {value:g}   {verdict}")
    for name, message in errors.items():
        progress(f"{name}: FAILED {message}")
    if args.json is not None:
        text = json.dumps(_finite(report), indent=2, default=str, allow_nan=False)
        args.json.write_text(text + "\n", encoding="utf-8")
        progress(f"wrote {args.json}")
    return 1 if errors else 0


def _finite(value: Any) -> Any:
    """NaN (a percentile of nothing) becomes null: the file stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _busy_cpu() -> float:
    """Non-idle CPU seconds of the whole machine so far (/proc/stat), or NaN."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return math.nan
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _our_cpu() -> float:
    """CPU seconds of this process and of every child it has waited for (servers, wrk)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
