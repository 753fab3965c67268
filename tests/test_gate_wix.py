"""The gate against the Wix emulator over HTTP: cache, single-flight, pools, upstream faults."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate import BalanceSnapshot, StaticBalanceSource, WixBalanceSource, WixSettings
from gate.policy.shipped import shipped_policies
from gate.wix.client import WixClient
from tests.conftest import CHECKOUT, PILATES, SITE_ID, YOGA, Emulator, FakeClock

QUERY = "POST /benefit-programs/v1/balances/query"
ANA_POOL = "54f64ce6-f56e-5d88-bb99-ce8b48813437"


class NullCache:
    """A cache that never keeps anything, so only single-flight can collapse fetches."""

    async def get(self, key: str) -> BalanceSnapshot | None:
        return None

    async def set(self, key: str, snapshot: BalanceSnapshot) -> None:
        return None

    async def delete(self, key: str) -> None:
        return None

    def peek(self, key: str) -> BalanceSnapshot | None:
        return None


async def fetch_direct(emulator: Emulator, member_id: str) -> BalanceSnapshot:
    """The Wix source on its own, in this thread's own event loop."""
    async with httpx.AsyncClient() as http:
        client = WixClient(http=http, api_key=emulator.api_key, site_id=SITE_ID,
                           base_url=emulator.url)
        return await WixBalanceSource(client, site_id=SITE_ID, clock=lambda: 0.0).fetch(member_id)


def get_as(url: str, token: str | None, path: str = CHECKOUT) -> httpx.Response:
    headers = {"Authorization": token} if token else {}
    return httpx.get(url + path, headers=headers, follow_redirects=False)


def test_balance_change_reaches_gate_after_ttl(
    gated: Callable[..., Any], emulator: Emulator, clock: FakeClock
) -> None:
    """Within the TTL the cached balance answers; once it passes, the new one does."""
    url, _ = gated(cache_ttl=30, stale_while_revalidate=0)
    token = emulator.token("ana")
    assert get_as(url, token).status_code == 200
    emulator.set_balance(ANA_POOL, available="0")
    clock.advance(29)
    assert get_as(url, token).status_code == 200  # still cached
    assert emulator.calls(QUERY) == 1
    clock.advance(2)
    response = get_as(url, token)
    assert response.status_code == 303
    assert response.headers["x-gate-rule"] == "no-credits"
    assert emulator.calls(QUERY) == 2


def test_fifty_concurrent_misses_make_one_query(
    gated: Callable[..., Any], emulator: Emulator
) -> None:
    """Single-flight alone (the cache keeps nothing) collapses 50 concurrent fetches into one."""
    url, _ = gated(cache=NullCache())
    token = emulator.token("ana")
    # Slow the real answer so all fifty requests arrive while the first fetch is in flight.
    emulator.fault(QUERY, delay=0.5, times=1)
    emulator.admin.post("/_emulator/calls/reset")

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(base_url=url, limits=limits) as client:
            responses = await asyncio.gather(*(
                client.get(CHECKOUT, headers={"Authorization": token}) for _ in range(50)
            ))
        return [r.status_code for r in responses]

    statuses = asyncio.run(burst())
    assert statuses == [200] * 50
    assert emulator.calls(QUERY) == 1
    assert emulator.calls("POST /oauth2/token-info") == 1


def test_pools_active_paused_ended_and_pagination(
    gated: Callable[..., Any], emulator: Emulator
) -> None:
    """230 pools over three pages; none can pay for a class alone, however many there are."""
    for index in range(230):
        status = ("ACTIVE", "ENDED", "PAUSED")[index % 3]
        response = emulator.admin.post("/_emulator/balances", json={
            "member": "dev", "available": "0.01", "reserved": "0", "status": status,
            "namespace": "@wix/pricing-plans",
        })
        assert response.status_code == 201, response.text
    snapshot = asyncio.run(fetch_direct(emulator, emulator.members["dev"]))
    assert len(snapshot.pools) == 230
    assert emulator.calls(QUERY) == 3  # limit 100: pages of 100, 100, 30
    active = [p.available for p in snapshot.pools if p.status == "ACTIVE"]
    assert sum(active) == Decimal("0.77")  # 77 ACTIVE pools x 0.01, exactly
    assert snapshot.status == "ACTIVE"
    # 0.77 credits over 77 plans: no single plan can pay for a 1-credit class.
    url, _ = gated()
    response = get_as(url, emulator.token("dev"))
    assert response.headers["x-gate-rule"] == "not-enough-credits"


@pytest.mark.parametrize(
    ("available", "path", "status", "rule"),
    [
        ("2.5", CHECKOUT, 200, None),
        ("2.5", f"/booking-form?bookings_serviceId={PILATES}", 200, None),
        ("1.9999", f"/booking-form?bookings_serviceId={PILATES}", 303, "not-enough-credits"),
        ("0.0000", CHECKOUT, 303, "no-credits"),
        ("7", CHECKOUT, 200, None),
        ("0.0001", CHECKOUT, 303, "not-enough-credits"),
    ],
)
def test_decimal_amounts(
    gated: Callable[..., Any], emulator: Emulator, available: str, path: str, status: int,
    rule: str | None,
) -> None:
    emulator.set_balance(ANA_POOL, available=available)
    url, _ = gated()
    response = get_as(url, emulator.token("ana"), path)
    assert response.status_code == status
    assert response.headers.get("x-gate-rule") == rule


def test_paused_pool_with_active_pool_still_books(
    gated: Callable[..., Any], emulator: Emulator
) -> None:
    """A member with an ACTIVE and a PAUSED plan books on the ACTIVE one."""
    emulator.admin.post("/_emulator/balances", json={
        "member": "cleo", "available": "1", "reserved": "0", "status": "ACTIVE",
        "namespace": "@wix/pricing-plans"}).raise_for_status()
    url, _ = gated()
    assert get_as(url, emulator.token("cleo")).status_code == 200


def balance_body(available: object = "3", status: str = "ACTIVE", member: str = "") -> str:
    """A query answer holding one balance with one field made wrong."""
    balance = {
        "id": "p",
        "beneficiary": {"memberId": member or "daae4fb6-e7f5-581a-8f5c-b58f79a5a919"},
        "amount": {"available": available, "reserved": "0"},
        "poolInfo": {"id": "p", "status": status, "namespace": "@wix/pricing-plans"},
    }
    return json.dumps({"balances": [balance]})


FAULTS = [
    pytest.param({"status": 200, "body": "{not json"}, "upstream_bad_data", id="malformed-json"),
    pytest.param({"status": 200, "body": '{"balances": [{"id": "x"}]}'}, "upstream_bad_data",
                 id="wrong-shape"),
    pytest.param({"status": 200, "body": balance_body(available=7)}, "upstream_bad_data",
                 id="amount-not-a-string"),
    pytest.param({"status": 200, "body": balance_body(available="")}, "upstream_bad_data",
                 id="amount-empty"),
    pytest.param({"status": 200, "body": balance_body(available="NaN")}, "upstream_bad_data",
                 id="amount-nan"),
    pytest.param({"status": 200, "body": balance_body(status="sleeping")}, "upstream_bad_data",
                 id="status-not-an-enum-name"),
    pytest.param({"status": 200, "body": balance_body(member="someone-else")},
                 "upstream_bad_data", id="another-members-balance"),
    pytest.param({"status": 200, "body": '{"balances": [], "metadata": {"hasNext": true}}'},
                 "upstream_bad_data", id="hasNext-without-a-cursor"),
    pytest.param({"status": 200, "body": '{"balances": null, "metadata": null}'}, None,
                 id="null-lists-and-metadata-are-an-empty-answer"),
    pytest.param({"status": 401, "body": '{"message": "Unauthorized"}'}, "upstream_auth",
                 id="401"),
    pytest.param({"status": 403, "body": '{"message": "Insufficient permission"}'},
                 "upstream_auth", id="403"),
    pytest.param({"status": 404, "body": ""}, "upstream_not_found", id="404"),
    pytest.param({"status": 500, "body": ""}, "upstream_unavailable", id="500"),
    pytest.param({"status": 429, "body": '{"message": "Too many requests"}'},
                 "upstream_unavailable", id="429"),
    pytest.param({"status": 400, "body": '{"message": "bad"}'}, "upstream_rejected", id="400"),
]


@pytest.mark.parametrize(("fault", "kind"), FAULTS)
def test_upstream_faults_take_the_declared_fail_mode(
    gated: Callable[..., Any], emulator: Emulator, caplog: pytest.LogCaptureFixture,
    fault: dict[str, Any], kind: str | None,
) -> None:
    """Every upstream failure ends in on_error (503, retry later): never a 500, never open."""
    caplog.set_level(logging.INFO, logger="booking_gate")
    url, gate = gated()
    token = emulator.token("ana")
    emulator.fault(QUERY, times=None, **fault)
    response = get_as(url, token)
    gate.core.lines.flush()  # decision lines are written by a thread: now, not in 50 ms
    if kind is None:  # a valid answer after all: ana holds no balance, so no plan
        assert response.headers["x-gate-rule"] == "no-plan"
        return
    assert response.status_code == 503
    assert response.headers["x-gate-rule"] == "(on_error)"
    assert response.headers["retry-after"] == "30"
    assert "checkout page" not in response.text
    logged = [r for r in caplog.records if r.name == "booking_gate.decision"]
    assert logged[-1].levelno == logging.WARNING
    assert logged[-1].booking_gate["error"].startswith(kind)  # type: ignore[attr-defined]


def test_failed_fetch_is_not_cached(gated: Callable[..., Any], emulator: Emulator) -> None:
    """After a 500, the very next request asks again and succeeds."""
    url, _ = gated()
    token = emulator.token("ana")
    emulator.fault(QUERY, status=500, times=1)
    assert get_as(url, token).status_code == 503
    assert get_as(url, token).status_code == 200


def test_retry_recovers_from_one_500(
    gated: Callable[..., Any], emulator: Emulator
) -> None:
    """With retries=1 a single transient 500 is invisible to the member."""
    wix = WixSettings(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url, retries=1)
    url, _ = gated(wix=wix)
    emulator.fault(QUERY, status=500, times=1)
    assert get_as(url, emulator.token("ana")).status_code == 200
    assert emulator.calls(QUERY) == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refused_connection_takes_the_fail_mode(
    gated: Callable[..., Any], emulator: Emulator
) -> None:
    """Wix unreachable: members with a cached token still get the 503 page, not a crash."""
    wix = WixSettings(api_key="k", site_id=SITE_ID, base_url=f"http://127.0.0.1:{_closed_port()}",
                      retries=0)
    url, _ = gated(wix=wix)
    response = get_as(url, "some-token")
    assert response.status_code == 503
    assert response.headers["x-gate-rule"] == "(on_error)"


def test_declared_fail_open_lets_requests_through(
    gated: Callable[..., Any], emulator: Emulator, tmp_path: Path
) -> None:
    """Fail-open is possible, but only when the policy says so."""
    policy = (shipped_policies() / "10-checkout.yaml").read_text()
    (tmp_path / "10-checkout.yaml").write_text(
        policy + "\non_error:\n  action: allow\n")
    url, _ = gated(policies=tmp_path)
    emulator.fault(QUERY, status=500, times=None)
    response = get_as(url, emulator.token("ana"))
    assert response.status_code == 200
    assert response.text == "checkout page"


def test_token_from_another_site_is_not_a_member(
    gated: Callable[..., Any], emulator: Emulator, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """token-info names the issuing site; a token for another site is treated as signed out,
    and the warning says which setting to check."""
    wix = WixSettings(api_key=emulator.api_key, site_id="another-site", base_url=emulator.url,
                      retries=0)
    balances = tmp_path / "balances.yaml"
    balances.write_text(f"members: {{}}\nservices: {{{YOGA}: [set-1]}}\n")
    url, _ = gated(wix=wix, source=StaticBalanceSource(balances, clock=lambda: 0.0))
    response = get_as(url, emulator.token("ana"))
    assert response.headers["x-gate-rule"] == "sign-in-first"
    assert "BOOKING_GATE_WIX_SITE_ID" in caplog.text


def test_wrong_site_id_is_loud_not_a_silent_sign_out(
    gated: Callable[..., Any], emulator: Emulator
) -> None:
    """With the site id wrong for everything, Wix refuses the gate's own reads: on_error."""
    wix = WixSettings(api_key=emulator.api_key, site_id="another-site", base_url=emulator.url,
                      retries=0)
    url, _ = gated(wix=wix)
    response = get_as(url, emulator.token("ana"))
    assert response.status_code == 503
    assert response.headers["x-gate-rule"] == "(on_error)"


@pytest.mark.parametrize("route", ["POST /benefit-programs/v1/balances/query",
                                   "POST /oauth2/token-info"])
def test_api_key_never_appears_in_logs_or_pages(
    gated: Callable[..., Any], emulator: Emulator, caplog: pytest.LogCaptureFixture, route: str
) -> None:
    """With every logger at DEBUG and upstream failing, the API key is never written anywhere."""
    caplog.set_level(logging.DEBUG)
    url, gate = gated()
    token = emulator.token("ana")
    bodies = [get_as(url, token).text]
    for status in (401, 403, 500):
        emulator.fault(route, status=status, body='{"message": "nope"}', times=None)
        bodies.append(get_as(url, emulator.token("ana")).text)
        emulator.admin.delete("/_emulator/faults")
    bodies.append(repr(gate))
    assert caplog.records, "nothing was logged: the test would prove nothing"
    assert emulator.api_key not in caplog.text
    assert all(emulator.api_key not in body for body in bodies)
    assert token not in caplog.text


def test_an_unknown_pool_status_is_ignored_for_paying_not_a_failure(
    gated: Callable[..., Any], emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A status Wix adds later never pays, is logged, and leaves the other plans working."""
    emulator.admin.patch(f"/_emulator/balances/{ANA_POOL}",
                         json={"status": "SUSPENDED", "allowUnknown": True}).raise_for_status()
    url, _ = gated()
    response = get_as(url, emulator.token("ana"))
    assert response.headers["x-gate-rule"] == "not-in-plan"
    assert "SUSPENDED" in caplog.text
    # With a live plan beside it, the live plan pays as usual.
    emulator.admin.post("/_emulator/balances", json={
        "member": "ana", "available": "1", "status": "ACTIVE"}).raise_for_status()
    url, _ = gated()
    assert get_as(url, emulator.token("ana")).status_code == 200
