"""Two ``booking-gate serve`` processes sharing one real redis-server, in front of the Wix
emulator, which counts every call: the fleet reads a member once, hears one webhook, spends
one budget, guards one last credit, and lives through Redis dying and coming back."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from gate.state import DOWN
from tests.conftest import SITE_ID, YOGA, Emulator
from tests.redis_server import RedisServer
from tests.serving import API_SECRET, free_port, serve_env
from tests.test_webhook_e2e import ANA_POOL, emit

AUTH = {"Authorization": f"Bearer {API_SECRET}"}
EVE_POOL = "ba24f4c9-a207-5ddf-807f-25bfa3267b25"


def decide(url: str, member: str, method: str = "GET") -> dict[str, Any]:
    body = {"memberId": member, "serviceId": YOGA, "method": method}
    response = httpx.post(url + "/v1/decisions", json=body, headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def wix_calls(emulator: Emulator) -> int:
    return sum(emulator.admin.get("/_emulator/calls").json()["calls"].values())


def readiness(url: str) -> tuple[int, str]:
    response = httpx.get(url + "/readyz", timeout=5)
    return response.status_code, str(response.json().get("redis"))


def redis_says(url: str, state: str) -> Callable[[], bool]:
    return lambda: readiness(url) == (200, state)


def until(check: Callable[[], bool], what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def gate_process(env: dict[str, str]) -> Iterator[str]:
    """``python -m gate serve`` writing to a file: these tests log hundreds of decisions, more
    than an unread pipe (``tests.serving.serve``) holds before the gate blocks writing."""
    port = free_port()
    command = [sys.executable, "-m", "gate", "serve", "--port", str(port)]
    with tempfile.TemporaryFile() as output, subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT) as process:
        url = f"http://127.0.0.1:{port}"
        try:
            until(lambda: _answers(url, process), "booking-gate serve answers", seconds=30)
            yield url
        finally:
            process.kill()  # nothing of it must outlive the test; Redis drops its connections


def _answers(url: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"booking-gate serve exited {process.returncode}")
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def two_gates(emulator_server: tuple[str, str], redis: RedisServer,
              **extra: str) -> Iterator[tuple[str, str]]:
    url, api_key = emulator_server
    public_key = httpx.get(url + "/_emulator/webhooks/public-key").text
    env = serve_env(url, api_key, SITE_ID, BOOKING_GATE_REDIS_URL=redis.url,
                    BOOKING_GATE_WIX_WEBHOOK_PUBLIC_KEY=public_key,
                    BOOKING_GATE_CACHE_TTL="3600", BOOKING_GATE_RELOAD_INTERVAL="off", **extra)
    # Both start at once (each takes a couple of seconds to import and bind).
    starting = [gate_process(env), gate_process(env)]
    with ThreadPoolExecutor(2) as starter, contextlib.ExitStack() as stack:
        one, two = starter.map(stack.enter_context, starting)
        for gate in (one, two):
            until(redis_says(gate, "up"), "the gate uses Redis")
            # Each process keeps its own service catalog: read YOGA's item sets now, so the
            # tests count members' calls only (a visitor's decision reads the service alone).
            httpx.post(gate + "/v1/decisions", json={"serviceId": YOGA}, headers=AUTH)
        yield one, two


@pytest.fixture(scope="module")
def gates(emulator_server: tuple[str, str], redis_server: RedisServer) -> Iterator[tuple[str, str]]:
    with two_gates(emulator_server, redis_server) as pair:
        yield pair


def test_a_member_read_on_one_instance_costs_the_other_no_wix_call(
    gates: tuple[str, str], emulator: Emulator, redis_url: str
) -> None:
    one, two = gates
    fay = emulator.members["fay"]
    before = wix_calls(emulator)
    assert decide(one, fay)["rule"] == "(default)"
    read_once = wix_calls(emulator)
    assert read_once > before  # instance one read fay's balances (and pools) from Wix
    answer = decide(two, fay)
    assert (answer["rule"], answer["data"]) == ("(default)", "fresh")
    assert wix_calls(emulator) == read_once  # instance two: from Redis, no Wix call


def test_a_webhook_to_one_instance_changes_the_others_next_decision(
    gates: tuple[str, str], emulator: Emulator, redis_url: str
) -> None:
    one, two = gates
    ana = emulator.members["ana"]
    assert decide(one, ana)["rule"] == "(default)"
    assert decide(two, ana)["rule"] == "(default)"  # both hold ana's credits, for an hour
    sent = emit(emulator, one, setAvailable={"pool": ANA_POOL, "available": "0"})
    assert sent["status"] == 200
    # Redis dropped the balance before instance one answered Wix, and told instance two.
    assert decide(two, ana)["rule"] == "no-credits"
    assert decide(one, ana)["rule"] == "no-credits"


@pytest.mark.parametrize(("member", "pool"), [("ana", ANA_POOL), ("eve", EVE_POOL)])
def test_two_tabs_with_one_credit_on_two_instances_one_passes(
    gates: tuple[str, str], emulator: Emulator, redis_url: str, member: str, pool: str
) -> None:
    one, two = gates
    emulator.set_balance(pool, available="1")
    member_id = emulator.members[member]
    start = threading.Barrier(2)

    def submit(gate: str) -> dict[str, Any]:
        start.wait()
        return decide(gate, member_id, method="POST")  # a checkout submission: it holds

    with ThreadPoolExecutor(2) as pool_of_tabs:
        answers = list(pool_of_tabs.map(submit, [one, two]))
    assert sorted(a["outcome"] for a in answers) == ["allow", "redirect"]
    assert {a["rule"] for a in answers} == {"(default)", "no-credits"}
    # And a third tab, on either instance, is sent away too.
    assert decide(one, member_id, method="POST")["rule"] == "no-credits"


def test_the_fleet_spends_one_wix_budget(
    emulator_server: tuple[str, str], redis_server: RedisServer, redis_url: str,
    emulator: Emulator
) -> None:
    limit = 4
    # A fixed price for the class: every Wix call left is one cold member's balances query.
    with two_gates(emulator_server, redis_server, BOOKING_GATE_WIX_RATE_LIMIT=str(limit),
                   BOOKING_GATE_SERVICE_COSTS=f'{{"{YOGA}": "1"}}') as (one, two):
        answers = [decide(gate, str(uuid.uuid4())) for _ in range(6) for gate in (one, two)]
    # Alone, each instance would have made `limit` calls: twice as many.
    assert wix_calls(emulator) == limit
    read = [a for a in answers if a["data"] == "fresh"]
    spent = [a for a in answers if a["error"] == "upstream_budget"]
    assert (len(read), len(spent)) == (limit, len(answers) - limit)
    assert all(a["outcome"] != "allow" for a in spent)  # a spent budget never opens


def test_redis_dying_mid_load_and_coming_back(
    gates: tuple[str, str], emulator: Emulator, redis_server: RedisServer, redis_url: str
) -> None:
    one, two = gates
    # Members whose credits no earlier test changed (the gates' memories outlive a test).
    fay, ben, cleo = emulator.members["fay"], emulator.members["ben"], emulator.members["cleo"]
    expected = {fay: "(default)", ben: "no-credits", cleo: "plan-paused"}
    members = [fay, ben]
    answers: list[tuple[str, int, str]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                for gate in (one, two):
                    for member in list(members):
                        response = client.post(gate + "/v1/decisions", headers=AUTH,
                                               json={"memberId": member, "serviceId": YOGA})
                        rule = response.json().get("rule", "") if response.status_code == 200 \
                            else ""
                        answers.append((member, response.status_code, rule))

    driver = threading.Thread(target=load)
    driver.start()
    try:
        until(lambda: len(answers) > 20, "decisions under way")
        redis_server.stop()
        members.append(cleo)  # read cold while Redis is down: from Wix, on a local budget
        for gate in (one, two):
            until(redis_says(gate, DOWN), "readyz says Redis is down, and stays 200")
        seen = len(answers)
        until(lambda: len(answers) > seen + 20, "decisions go on without Redis")
        redis_server.start()
        for gate in (one, two):
            until(redis_says(gate, "up"), "recovered without a restart")
        seen = len(answers)
        until(lambda: len(answers) > seen + 20, "decisions go on with Redis back")
    finally:
        stop.set()
        driver.join(30)
    assert {status for _, status, _ in answers} == {200}  # never a 5xx, whatever Redis did
    assert [a for a in answers if a[2] != expected[a[0]]] == []
    # Shared again: a member read on one instance costs the other nothing.
    dev = emulator.members["dev"]
    assert decide(one, dev)["rule"] == "no-plan"
    calls = wix_calls(emulator)
    assert decide(two, dev)["rule"] == "no-plan"
    assert wix_calls(emulator) == calls
