"""Start ``booking-gate serve`` as a real subprocess on 127.0.0.1, for the service tests."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from gate.policy.shipped import shipped_policies
from gate.tooling.demo.site import DEMO_PAGES
from gate.tooling.emulator import TOKEN_PATTERN

API_SECRET = "test-api-secret-5f0e8d2c4a10-b2d84e17"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_env(emulator_url: str, api_key: str, site_id: str, **extra: str) -> dict[str, str]:
    """The environment of a gate that reads the emulator; nothing inherited can leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKING_GATE_")}
    env.update({
        "BOOKING_GATE_WIX_API_KEY": api_key,
        "BOOKING_GATE_WIX_SITE_ID": site_id,
        "BOOKING_GATE_WIX_BASE_URL": emulator_url,
        "BOOKING_GATE_API_SECRET": API_SECRET,
        # The demo studio's rules: the shipped ones, signing in at the demo's /demo/login.
        "BOOKING_GATE_POLICIES": json.dumps([str(shipped_policies()), str(DEMO_PAGES)]),
        "BOOKING_GATE_WIX_RETRIES": "0",
        # The emulator's tokens are not shaped like Wix's: tell the gate what they look like.
        "BOOKING_GATE_TOKEN_PATTERN": TOKEN_PATTERN,
    })
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gate", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@contextlib.contextmanager
def serve(env: dict[str, str], *args: str, cwd: Path | None = None) -> Iterator[str]:
    """``python -m gate serve`` on a free port; yields its base URL once /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gate", "serve", "--port", str(port), *args],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"booking-gate serve exited {process.returncode}:\n{output}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("booking-gate serve did not answer /healthz in 30 s")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
