"""The ``booking-gate`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from gate.cli import policy, servers

__all__ = ["main"]


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
    demo.set_defaults(run=servers.demo)

    serve = commands.add_parser(
        "serve", help="run the decision API and forward-auth for proxies (uvicorn)")
    serve.add_argument("--policies", type=Path, action="append",
                       help="policy folder or file (repeatable; BOOKING_GATE_POLICIES)")
    serve.add_argument("--host", help="address to listen on (127.0.0.1; BOOKING_GATE_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (8787; BOOKING_GATE_PORT)")
    serve.add_argument("--config", type=Path,
                       help="a TOML file of settings (no secrets: those come from the "
                            "environment); its relative paths are relative to it")
    serve.set_defaults(run=servers.serve)

    emulator = commands.add_parser("emulator", help="run the Wix API emulator on its own")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8001)
    emulator.add_argument("--seed", type=Path, default=None,
                          help="seed file (YAML/JSON) of members, tokens and balances")
    emulator.set_defaults(run=servers.emulator)

    check = commands.add_parser("check", help="validate policy files")
    check.add_argument("paths", nargs="*", help="policy files or folders (policies/)")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.set_defaults(run=policy.check)

    test = commands.add_parser("test", help="run policy tests (*.test.yaml)")
    test.add_argument("paths", nargs="*", help="test files or folders (policies/)")
    test.add_argument("--format", choices=("text", "json"), default="text")
    test.set_defaults(run=policy.test)

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
    explain.set_defaults(run=policy.explain)

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
    replay_.set_defaults(run=policy.replay)

    schema = commands.add_parser("schema", help="print the JSON Schema of policy files")
    schema.add_argument("kind", nargs="?", choices=("policy", "policy-test"), default="policy")
    schema.add_argument("--write", action="store_true",
                        help="regenerate the schema files shipped in gate/schema/ and policies/")
    schema.add_argument("--into", type=Path, metavar="DIR",
                        help="write both schema files into DIR, beside your policy files, "
                             "whose first line is then # yaml-language-server: "
                             "$schema=policy.schema.json")
    schema.set_defaults(run=policy.schema)
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
