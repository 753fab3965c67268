"""Real nginx and Caddy as subprocesses, configured from the templates under docs/proxies/.

The templates are the configs docs/proxies.md shows; the tests only fill in their
``{{PLACEHOLDERS}}`` (addresses), so what the guide says and what is tested cannot drift.
Everything listens on 127.0.0.1; every process is stopped, by its own id, when done.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "docs" / "proxies"
_PLACEHOLDER = re.compile(r"\{\{[A-Z_]+\}\}")
#: Where Debian puts the binaries, for a PATH without the sbin folders.
_SEARCH = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_binary(name: str) -> str:
    """The path of ``name``; skips when it is missing, but fails under CI=true."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SEARCH))
    if found:
        return found
    message = f"{name} is not installed (Debian: apt-get install {name})"
    if under_ci():
        pytest.fail(f"{message}; under CI the proxy tests must run, not skip", pytrace=False)
    pytest.skip(message)


def template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def render(name: str, **values: str) -> str:
    """docs/proxies/<name> with each ``{{KEY}}`` replaced; every placeholder must be given."""
    text = template(name)
    for key, value in values.items():
        marker = "{{" + key + "}}"
        if marker not in text:
            raise AssertionError(f"docs/proxies/{name} has no {marker}")
        text = text.replace(marker, value)
    left = sorted(set(_PLACEHOLDER.findall(text)))
    if left:
        raise AssertionError(f"docs/proxies/{name}: no value for {', '.join(left)}")
    return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path, name: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not listen on port {port} in 20 s:\n{_tail(log)}")
        time.sleep(0.02)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL to the process group this test started (nginx's workers too)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    # nginx's workers and anything else left in the group this process leads.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def run_process(
    argv: Sequence[str], *, port: int, log: Path, name: str, env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` in its own process group, logging to ``log``; yield once it listens."""
    with log.open("wb") as out:
        process = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        _wait_for_port(process, port, log, name)
        yield process
    finally:
        _stop(process)


@dataclass
class Proxy:
    """A running proxy: its name, its base URL, its log and the config it runs."""

    name: str
    url: str
    log: Path
    config: str


@contextlib.contextmanager
def run_nginx(binary: str, workdir: Path, site: str, port: int) -> Iterator[Proxy]:
    """nginx with ``site`` (the rendered docs/proxies/nginx.conf) in a minimal main config.

    The main config only says where nginx may write (all inside ``workdir``); the site
    config, which is what the guide shows, is included unchanged.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    temp = workdir / "temp"
    temp.mkdir(exist_ok=True)
    (workdir / "booking-gate.conf").write_text(site, encoding="utf-8")
    # A root master runs its workers as "nobody", who could not read pytest's private tmp.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp_paths = "".join(f"    {kind}_temp_path {temp / kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (workdir / "nginx.conf").write_text(
        f"{user}worker_processes 1;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n    access_log off;\n{temp_paths}"
        f"    include {workdir / 'booking-gate.conf'};\n}}\n",
        encoding="utf-8",
    )
    log = workdir / "error.log"
    argv = [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", str(log),
            "-g", f"daemon off; pid {workdir / 'nginx.pid'};"]
    with run_process(argv, port=port, log=workdir / "stdout.log", name="nginx"):
        yield Proxy("nginx", f"http://127.0.0.1:{port}", log, site)


@contextlib.contextmanager
def run_caddy(binary: str, workdir: Path, site: str, port: int) -> Iterator[Proxy]:
    """Caddy with ``site`` (the rendered docs/proxies/Caddyfile) after test-only options.

    The global options turn off the admin API and automatic HTTPS and keep Caddy's data in
    ``workdir``; the site block, which is what the guide shows, follows unchanged.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "Caddyfile"
    config.write_text(
        f"{{\n\tadmin off\n\tauto_https off\n\tstorage file_system {workdir / 'data'}\n}}\n\n"
        + site, encoding="utf-8",
    )
    env = {**os.environ, "HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir / "config"),
           "XDG_DATA_HOME": str(workdir / "data")}
    log = workdir / "caddy.log"
    argv = [binary, "run", "--config", str(config), "--adapter", "caddyfile"]
    with run_process(argv, port=port, log=log, name="caddy", env=env):
        yield Proxy("caddy", f"http://127.0.0.1:{port}", log, site)


@dataclass
class Seen:
    """One request as a server received it, and the start of its answer."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int = 0
    #: The response's headers, names in lower case.
    answer: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Recorder:
    """Wraps an ASGI app and keeps every HTTP request it got, with its status and headers.

    A request is kept as it arrives and its answer noted before it is sent, so a test that
    has its response through a proxy always finds both here.
    """

    app: ASGIApp
    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = Seen(scope["method"], scope["path"], scope["query_string"].decode("latin-1"),
                    _pairs(scope["headers"]))
        self.seen.append(seen)

        async def spy(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen.status = int(message["status"])
                seen.answer.update(_pairs(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, spy)

    def clear(self) -> None:
        self.seen.clear()


def _pairs(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Header name (lower case) to value; a repeated header's values joined with ", "."""
    out: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The site behind the proxy: says which page it served and echoes what the gate told it.

    ``X-Echo-Member`` is the ``X-Gate-Member`` request header it received ("" for none).
    Serve it with ``lifespan="off"``.
    """
    headers = _pairs(scope["headers"])
    page = "checkout page" if scope["path"].startswith("/booking-form") else "other page"
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"x-echo-member", headers.get("x-gate-member", "").encode("latin-1")),
        (b"x-echo-method", scope["method"].encode("latin-1")),
        (b"x-echo-path", scope["path"].encode("latin-1")),
    ]})
    await send({"type": "http.response.body", "body": page.encode()})


@dataclass(frozen=True)
class Answer:
    """An HTTP response as the visitor gets it. Header names are lower case."""

    status: int
    headers: dict[str, str]
    text: str


def exchange(netloc: str, method: str, target: str, headers: dict[str, str],
             body: bytes = b"") -> Answer:
    """One request, sent as given: no method upper-casing, no path clean-up, no redirects."""
    host, _, port = netloc.partition(":")
    connection = http.client.HTTPConnection(host, int(port or 80), timeout=15)
    try:
        skip_host = any(k.lower() == "host" for k in headers)
        connection.putrequest(method, target, skip_host=skip_host,
                              skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        text = response.read().decode("utf-8", errors="replace")
        got: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            got[key] = f"{got[key]}, {value}" if key in got else value
        return Answer(response.status, got, text)
    finally:
        connection.close()
