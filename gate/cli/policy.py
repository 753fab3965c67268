"""``booking-gate check``, ``test``, ``explain``, ``replay`` and ``schema``: the policy
commands staff run before publishing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the commands import what they need when they run: start-up stays fast
    from gate.policy.context import Facts
    from gate.policy.policyset import PolicySet

__all__ = ["check", "explain", "replay", "schema", "test"]


def check(args: argparse.Namespace) -> int:
    from gate.policy.cases import check_test_files
    from gate.policy.compiler import check_policies

    paths = args.paths or ["policies"]
    policy_set, problems = check_policies(paths)
    warnings = policy_set.warnings if policy_set else ()
    problems = problems + check_test_files(paths)
    if problems:
        policy_set = None  # a broken test file fails the check as surely as a broken rule
    if args.format == "json":
        print(json.dumps({
            "valid": policy_set is not None,
            "version": policy_set.version if policy_set else None,
            "rules": [r.name for r in policy_set.rules] if policy_set else [],
            "problems": [p.as_dict() for p in problems],
            "warnings": [w.as_dict() for w in warnings],
        }, indent=2))
    else:
        for problem in problems:
            print(problem)
        if policy_set is not None:
            files = len(policy_set.files)
            print(f"ok: {len(policy_set.rules)} rules in {files} file(s), "
                  f"policy version {policy_set.version}")
            for warning in warnings:  # worth a look, but the set is valid: the check passes
                print(f"warning: {warning}")
        else:
            print(f"{len(problems)} problem(s) found", file=sys.stderr)
    return 0 if policy_set is not None else 1


def test(args: argparse.Namespace) -> int:
    from gate.policy.cases import run_policy_tests

    report = run_policy_tests(args.paths or ["policies"])
    if args.format == "json":
        print(json.dumps({
            "passed": report.passed,
            "failed": report.failed,
            "ok": report.ok,
            "problems": [p.as_dict() for p in report.problems],
            "cases": [{"file": r.file, "line": r.line, "name": r.name, "passed": r.passed,
                       "expected": r.expected, "actual": r.actual} for r in report.results],
        }, indent=2))
        return 0 if report.ok else 1
    for problem in report.problems:
        print(problem)
    width = max((len(r.expected) for r in report.results), default=8) + 2
    for result in report.results:
        where = f"{result.file}:{result.line}"
        if result.passed:
            print(f"PASS {where}: {result.name}")
            continue
        print(f"FAIL {where}: {result.name}")
        print(f"       {'expected'.ljust(width)}| actual")
        print(f"       {result.expected.ljust(width)}| {result.actual}")
    if report.problems:
        print(f"{len(report.problems)} problem(s) in the files; fix them first", file=sys.stderr)
    print(f"{report.passed} passed, {report.failed} failed")
    return 0 if report.ok else 1


def explain(args: argparse.Namespace) -> int:
    import asyncio

    from gate.errors import GateError
    from gate.policy.case_errors import read_case
    from gate.policy.cases import case_facts
    from gate.policy.compiler import check_policies
    from gate.policy.explain import explain, render_text

    policy_set, problems = check_policies(args.policies)
    if policy_set is None:
        for problem in problems:
            print(problem)
        return 1
    request = {"path": args.path, "method": args.method, "service": args.service}
    now = args.now or None
    facts: Facts | None
    try:
        if args.member_id:
            facts = asyncio.run(_live_facts(args, policy_set, request, now))
        else:
            case = read_case({
                "name": "explain", "member": _member_spec(args),
                "request": {**request, "cost": args.cost or "1"},
                "now": now, "expect": "allow",
            })
            facts = case_facts(policy_set, case)
    except (GateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if facts is None:
        decision = policy_set.failed("upstream_unavailable: the balance source is unavailable",
                                     cause="upstream")
        print(f"Decision: on_error for cause upstream ({decision.outcome.action} "
              f"{decision.outcome.status})")
        return 0
    explanation = explain(policy_set, facts.as_cel(), facts.identity.member_id)
    if args.format == "json":
        print(json.dumps(explanation.as_dict(), indent=2, default=str))
    else:
        print(render_text(explanation))
    return 0


def _member_spec(args: argparse.Namespace) -> object:
    if args.signed_out:
        return "signed-out"
    if args.no_plan:
        return "no-plan"
    if args.unavailable:
        return "unavailable"
    if args.available is None:
        raise ValueError("say who is asking: --available N [--status S], --no-plan, "
                         "--signed-out, --unavailable, or --member-id ID for a live balance")
    return {"available": args.available, "reserved": args.reserved, "status": args.status,
            "age_minutes": args.age_minutes}


async def _live_facts(
    args: argparse.Namespace, policy_set: PolicySet, request: dict[str, str], now: str | None
) -> Facts:
    """The facts the gate would gather for this member and service, from Wix or a file."""
    import datetime as dt
    import time

    from gate.config.wix import WixSettings
    from gate.credits.amounts import parse_amount
    from gate.data.cache import MemoryBalanceCache
    from gate.data.loader import BalanceLoader
    from gate.data.sources.base import BalanceSource
    from gate.data.sources.static import StaticBalanceSource
    from gate.data.sources.wix import WixBalanceSource
    from gate.decision.core import DecisionCore
    from gate.identity.base import Identity
    from gate.policy.reload import PolicyReloader
    from gate.wix.client import WixClient

    source: BalanceSource
    if args.balances:
        source = StaticBalanceSource(args.balances, clock=time.monotonic)
    else:
        settings = WixSettings.from_env()
        settings.require_credentials()
        client = WixClient(api_key=settings.api_key, site_id=settings.site_id,
                           base_url=settings.base_url, timeout=10.0, retries=settings.retries)
        source = WixBalanceSource(client, site_id=settings.site_id or "")
    when = dt.datetime.fromisoformat(now) if now else dt.datetime.now(dt.UTC)
    core = DecisionCore(
        reloader=PolicyReloader((), policy_set, interval=None), source=source,
        loader=BalanceLoader(source, MemoryBalanceCache(ttl=0.001, maxsize=1)),
        service_costs={request["service"]: parse_amount(args.cost)} if args.cost else None,
        now=lambda: when,
    )
    try:
        return await core.facts(Identity(args.member_id, "cli"), request["service"],
                                request["path"], request["method"], policy_set)
    finally:
        await core.aclose()


def replay(args: argparse.Namespace) -> int:
    from gate.cli.replay import open_log, render_text, replay
    from gate.errors import PolicyError
    from gate.policy.compiler import load_policies

    try:
        candidate = load_policies(args.policies)
    except PolicyError as exc:
        if args.format == "json":
            print(json.dumps({"error": "policies", "problems": [
                p.as_dict() for p in exc.problems]}, indent=2))
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in the candidate policies; nothing replayed",
              file=sys.stderr)
        return 2
    show = args.progress or sys.stderr.isatty()

    def progress(lines: int) -> None:
        print(f"booking-gate replay: {lines} lines read", file=sys.stderr, flush=True)

    source = "standard input" if str(args.log) == "-" else str(args.log)
    try:
        report = replay(open_log(args.log), candidate, examples=args.examples,
                        progress=progress if show else None)
    except (OSError, EOFError) as exc:  # EOFError: a .gz file cut short
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"booking-gate replay: cannot read {source}: {reason}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(render_text(report, source))
    if report.total and not report.replayed:
        print(f"booking-gate replay: none of the {report.total} line(s) of {source} is a "
              "decision this version can replay", file=sys.stderr)
        return 2
    return 1 if args.fail_on_change and report.changed else 0


def schema(args: argparse.Namespace) -> int:
    from gate.policy.schema import SCHEMA_DIR, schema_text, write_schemas
    from gate.policy.shipped import shipped_policies

    if args.write or args.into:
        # --write refreshes every copy this package ships: gate/schema/ and the shipped
        # policies' own, which their `$schema=policy.schema.json` lines point at.
        for folder in [args.into] if args.into else [SCHEMA_DIR, shipped_policies()]:
            for path in write_schemas(folder):
                print(f"wrote {path}")
        return 0
    sys.stdout.write(schema_text(args.kind))
    return 0
