"""The ``booking-gate`` command."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from gate.demo.run import run_demo

    return run_demo(host=args.host, port=args.port, policies=args.policies)


def _emulator(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from gate.config import ENV_API_KEY, ENV_SITE_ID
    from gate.emulator import DEMO_SEED_PATH, create_emulator, load_seed

    api_key = os.environ.get(ENV_API_KEY) or secrets.token_urlsafe(24)
    site_id = os.environ.get(ENV_SITE_ID) or "emulated-site"
    app = create_emulator(load_seed(args.seed or DEMO_SEED_PATH), api_key=api_key, site_id=site_id)
    shown = "from " + ENV_API_KEY if os.environ.get(ENV_API_KEY) else "generated: " + api_key
    print(f"Wix emulator on http://{args.host}:{args.port}  site id {site_id}  API key {shown}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _check(args: argparse.Namespace) -> int:
    from gate.policy.compiler import check_policies

    policy_set, problems = check_policies(args.paths or ["policies"])
    if args.format == "json":
        print(json.dumps({
            "valid": policy_set is not None,
            "version": policy_set.version if policy_set else None,
            "rules": [r.name for r in policy_set.rules] if policy_set else [],
            "problems": [p.as_dict() for p in problems],
        }, indent=2))
    else:
        for problem in problems:
            print(problem)
        if policy_set is not None:
            files = len(policy_set.files)
            print(f"ok: {len(policy_set.rules)} rules in {files} file(s), "
                  f"policy version {policy_set.version}")
        else:
            print(f"{len(problems)} problem(s) found", file=sys.stderr)
    return 0 if policy_set is not None else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="booking-gate",
        description="Stop members from reaching a booking checkout they cannot pay for.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run a sample booking site behind the gate")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    demo.add_argument("--policies", type=Path, default=None,
                      help="policy folder to use instead of the shipped one")
    demo.set_defaults(run=_demo)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
