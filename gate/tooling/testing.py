"""Run an ASGI app on a real loopback socket, in a background thread.

Used by the test suite and by anyone who wants the Wix emulator inside their own tests.
Requires the ``demo`` (or ``test``) extra, which brings uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any, Literal

__all__ = ["run_server"]


@contextlib.contextmanager
def run_server(
    app: Any, *, host: str = "127.0.0.1", lifespan: Literal["auto", "on", "off"] = "on",
    http: Literal["h11", "httptools", "auto"] = "h11",
    loop: Literal["asyncio", "auto"] = "asyncio",
    **uvicorn_options: Any,
) -> Iterator[str]:
    """Serve ``app`` with uvicorn on ``host`` and a free port; yield its base URL.

    ``http="h11"`` by default: the pure-Python parser hands every method and path to the app
    as sent (httptools answers 400 to some before the app sees them), so a test sees what the
    gate itself does with them. ``booking-gate serve`` lets uvicorn choose (httptools when
    installed); the benchmarks ask for the same, and for ``loop="auto"`` (uvloop when
    installed, as ``serve`` runs). ``uvicorn_options`` go to ``uvicorn.Config`` as they are
    (``proxy_headers=False``...).

    The socket is bound before the thread starts, so the URL is valid as soon as it is yielded
    and there is no port race between tests.
    """
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "gate.tooling.testing needs uvicorn: pip install 'booking-gate[demo]'"
        ) from exc

    # IPPROTO_TCP explicitly: asyncio enables TCP_NODELAY only then, and without it every
    # keep-alive response waits on a delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False,
                            http=http, loop=loop, **uvicorn_options)
    server = uvicorn.Server(config)
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
                runner.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    thread = threading.Thread(target=serve, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    while not server.started:
        if errors or not thread.is_alive():
            sock.close()
            raise RuntimeError(f"server on {host}:{port} failed to start: {errors!r}")
        thread.join(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
