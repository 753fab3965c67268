"""``booking-gate demo``, ``serve`` and ``emulator``: the commands that run servers."""

from __future__ import annotations

import argparse
import sys

__all__ = ["demo", "emulator", "serve"]


def demo(args: argparse.Namespace) -> int:
    from gate.tooling.demo.run import run_demo

    return run_demo(host=args.host, port=args.port, policies=args.policies)


def serve(args: argparse.Namespace) -> int:
    import errno
    import logging
    import socket

    from gate.adapters.service import create_service
    from gate.config.settings import GateSettings
    from gate.errors import ConfigError, PolicyError

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


def emulator(args: argparse.Namespace) -> int:
    from gate.tooling.emulator.run import run_emulator

    return run_emulator(host=args.host, port=args.port, seed=args.seed)
