"""Hot reload and shadow mode over real HTTP: edits apply without a restart, mistakes never do."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gate import BookingGate, StaticBalanceSource
from gate.identity import TrustedHeaderResolver
from gate.policy import load_policies
from gate.tooling.testing import run_server

CHECKOUT = "/booking-form?bookings_serviceId=svc"
HEADER = {"X-Member-Id": "m-broke"}
STATUS_TOKEN = "reload-test-status-token-4b7e19"
ADMIN = {"Authorization": f"Bearer {STATUS_TOKEN}"}


async def checkout(_request: object) -> PlainTextResponse:
    return PlainTextResponse("checkout page")


APP = Starlette(routes=[Route("/booking-form", checkout)])

GOOD = """apiVersion: booking-gate/v1
rules:
  - name: no-credits
    when: available <= 0
    action: redirect
    to: {target}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "10-rules.yaml").write_text(GOOD.format(target="/plans-pricing"))
    (tmp_path / "balances.yaml").write_text(
        "members:\n  m-broke:\n    - {pool: p, available: '0'}\n")
    return tmp_path


def _gate(folder: Path, **options: object) -> BookingGate:
    return BookingGate(
        APP, policies=folder / "policies", status_path="/_gate/status",
        status_token=STATUS_TOKEN,
        source=StaticBalanceSource(folder / "balances.yaml", clock=time.monotonic),
        resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])],
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def served(folder: Path) -> Iterator[tuple[str, BookingGate]]:
    gate = _gate(folder, reload_interval=None)
    with run_server(gate) as url:
        yield url, gate


def test_valid_edit_takes_effect_without_restart(
    folder: Path, served: tuple[str, BookingGate]
) -> None:
    url, _ = served
    before = httpx.get(url + CHECKOUT, headers=HEADER)
    assert before.headers["location"] == "/plans-pricing"
    (folder / "policies" / "10-rules.yaml").write_text(GOOD.format(target="/pricing-plans"))
    reload = httpx.post(url + "/_gate/status/reload", headers=ADMIN)
    assert reload.status_code == 200
    assert reload.json()["policy"]["version"] != before.headers["x-gate-policy"]
    after = httpx.get(url + CHECKOUT, headers=HEADER)
    assert after.headers["location"] == "/pricing-plans"
    assert after.headers["x-gate-policy"] == reload.json()["policy"]["version"]


def test_invalid_edit_keeps_the_old_set_and_is_reported(
    folder: Path, served: tuple[str, BookingGate], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="booking_gate.reload")
    url, _ = served
    version = httpx.get(url + "/_gate/status", headers=ADMIN).json()["policy"]["version"]
    (folder / "policies" / "10-rules.yaml").write_text(
        GOOD.format(target="/plans-pricing").replace("available <= 0", "availble <= 0"))
    reload = httpx.post(url + "/_gate/status/reload", headers=ADMIN)
    assert reload.status_code == 422
    status = reload.json()
    assert status["policy"]["version"] == version  # the last good set still serves
    assert status["reload"]["ok"] is False
    problem = status["reload"]["problems"][0]
    assert (problem["line"], problem["column"]) == (4, 11)
    assert "did you mean `available`" in problem["message"]
    assert "10-rules.yaml:4:11" in caplog.text
    response = httpx.get(url + CHECKOUT, headers=HEADER)
    assert response.headers["location"] == "/plans-pricing"
    assert response.headers["x-gate-policy"] == version


def test_status_is_only_for_allowed_clients(folder: Path) -> None:
    gate = _gate(folder, reload_interval=None, status_clients=["10.1.2.3"])
    with run_server(gate) as url:
        assert httpx.get(url + "/_gate/status", headers=ADMIN).status_code == 404
        assert httpx.post(url + "/_gate/status/reload", headers=ADMIN).status_code == 404


def test_watcher_picks_up_an_edit_by_itself(folder: Path) -> None:
    """With a watch interval, publishing is just saving the file."""
    with run_server(_gate(folder, reload_interval=0.02)) as url:
        (folder / "policies" / "10-rules.yaml").write_text(GOOD.format(target="/new-plans"))
        deadline = time.monotonic() + 10
        location = ""
        while time.monotonic() < deadline and location != "/new-plans":
            location = httpx.get(url + CHECKOUT, headers=HEADER).headers["location"]
        assert location == "/new-plans"


def _set(folder: Path, first: str, second: str) -> None:
    # Rule names swap files between the two sets, so any mixture of files from both sets
    # has a duplicate rule name and is refused: only whole sets can ever load.
    body = ("apiVersion: booking-gate/v1\nrules:\n  - name: {name}\n    when: method == \"{m}\"\n"
            "    action: deny\n    status: {status}\n    message: set {name}\n")
    policies = folder / "policies"
    (policies / "10-rules.yaml").write_text(body.format(name=first, m="GET", status=403))
    (policies / "20-more.yaml").write_text(body.format(name=second, m="POST", status=409))


def test_concurrent_requests_during_reloads_see_only_whole_sets(folder: Path) -> None:
    _set(folder, "x", "y")
    version_a = load_policies([folder / "policies"]).version
    _set(folder, "y", "x")
    version_b = load_policies([folder / "policies"]).version
    expected = {(version_a, "x"), (version_b, "y")}
    seen: set[tuple[str, str]] = set()
    failures: list[str] = []
    with run_server(_gate(folder, reload_interval=0.001)) as url:
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client(base_url=url) as client:
                while not stop.is_set():
                    response = client.get(CHECKOUT, headers=HEADER)
                    pair = (response.headers["x-gate-policy"], response.headers["x-gate-rule"])
                    seen.add(pair)
                    if pair not in expected or response.status_code != 403:
                        failures.append(f"{pair} {response.status_code}")

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        with httpx.Client(base_url=url, headers=ADMIN) as admin:
            for round_ in range(40):
                _set(folder, *(("x", "y") if round_ % 2 else ("y", "x")))
                admin.post("/_gate/status/reload")
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[:5]
    assert seen == expected  # both sets really served during the burst


def test_shadow_rule_logs_and_counts_but_does_not_enforce(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (folder / "policies" / "10-rules.yaml").write_text(
        GOOD.format(target="/plans-pricing").replace("    to: /plans-pricing\n",
                                                     "    to: /plans-pricing\n    mode: shadow\n"))
    caplog.set_level(logging.INFO, logger="booking_gate")
    gate = _gate(folder, reload_interval=None)
    with run_server(gate) as url:
        for _ in range(3):
            response = httpx.get(url + CHECKOUT, headers=HEADER)
            assert response.text == "checkout page"
        status = httpx.get(url + "/_gate/status", headers=ADMIN).json()
    assert status["shadow"] == {"no-credits": 3}
    assert status["policy"]["rules"][0]["mode"] == "shadow"
    assert caplog.text.count("shadow rule=no-credits would have redirected") == 3
