"""Latency and status faults over real HTTP: concurrent calls under latency, 429 bursts with and
without Retry-After, 5xx with malformed bodies, timeouts and refused connections."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.emulator.support import (
    ANA_POOL,
    AUTH,
    BP,
    arm,
    field_of,
    quirks,
    refused_url,
)
from tests.emulator.support import get_balance as balance_of

BALANCE = f"GET {BP}/balances/{{poolId}}"
QUERY = f"POST {BP}/balances/query"
TOKEN_INFO = "POST /oauth2/token-info"


def get_balance(client: httpx.Client, **kwargs: Any) -> httpx.Response:
    return balance_of(client, ANA_POOL, **kwargs)


# -- latency ------------------------------------------------------------------------------------


def test_latency_admin_get_set_clear_reset(client: httpx.Client) -> None:
    zero = {"latency": {"seconds": 0.0, "jitter": 0.0}}
    assert client.get("/_emulator/latency").json() == zero
    set_ = client.post("/_emulator/latency", json={"seconds": 0.05, "jitter": 0.01}).json()
    assert set_ == {"latency": {"seconds": 0.05, "jitter": 0.01}}
    assert client.get("/_emulator/latency").json() == set_
    assert client.delete("/_emulator/latency").json() == zero
    client.post("/_emulator/latency", json={"seconds": 1}).raise_for_status()
    client.post("/_emulator/reset").raise_for_status()
    assert client.get("/_emulator/latency").json() == zero


@pytest.mark.parametrize(
    ("body", "field"),
    [({"seconds": -1}, "seconds"), ({"seconds": "1"}, "seconds"), ({"seconds": 61}, "seconds"),
     ({"jitter": -0.1}, "jitter"), ({"delay": 1}, "delay")],
)
def test_bad_latency_is_refused(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert field_of(client.post("/_emulator/latency", json=body)) == field


def test_latency_delays_wix_calls_not_admin_calls(client: httpx.Client) -> None:
    client.post("/_emulator/latency", json={"seconds": 0.4}).raise_for_status()
    started = time.monotonic()
    assert get_balance(client).status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    client.get("/_emulator/calls").raise_for_status()
    client.post("/_emulator/balances", json={"member": "ana"}).raise_for_status()
    assert time.monotonic() - started < 0.4


async def raw_post(url: str, path: str, body: bytes) -> tuple[bytes, float]:
    """One POST on its own connection, with asyncio streams: httpx's async pool costs several
    milliseconds a request, which would hide what the emulator does."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    head = f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
    head += f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    writer.write(head.encode() + body)
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer, time.monotonic() - started


def test_latency_does_not_serialize_concurrent_calls(server: str, client: httpx.Client) -> None:
    """500 calls at once with 50 ms each: side by side, not 25 s in a row."""
    client.post("/_emulator/latency", json={"seconds": 0.05}).raise_for_status()

    async def burst() -> tuple[list[tuple[bytes, float]], float]:
        started = time.monotonic()
        calls = [raw_post(server, "/oauth2/token-info", b'{"token": "t"}') for _ in range(500)]
        answers = await asyncio.gather(*calls)
        return list(answers), time.monotonic() - started

    answers, elapsed = asyncio.run(asyncio.wait_for(burst(), 30))
    assert all(a.startswith(b"HTTP/1.1 200 ") and a.endswith(b'{"active":false}')
               for a, _ in answers)
    assert min(seconds for _, seconds in answers) >= 0.05
    assert elapsed < 4.0, elapsed  # in a row it would be 25 s; about 0.6 s on a laptop
    assert client.get("/_emulator/calls").json()["calls"] == {TOKEN_INFO: 500}


# -- status faults: 429 bursts, 5xx, timeouts, refused connections ------------------------------


def test_429_burst_with_and_without_retry_after(client: httpx.Client) -> None:
    body = '{"message":"Too many requests"}'
    first = arm(client, route=BALANCE, status=429, body=body, times=2,
                headers={"Retry-After": "2"})
    assert first["headers"] == {"Retry-After": "2"} and first["kind"] is None
    arm(client, route=BALANCE, status=429, body=body)
    answers = [get_balance(client) for _ in range(4)]
    assert [r.status_code for r in answers] == [429, 429, 429, 200]
    assert [r.headers.get("retry-after") for r in answers] == ["2", "2", None, None]
    assert answers[0].json() == {"message": "Too many requests"}
    assert client.get("/_emulator/calls").json()["calls"] == {BALANCE: 4}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_with_a_malformed_body(client: httpx.Client, status: int) -> None:
    arm(client, route=QUERY, status=status, body="<html>upstream down", contentType="text/html",
        headers={"X-Upstream": "edge-1"})
    response = client.post(f"{BP}/balances/query", json={}, headers=AUTH)
    assert (response.status_code, response.text) == (status, "<html>upstream down")
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-upstream"] == "edge-1"
    quirks(client, emptyErrorDescriptions=True)
    arm(client, route=QUERY, status=status, body="{}")
    assert client.post(f"{BP}/balances/query", json={}, headers=AUTH).content == b""


def test_delay_past_the_client_timeout_is_a_timeout(client: httpx.Client) -> None:
    arm(client, route=BALANCE, delay=1.5)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        get_balance(client, timeout=0.3)
    assert time.monotonic() - started < 1.2
    assert get_balance(client).status_code == 200  # the fault was used once


def test_a_closed_port_refuses_connections() -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(refused_url(), timeout=2, trust_env=False)


