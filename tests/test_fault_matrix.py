"""Every Wix fault by every fail mode: the documented outcome, within the deadline, never a 500.

Faults are produced for real by the emulator (statuses, Retry-After, slow, truncated, huge,
endless and dripped bodies) or by a closed port (refused connections).
"""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate import WixSettings
from gate.policy.shipped import shipped_policies
from tests.conftest import CHECKOUT, SITE_ID, Emulator

BALANCES = "POST /benefit-programs/v1/balances/query"
DEADLINE = 1.5

FAULTS: dict[str, dict[str, Any]] = {
    "429": {"status": 429, "body": ""},
    "429-retry-after-1": {"status": 429, "headers": {"Retry-After": "1"}},
    "429-retry-after-600": {"status": 429, "headers": {"Retry-After": "600"}},
    "500-empty": {"status": 500, "body": ""},
    "503": {"status": 503, "body": '{"message": "down"}'},
    "slow": {"delay": 5.0},
    "truncated": {"kind": "truncated"},
    "huge": {"kind": "huge", "size": 40_000_000},
    "huge-chunked": {"kind": "huge", "size": 40_000_000, "declareLength": False},
    "endless": {"kind": "endless", "interval": 0.05},
    "drip": {"kind": "drip", "interval": 0.2, "chunkSize": 4},
    "malformed": {"status": 200, "body": '{"balances": [{"id": '},
}
# What each fail mode answers (status, rule header).
MODES: dict[str, tuple[str, int]] = {
    "deny": ("", 503),
    "redirect": ("on_error:\n  action: redirect\n  to: /try-later\n", 303),
    "allow": ("on_error:\n  action: allow\n", 200),
}
#: What each fail mode answers when who is asking cannot be checked: never allow.
IDENTITY = {"deny": 503, "redirect": 303, "allow": 503}


def _policies(tmp_path: Path, mode: str) -> Path:
    text = (shipped_policies() / "10-checkout.yaml").read_text() + "\n" + MODES[mode][0]
    (tmp_path / "10-checkout.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_by_fail_mode(
    gated: Callable[..., Any], emulator: Emulator, tmp_path: Path, fault: str, mode: str
) -> None:
    wix = WixSettings(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url,
                      retries=1, timeout=1.0)
    url, _ = gated(wix=wix, policies=_policies(tmp_path, mode), decision_deadline=DEADLINE)
    token = emulator.token("ana")
    emulator.fault(BALANCES, times=None, **FAULTS[fault])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    response = httpx.get(url + CHECKOUT, headers={"Authorization": token}, timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code == MODES[mode][1]
    assert response.headers["x-gate-rule"] == "(on_error)"  # said, even when it lets through
    assert response.headers["x-gate-error"] in (
        "upstream_unavailable", "upstream_bad_data", "deadline_exceeded")
    # The decision never waits longer than its deadline (plus serving overhead), whatever
    # Wix does, and a huge answer is cut off, not read into memory.
    assert elapsed < DEADLINE + 1.0
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 30


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("mode", sorted(MODES))
def test_refused_connection_by_fail_mode(
    gated: Callable[..., Any], emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    url, _ = gated(policies=_policies(tmp_path, mode), wix=WixSettings(
        api_key="k", site_id=SITE_ID, base_url=f"http://127.0.0.1:{_closed_port()}", retries=1))
    # A visitor: only the service lookup needs Wix, so the cause is upstream.
    visitor = httpx.get(url + CHECKOUT)
    assert visitor.status_code == MODES[mode][1]
    assert visitor.headers["x-gate-error"] == "upstream_unavailable"
    # A token: checking it needs Wix, so the cause is identity, which never allows.
    response = httpx.get(url + CHECKOUT, headers={"Authorization": "some-token"})
    assert response.status_code == IDENTITY[mode]
    assert response.headers["x-gate-error"] == "upstream_unavailable"


def test_retry_after_is_honoured(gated: Callable[..., Any], emulator: Emulator) -> None:
    """One 429 asking for a short wait: retried after it, and the member never notices."""
    wix = WixSettings(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url,
                      retries=1)
    url, _ = gated(wix=wix)
    token = emulator.token("ana")
    emulator.fault(BALANCES, status=429, headers={"Retry-After": "0.3"}, times=1)
    started = time.monotonic()
    assert httpx.get(url + CHECKOUT, headers={"Authorization": token}).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert emulator.calls(BALANCES) == 2
