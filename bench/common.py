"""Shared pieces of the benchmarks: constants, statistics, the machine, seeds, policies, servers.

Every server a benchmark starts listens on 127.0.0.1 only. Servers that are measured over a
socket run in their own process (``serve_child``), so the load generator, the gate and the
Wix emulator do not share one GIL; each child runs ``gate.tooling.testing.run_server`` (uvicorn in a
thread) and stops when the parent says so, or when the parent dies.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import math
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

API_KEY = "bench-wix-api-key-0f3c"
SITE_ID = "6f0e1c2a-bench-site-4b8e-9a51"
API_SECRET = "bench-api-secret-5f0e8d2c4a10-b2d84e17-91c3"
#: Morning Yoga in both shipped seeds: 1 credit a class.
YOGA = "7c1f4a52-3e8b-4d6a-9b21-5f0e8d2c4a10"
CHECKOUT = f"/booking-form?bookings_serviceId={YOGA}"
#: Scenario seed members with fixed tokens (gate/tooling/emulator/scenario_seed.yaml).
ALLOW_TOKEN = "scenario-one_pool"  # one ACTIVE pool with 5 credits: yoga is allowed
ALLOW_MEMBER = "8b2e74e0-bf46-5da8-aa51-b427a7b87382"
REDIRECT_TOKEN = "scenario-zero"  # one ACTIVE pool with 0 credits: redirect, no-credits
REDIRECT_MEMBER = "b7db825c-ed71-5a4e-bbc6-633f1f383e73"
_BENCH_NS = uuid.UUID("7d3a5e0c-2b1f-4c8e-9d6a-beac00000001")

PACKAGES = ("starlette", "uvicorn", "httpx", "pydantic", "cel-expr-python", "booking-gate")


# -- output -----------------------------------------------------------------------------------

_START = time.monotonic()


def progress(message: str) -> None:
    """One progress line, with the seconds since the run started."""
    print(f"[{time.monotonic() - _START:6.1f}s] {message}", flush=True)


# -- statistics -------------------------------------------------------------------------------

def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (p99 of 500 samples is the 495th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def rnd(value: float, digits: int = 2) -> float:
    return round(value, digits) if math.isfinite(value) else value


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most events in any window of ``window`` seconds (two pointers over sorted times)."""
    ordered = sorted(times)
    best = 0
    left = 0
    for right, at in enumerate(ordered):
        while at - ordered[left] >= window:
            left += 1
        best = max(best, right - left + 1)
    return best


# -- the machine ------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    """CPU model and count (from /proc/cpuinfo), Python, and the versions that matter."""
    model = platform.processor() or "unknown"
    count = os.cpu_count() or 0
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        models = [line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith("model name")]
        if models:
            model, count = models[0], len(models)
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "git": _git(),
        "cpu_model": model,
        "cpu_count": count,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "versions": versions,
    }


def _git() -> dict[str, Any]:
    """The commit measured, and how many files differ from it (read-only git commands)."""
    import subprocess

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    head = git("rev-parse", "--short", "HEAD")
    changed = git("status", "--porcelain", "--untracked-files=no")
    return {"head": head or None, "uncommitted_files": len(changed.splitlines()) if head else None}


# -- logging ----------------------------------------------------------------------------------

class NullStream(io.TextIOBase):
    """A stream that accepts and drops everything: formatting still happens, I/O does not."""

    def write(self, text: str) -> int:
        return len(text)


#: The format ``booking-gate serve``, the demo and ``show_decision_lines`` set up: the default.
DEFAULT_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
#: A common hand-written one, with the time: every line is formatted by the stdlib handler.
TIMED_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def decision_logging_on(fmt: str = DEFAULT_LOG_FORMAT) -> None:
    """Decision logging at its default level: INFO on booking_gate.decision, to a null stream,
    through a ``StreamHandler`` with the gate's default format (``fmt`` to compare others).

    The handler gets every line (as a real one would) but writes nowhere.
    """
    handler = logging.StreamHandler(NullStream())
    handler.setFormatter(logging.Formatter(fmt))
    decision = logging.getLogger("booking_gate.decision")
    decision.handlers[:] = [handler]
    decision.setLevel(logging.INFO)
    decision.propagate = False
    # Anything else the gate says (warnings) goes to stderr as usual, but not INFO chatter.
    logging.getLogger("booking_gate").setLevel(logging.WARNING)


# -- seeds ------------------------------------------------------------------------------------

def member_id(index: int) -> str:
    return str(uuid.uuid5(_BENCH_NS, f"member:{index}"))


def member_credits(index: int) -> int:
    """Every tenth member has 0 credits (redirect, no-credits); the others 1 to 5 (allow)."""
    return 0 if index % 10 == 0 else 1 + index % 5


def expected_rule(index: int) -> str | None:
    return "no-credits" if member_credits(index) == 0 else None


def write_seed(members: int, path: Path) -> Path:
    """A seed of ``members`` members with one Class-pack pool each, covering yoga at 1 credit.

    Written as JSON (load_seed reads ``.json``): the same fields a YAML seed would have.
    """
    import json

    item_set = str(uuid.uuid5(_BENCH_NS, "item-set:yoga"))
    seed: dict[str, Any] = {
        "members": [
            {"name": f"m{i:05d}", "id": member_id(i), "email": f"m{i:05d}@example.com"}
            for i in range(members)
        ],
        "visitors": [{"id": str(uuid.uuid5(_BENCH_NS, "visitor"))}],
        "items": [{"service": YOGA, "itemSetId": item_set, "displayName": "Morning Yoga"}],
        "defaultBenefits": [{"benefitKey": "group-classes", "itemSetId": item_set,
                             "price": "1", "displayName": "Group class"}],
        "balances": [
            {
                "id": str(uuid.uuid5(_BENCH_NS, f"pool:{i}")),
                "member": f"m{i:05d}",
                "available": str(member_credits(i)),
                "status": "ACTIVE",
                "poolDefinitionId": str(uuid.uuid5(_BENCH_NS, "pool-definition")),
                "externalProgramDefinitionId": str(uuid.uuid5(_BENCH_NS, "plan")),
                "creditAmount": "10",
                "displayName": "Class pack",
                "createdDate": "2026-01-05T10:00:00.000Z",
            }
            for i in range(members)
        ],
    }
    path.write_text(json.dumps(seed), encoding="utf-8")
    return path


# -- policies ---------------------------------------------------------------------------------

_FILLERS = (
    ('service == "retired-service-{n:03d}"', "retired-service"),
    ('"banned-plan-{n:03d}" in plans', "banned-plan"),
    ("available > {big}.0", "hoarding"),
    ('path.startsWith("/closed-{n:03d}")', "closed-page"),
    ('member == "blocked-member-{n:03d}"', "blocked"),
    ("cost > {big}.0", "too-expensive"),
    ('today == "2001-01-{day:02d}"', "holiday"),
    ('signed_in && status == "SUSPENDED-{n:03d}"', "suspended"),
)


def write_policy(rules: int, folder: Path) -> Path:
    """A policy of ``rules`` rules: the shipped ones, then fillers that are false for a member
    who may book yoga, so an allowed checkout evaluates every rule. Returns ``folder``."""
    from gate.policy.shipped import shipped_policies

    shipped = (shipped_policies() / "10-checkout.yaml").read_text(encoding="utf-8")
    shipped_rules = shipped.count("\n  - name:")
    lines = [shipped.rstrip("\n"), ""]
    for n in range(max(0, rules - shipped_rules)):
        template, reason = _FILLERS[n % len(_FILLERS)]
        when = template.format(n=n, big=1000 + n, day=1 + n % 28)
        lines += [
            f"  - name: filler-{n:03d}",
            f"    when: '{when}'",
            "    action: redirect",
            "    to: /plans-pricing",
            f"    reason: {reason}",
        ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "10-checkout.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@contextlib.contextmanager
def temp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="booking-gate-bench-") as tmp:
        yield Path(tmp)


# -- servers in child processes ---------------------------------------------------------------

def _child_main(factory: str, kwargs: dict[str, Any], conn: Any) -> None:
    """In the child: build the app, serve it on 127.0.0.1, report the URL, wait for "stop"."""
    try:
        from gate.tooling.testing import run_server

        module, _, name = factory.partition(":")
        build: Callable[..., Any] = getattr(importlib.import_module(module), name)
        app = build(**kwargs)
        problem = getattr(app, "problem", None)  # a BookingGate that cannot start says why
        if problem is not None:
            raise RuntimeError(f"the gate cannot start: {problem}")
        # The parser and loop `booking-gate serve` gets from uvicorn (httptools, uvloop when
        # installed), and its collector settings (see gate.cli.servers).
        with run_server(app, http="auto", loop="auto") as url:
            conn.send(("ok", url))
            # Stop on "stop", or when the parent is gone (EOF): a child never outlives a run.
            with contextlib.suppress(EOFError, OSError):
                conn.recv()
    except BaseException as exc:
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


class Server(str):
    """A child server's base URL, which also knows the child's pid and CPU time."""

    pid: int

    def cpu(self) -> float:
        """CPU seconds (user + system) the child has used so far."""
        return cpu_seconds(self.pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (0.0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serve_child(factory: str, *, start_timeout: float = 60.0, **kwargs: Any) -> Iterator[Server]:
    """Serve ``factory(**kwargs)`` (``"module:function"`` returning an ASGI app) in a fresh
    process on 127.0.0.1; yields its base URL (a ``Server``: also its pid and CPU time)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_child_main, args=(factory, kwargs, child), daemon=True,
                              name=f"bench-{factory}")
    process.start()
    child.close()
    try:
        if not parent.poll(start_timeout):
            raise RuntimeError(f"{factory} did not start within {start_timeout:g} s")
        status, detail = parent.recv()
        if status != "ok":
            raise RuntimeError(f"{factory} failed to start: {detail}")
        server = Server(detail)
        server.pid = process.pid or 0
        yield server
    finally:
        with contextlib.suppress(OSError):
            parent.send("stop")
        process.join(15)
        if process.is_alive():
            process.terminate()
            process.join(5)
        parent.close()


def run_child(function: str, *, timeout: float = 600.0, **kwargs: Any) -> Any:
    """Run ``function(**kwargs)`` (``"module:function"``) in a fresh process; return its value.

    For measurements that need a clean process (memory).
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_call_main, args=(function, kwargs, child), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise RuntimeError(f"{function} did not finish within {timeout:g} s")
        status, value = parent.recv()
        if status != "ok":
            raise RuntimeError(f"{function} failed: {value}")
        return value
    finally:
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)
        parent.close()


def _call_main(function: str, kwargs: dict[str, Any], conn: Any) -> None:
    try:
        module, _, name = function.partition(":")
        value = getattr(importlib.import_module(module), name)(**kwargs)
        conn.send(("ok", value))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


def repo_on_path() -> None:
    """``python bench/run.py`` puts bench/ first on sys.path; the repository must be there."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
