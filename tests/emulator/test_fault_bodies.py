"""Misshapen bodies over real HTTP: truncated, huge, endless and dripped. Every read is bounded
by a timeout or a deadline, and the huge body is checked never to be held in memory."""

from __future__ import annotations

import json
import logging
import time
import tracemalloc
from typing import Any

import httpx
import pytest

from gate.tooling.emulator import DEMO_SEED_PATH, create_emulator, load_seed
from gate.tooling.testing import run_server
from tests.emulator.support import ANA_POOL, API_KEY, AUTH, BP, SITE_ID, arm, field_of
from tests.emulator.support import get_balance as balance_of

BALANCE = f"GET {BP}/balances/{{poolId}}"
QUERY = f"POST {BP}/balances/query"
TOKEN_INFO = "POST /oauth2/token-info"


def get_balance(client: httpx.Client, **kwargs: Any) -> httpx.Response:
    return balance_of(client, ANA_POOL, **kwargs)


# -- truncated ----------------------------------------------------------------------------------


def read_until_cut(client: httpx.Client, **kwargs: Any) -> tuple[httpx.Response, bytes]:
    received = b""
    url = f"{BP}/balances/{ANA_POOL}"
    with (
        client.stream("GET", url, headers=AUTH, **kwargs) as response,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        for chunk in response.iter_raw():
            received += chunk
    return response, received


def test_truncated_real_answer_closes_mid_body(client: httpx.Client) -> None:
    whole = get_balance(client).content
    records: list[logging.LogRecord] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Recorder()
    logging.getLogger("uvicorn.error").addHandler(handler)
    try:
        arm(client, route=BALANCE, kind="truncated")
        response, received = read_until_cut(client)
        time.sleep(0.1)  # the server logs after the response, in its own thread
    finally:
        logging.getLogger("uvicorn.error").removeHandler(handler)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(whole)
    assert received == whole[: len(whole) // 2]
    assert records == []  # the deliberate cut is not reported as a server error
    assert get_balance(client).content == whole  # the connection pool recovers


def test_truncated_fault_body_with_size(client: httpx.Client) -> None:
    arm(client, route=BALANCE, kind="truncated", status=503, body='{"message":"x"}', size=3)
    response, received = read_until_cut(client)
    assert (response.status_code, response.headers["content-length"], received) == (
        503, "15", b'{"m')


# -- huge ---------------------------------------------------------------------------------------


def test_huge_body_is_valid_json_of_the_exact_size(client: httpx.Client) -> None:
    real = client.post(f"{BP}/balances/query", json={}, headers=AUTH).json()["balances"][0]
    arm(client, route=QUERY, kind="huge", size=300_000)
    response = client.post(f"{BP}/balances/query", json={})
    assert response.headers["content-length"] == "300000"
    assert len(response.content) == 300_000
    balances = response.json()["balances"]
    assert len(balances) > 100 and all(b == real for b in balances)
    arm(client, route=QUERY, kind="huge", size=100_000, fill="whitespace", declareLength=False)
    response = client.post(f"{BP}/balances/query", json={})
    assert "content-length" not in response.headers
    assert response.headers["transfer-encoding"] == "chunked"
    assert len(response.content) == 100_000 and response.json() == {"balances": []}


@pytest.mark.parametrize(("route", "key"), [(TOKEN_INFO, "data"), (f"POST {BP}/items/query",
                                                                    "items")])
def test_huge_on_other_routes(client: httpx.Client, route: str, key: str) -> None:
    arm(client, route=route, kind="huge", size=5000)
    response = client.post(route.split(" ", 1)[1], json={})
    assert len(response.content) == 5000 and list(response.json()) == [key]


def test_huge_default_is_40_mb_streamed_without_holding_it(client: httpx.Client) -> None:
    armed = arm(client, route=QUERY, kind="huge")
    assert (armed["size"], armed["fill"], armed["declareLength"]) == (40_000_000, "records", True)
    total, tail = 0, b""
    tracemalloc.start()
    try:
        with client.stream("POST", f"{BP}/balances/query", json={}, timeout=30) as response:
            for chunk in response.iter_raw():
                total += len(chunk)
                tail = (tail + chunk)[-2:]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (total, tail) == (40_000_000, b"]}")
    assert peak < 8_000_000, peak  # neither side ever held the body


def test_a_client_may_stop_reading_a_huge_body(client: httpx.Client) -> None:
    arm(client, route=QUERY, kind="huge", size=200_000_000, declareLength=False)
    with client.stream("POST", f"{BP}/balances/query", json={}) as response:
        read = 0
        for chunk in response.iter_raw():
            read += len(chunk)
            if read > 1_000_000:
                break
    assert client.post(f"{BP}/balances/query", json={}, headers=AUTH).status_code == 200


# -- endless and drip ---------------------------------------------------------------------------


def read_for(response: httpx.Response, seconds: float) -> bytes:
    received, deadline = b"", time.monotonic() + seconds
    for chunk in response.iter_raw():
        received += chunk
        if time.monotonic() > deadline:
            break
    return received


def test_endless_body_keeps_coming_until_the_client_leaves(client: httpx.Client) -> None:
    real = client.post(f"{BP}/balances/query", json={}, headers=AUTH).json()["balances"][0]
    arm(client, route=QUERY, kind="endless", interval=0.02, times=None)
    # A read timeout never fires: every read gets a chunk within 20 ms.
    timeout = httpx.Timeout(10, read=0.5)
    with client.stream("POST", f"{BP}/balances/query", json={}, timeout=timeout) as response:
        assert "content-length" not in response.headers
        received = read_for(response, 0.5)
    head = b'{"balances":['
    assert received.startswith(head) and received.count(b'"poolInfo"') >= 5
    assert json.loads(b"[" + received[len(head):].split(b",{")[0] + b"]") == [real]
    client.delete("/_emulator/faults").raise_for_status()
    assert client.post(f"{BP}/balances/query", json={}, headers=AUTH).status_code == 200


def test_endless_stream_ends_when_the_client_leaves() -> None:
    """Nothing keeps streaming to a gone client: the server then stops at once."""
    app = create_emulator(load_seed(DEMO_SEED_PATH), api_key=API_KEY, site_id=SITE_ID)
    with run_server(app) as url, httpx.Client(base_url=url, trust_env=False) as http:
        arm(http, route=TOKEN_INFO, kind="endless", interval=0.01)
        with http.stream("POST", "/oauth2/token-info", json={}) as response:
            assert read_for(response, 0.2).startswith(b'{"data":[{}')
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 3


def test_drip_sends_the_whole_real_answer_slowly(client: httpx.Client) -> None:
    whole = get_balance(client).content
    armed = arm(client, route=BALANCE, kind="drip", interval=0.02, chunkSize=64)
    assert (armed["interval"], armed["chunkSize"], armed["declareLength"]) == (0.02, 64, True)
    started = time.monotonic()
    # Each read waits only 20 ms, so a per-read timeout never catches a drip.
    response = get_balance(client, timeout=httpx.Timeout(10, read=0.5))
    elapsed = time.monotonic() - started
    assert response.content == whole
    assert response.headers["content-length"] == str(len(whole))
    assert elapsed >= (len(whole) // 64) * 0.02


def test_drip_of_a_fault_body_without_length(client: httpx.Client) -> None:
    arm(client, route=BALANCE, kind="drip", status=500, body='{"message":"slow"}', interval=0,
        declareLength=False, chunkSize=1)
    response = get_balance(client)
    assert (response.status_code, response.json()) == (500, {"message": "slow"})
    assert "content-length" not in response.headers


# -- arming -------------------------------------------------------------------------------------


def test_kind_defaults_are_listed(client: httpx.Client) -> None:
    arm(client, route=QUERY, kind="huge")
    arm(client, route=BALANCE, kind="endless", times=None)
    arm(client, route=BALANCE, kind="truncated", delay=0.5)
    faults = client.get("/_emulator/faults").json()["faults"]
    base: dict[str, Any] = {"status": None, "body": "", "contentType": "application/json",
                            "times": 1, "delay": 0.0, "headers": {}}
    assert faults == {
        QUERY: [{**base, "kind": "huge", "size": 40_000_000, "fill": "records",
                 "declareLength": True}],
        BALANCE: [{**base, "kind": "endless", "interval": 1.0, "times": None},
                  {**base, "kind": "truncated", "size": None, "delay": 0.5}],
    }


@pytest.mark.parametrize(
    ("fault", "field"),
    [
        ({"kind": "bogus"}, "kind"),
        ({"kind": "huge", "size": 63}, "size"),
        ({"kind": "huge", "size": -1}, "size"),
        ({"kind": "endless", "size": 5}, "size"),
        ({"status": 429, "interval": 1}, "interval"),
        ({"kind": "truncated", "fill": "records"}, "fill"),
        ({"kind": "drip", "chunkSize": 0}, "chunkSize"),
        ({"kind": "endless", "interval": 61}, "interval"),
        ({"status": 429, "headers": {"Content-Length": "5"}}, "headers.Content-Length"),
        ({"status": 429, "headers": {"Transfer-Encoding": "chunked"}}, "headers.Transfer-Encoding"),
        ({"status": 429, "headers": {"Bad Name": "x"}}, "headers.Bad Name"),
        ({"status": 429, "headers": {"X-A": "a\r\nb"}}, "headers.X-A"),
        ({"status": 429, "headers": {"X-A": 1}}, "headers.X-A"),
        ({"times": 2}, "status"),
    ],
)
def test_bad_fault_kinds_are_refused(
    client: httpx.Client, fault: dict[str, Any], field: str
) -> None:
    assert field_of(client.post("/_emulator/faults", json={"route": QUERY, **fault})) == field

