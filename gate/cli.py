"""The ``booking-gate`` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the commands import what they need when they run: start-up stays fast
    from gate.policy.context import Facts
    from gate.policy.policyset import PolicySet

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from gate.demo.run import run_demo

    return run_demo(host=args.host, port=args.port, policies=args.policies)


def _serve(args: argparse.Namespace) -> int:
    import errno
    import logging
    import socket

    from gate.errors import ConfigError, PolicyError
    from gate.service import create_service
    from gate.settings import GateSettings

    try:
        import uvicorn
    except ImportError:
        print("booking-gate serve needs uvicorn: pip install 'booking-gate[serve]'",
              file=sys.stderr)
        return 2
    flags = {k: v for k, v in (("policies", args.policies), ("host", args.host),
                               ("port", args.port)) if v}
    try:
        settings = GateSettings.load(args.config, **flags)
        app = create_service(settings)
    except (ConfigError, PolicyError) as exc:
        print(f"booking-gate serve: {exc}", file=sys.stderr)
        return 2
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET,
                         socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            print(f"booking-gate serve: port {settings.port} on {settings.host} is already in "
                  "use; stop what runs there or pick another one with --port", file=sys.stderr)
        else:
            print(f"booking-gate serve: cannot listen on {settings.host}:{settings.port}: "
                  f"{exc.strerror}", file=sys.stderr)
        return 2
    # Decision lines are the gate's audit trail: show them under a plain `serve`.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    print(f"booking-gate serve: listening on http://{settings.host}:{settings.port} "
          f"(policies {', '.join(str(p) for p in settings.policies)})", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="on"))
    server.run(sockets=[sock])
    return 0 if server.started else 2


def _emulator(args: argparse.Namespace) -> int:
    from gate.emulator.run import run_emulator

    return run_emulator(host=args.host, port=args.port, seed=args.seed)


def _check(args: argparse.Namespace) -> int:
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


def _test(args: argparse.Namespace) -> int:
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


def _explain(args: argparse.Namespace) -> int:
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

    from gate.amounts import parse_amount
    from gate.cache import MemoryBalanceCache
    from gate.config import WixSettings
    from gate.core import DecisionCore
    from gate.identity.base import Identity
    from gate.loader import BalanceLoader
    from gate.reload import PolicyReloader
    from gate.sources.base import BalanceSource
    from gate.sources.static import StaticBalanceSource
    from gate.sources.wix import WixBalanceSource
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


def _replay(args: argparse.Namespace) -> int:
    from gate.errors import PolicyError
    from gate.policy.compiler import load_policies
    from gate.replay import open_log, render_text, replay

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


def _schema(args: argparse.Namespace) -> int:
    from gate.policy.schema import SCHEMA_DIR, schema_text, write_schemas
    from gate.shipped import shipped_policies

    if args.write or args.into:
        # --write refreshes every copy this package ships: gate/schema/ and the shipped
        # policies' own, which their `$schema=policy.schema.json` lines point at.
        for folder in [args.into] if args.into else [SCHEMA_DIR, shipped_policies()]:
            for path in write_schemas(folder):
                print(f"wrote {path}")
        return 0
    sys.stdout.write(schema_text(args.kind))
    return 0


def _parser() -> argparse.ArgumentParser:
    from gate import __version__

    parser = argparse.ArgumentParser(
        prog="booking-gate",
        description="Stop members from reaching a booking checkout they cannot pay for.",
    )
    parser.add_argument("--version", action="version", version=f"booking-gate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run a sample booking site behind the gate")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    demo.add_argument("--policies", type=Path, default=None,
                      help="policy folder to use instead of the shipped one")
    demo.set_defaults(run=_demo)

    serve = commands.add_parser(
        "serve", help="run the decision API and forward-auth for proxies (uvicorn)")
    serve.add_argument("--policies", type=Path, action="append",
                       help="policy folder or file (repeatable; BOOKING_GATE_POLICIES)")
    serve.add_argument("--host", help="address to listen on (127.0.0.1; BOOKING_GATE_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (8787; BOOKING_GATE_PORT)")
    serve.add_argument("--config", type=Path,
                       help="a TOML file of settings (no secrets: those come from the "
                            "environment); its relative paths are relative to it")
    serve.set_defaults(run=_serve)

    emulator = commands.add_parser("emulator", help="run the Wix API emulator on its own")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8001)
    emulator.add_argument("--seed", type=Path, default=None,
                          help="seed file (YAML/JSON) of members, tokens and balances")
    emulator.set_defaults(run=_emulator)

    check = commands.add_parser("check", help="validate policy files")
    check.add_argument("paths", nargs="*", help="policy files or folders (policies/)")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.set_defaults(run=_check)

    test = commands.add_parser("test", help="run policy tests (*.test.yaml)")
    test.add_argument("paths", nargs="*", help="test files or folders (policies/)")
    test.add_argument("--format", choices=("text", "json"), default="text")
    test.set_defaults(run=_test)

    explain = commands.add_parser(
        "explain", help="show what the policies decide for a member, rule by rule")
    explain.add_argument("--policies", nargs="+", default=["policies"],
                         help="policy files or folders (policies/)")
    who = explain.add_mutually_exclusive_group()
    who.add_argument("--available", help='credits available, like "3" or "2.5"')
    who.add_argument("--no-plan", action="store_true", help="a signed-in member with no plan")
    who.add_argument("--signed-out", action="store_true", help="a signed-out visitor")
    who.add_argument("--unavailable", action="store_true", help="the balance cannot be read")
    who.add_argument("--member-id", help="read this member's balance live (Wix from the "
                     "environment, or --balances FILE)")
    explain.add_argument("--status", default="ACTIVE", help="plan status with --available")
    explain.add_argument("--reserved", default="0")
    explain.add_argument("--age-minutes", type=float, default=0.0)
    explain.add_argument("--balances", type=Path, help="a static balance file for --member-id")
    explain.add_argument("--service", default="service-1",
                         help="the service id (with --member-id: priced by Wix's data)")
    explain.add_argument("--cost", default=None,
                         help="credits one session costs (1; with --member-id: Wix's price)")
    explain.add_argument("--path", default="/booking-form")
    explain.add_argument("--method", default="GET", choices=("GET", "POST"))
    explain.add_argument("--now", help="the time, like 2026-12-25T10:00:00+00:00 (now)")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.set_defaults(run=_explain)

    replay_ = commands.add_parser(
        "replay", help="show what other policies would have decided for logged checkouts")
    replay_.add_argument("log", type=Path, metavar="PATH",
                         help="a decision log (BOOKING_GATE_DECISION_LOG; .gz read as is; "
                              "- for standard input)")
    replay_.add_argument("--policies", nargs="+", required=True, metavar="DIR",
                         help="the candidate policy files or folders")
    replay_.add_argument("--format", choices=("text", "json"), default="text")
    replay_.add_argument("--examples", type=int, default=3, metavar="N",
                         help="changed decisions to show for each kind of change (3)")
    replay_.add_argument("--progress", action="store_true",
                         help="report progress on stderr every 10000 lines (on by default "
                              "when stderr is a terminal)")
    replay_.add_argument("--fail-on-change", action="store_true",
                         help="exit 1 when any decision would change (for CI)")
    replay_.set_defaults(run=_replay)

    schema = commands.add_parser("schema", help="print the JSON Schema of policy files")
    schema.add_argument("kind", nargs="?", choices=("policy", "policy-test"), default="policy")
    schema.add_argument("--write", action="store_true",
                        help="regenerate the schema files shipped in gate/schema/ and policies/")
    schema.add_argument("--into", type=Path, metavar="DIR",
                        help="write both schema files into DIR, beside your policy files, "
                             "whose first line is then # yaml-language-server: "
                             "$schema=policy.schema.json")
    schema.set_defaults(run=_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `booking-gate explain | head`: the reader left; that is not an error worth a
        # traceback. Point stdout at devnull so the interpreter's final flush is quiet too.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
