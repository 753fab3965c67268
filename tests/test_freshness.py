"""Fresh and frugal, over real HTTP: stale data, fallbacks, max_age, the budget, the breaker,
deadlines, the last-credit guard and junk tokens. Time moves on an injected clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from gate.identity.wix_token import REFUSED_FOR
from gate.policy.shipped import shipped_policies
from gate.upstream import UpstreamBudget
from gate.upstream.budget import Priority
from tests.conftest import CHECKOUT, Emulator, FakeClock

BALANCES = "POST /benefit-programs/v1/balances/query"
TOKEN_INFO = "POST /oauth2/token-info"
ANA_POOL = "54f64ce6-f56e-5d88-bb99-ce8b48813437"


def get_as(url: str, token: str | None, method: str = "GET") -> httpx.Response:
    headers = {"Authorization": token} if token else {}
    return httpx.request(method, url + CHECKOUT, headers=headers, follow_redirects=False)


def wait_for_calls(emulator: Emulator, route: str, count: int) -> None:
    """Wait (bounded) for a background call to reach the emulator: an event, not a time."""
    deadline = time.monotonic() + 5
    while emulator.calls(route) < count:
        assert time.monotonic() < deadline, f"{route} never reached {count} calls"
        time.sleep(0.01)


def test_stale_while_revalidate_answers_at_once_and_refreshes_behind(
    gated: Callable[..., Any], emulator: Emulator, clock: FakeClock
) -> None:
    url, _ = gated(cache_ttl=30, stale_while_revalidate=30)
    token = emulator.token("ana")
    first = get_as(url, token)
    assert (first.status_code, first.headers["x-gate-data"]) == (200, "fresh")
    emulator.set_balance(ANA_POOL, available="0")
    clock.advance(31)
    stale = get_as(url, token)  # past the TTL, within the window: old data, refreshed behind
    assert (stale.status_code, stale.headers["x-gate-data"]) == (200, "stale")
    wait_for_calls(emulator, BALANCES, 2)
    time.sleep(0.05)  # let the refresh store its answer (it is already counted at the emulator)
    refreshed = get_as(url, token)
    assert refreshed.headers["x-gate-rule"] == "no-credits"
    assert refreshed.headers["x-gate-data"] == "fresh"


def test_stale_if_error_falls_back_then_gives_up(
    gated: Callable[..., Any], emulator: Emulator, clock: FakeClock
) -> None:
    url, _ = gated(cache_ttl=30, stale_while_revalidate=0, stale_if_error=300)
    token = emulator.token("ana")
    assert get_as(url, token).status_code == 200
    emulator.fault(BALANCES, status=500, times=None)
    clock.advance(60)
    fallback = get_as(url, token)
    assert (fallback.status_code, fallback.headers["x-gate-data"]) == (200, "fallback")
    clock.advance(300)
    gone = get_as(url, token)
    assert (gone.status_code, gone.headers["x-gate-error"]) == (503, "upstream_unavailable")


def _policy_with_max_age(tmp_path: Path, age: str) -> Path:
    text = (shipped_policies() / "10-checkout.yaml").read_text()
    text = text.replace("  - name: no-credits\n", f"  - name: no-credits\n    max_age: {age}\n")
    (tmp_path / "10-checkout.yaml").write_text(text)
    return tmp_path


def test_a_rule_with_max_age_reads_wix_again_first(
    gated: Callable[..., Any], emulator: Emulator, clock: FakeClock, tmp_path: Path
) -> None:
    url, gate = gated(cache_ttl=30, policies=_policy_with_max_age(tmp_path, "5s"))
    assert gate.policies.max_age == 5
    token = emulator.token("ana")
    assert get_as(url, token).status_code == 200
    emulator.set_balance(ANA_POOL, available="0")
    clock.advance(6)  # within the 30 s TTL, past the rule's 5 s
    again = get_as(url, token)
    assert again.headers["x-gate-rule"] == "no-credits"
    assert emulator.calls(BALANCES) == 2
    # When Wix cannot answer, the rule refuses the older data: the fail mode decides.
    emulator.fault(BALANCES, status=500, times=None)
    clock.advance(6)
    refused = get_as(url, token)
    assert (refused.status_code, refused.headers["x-gate-error"]) == (503, "rule_error")


def test_the_budget_is_never_exceeded_and_refills(
    gated: Callable[..., Any], emulator: Emulator, clock: FakeClock
) -> None:
    """Four calls a minute: ana's cold checkout uses them all; ben waits for the next minute."""
    url, _ = gated(budget=UpstreamBudget(limit=4, window=60, reserve=0, clock=clock))
    assert get_as(url, emulator.token("ana")).status_code == 200
    ben = emulator.token("ben")
    spent = get_as(url, ben)
    assert (spent.status_code, spent.headers["x-gate-error"]) == (503, "upstream_budget")
    total = sum(emulator.admin.get("/_emulator/calls").json()["calls"].values())
    assert total == 4
    clock.advance(61)
    assert get_as(url, ben).headers["x-gate-rule"] == "no-credits"


def test_the_breaker_stops_calling_a_failing_wix_then_probes(
    gated: Callable[..., Any], emulator: Emulator, clock: FakeClock
) -> None:
    url, _ = gated()
    tokens = {m: emulator.token(m) for m in ("ana", "ben", "cleo", "dev", "eve", "fay")}
    for member in ("ana", "ben", "cleo", "dev", "eve", "fay"):
        get_as(url, tokens[member])  # token-info answers: those succeed and are kept
    emulator.admin.post("/_emulator/reset").raise_for_status()
    emulator.fault(BALANCES, status=503, times=None)
    clock.advance(400)  # credits too old even for a fallback; the catalog still fresh
    for member in ("ana", "ben", "cleo", "dev", "eve"):
        assert get_as(url, tokens[member]).status_code == 503
    failed_calls = emulator.calls(BALANCES)
    assert failed_calls == 5  # five failures in a row: the circuit opens
    opened = get_as(url, tokens["fay"])
    assert (opened.status_code, opened.headers["x-gate-error"]) == (503, "upstream_unavailable")
    assert emulator.calls(BALANCES) == failed_calls  # not called while open
    emulator.admin.delete("/_emulator/faults").raise_for_status()
    clock.advance(16)  # after the cool-down, one probe; it succeeds and closes the circuit
    assert get_as(url, tokens["fay"]).status_code == 200
    assert emulator.calls(BALANCES) == failed_calls + 1


def test_a_decision_has_a_deadline(gated: Callable[..., Any], emulator: Emulator) -> None:
    url, _ = gated(decision_deadline=0.3)
    token = emulator.token("ana")
    emulator.fault(BALANCES, delay=3.0, times=1)
    response = get_as(url, token)
    assert (response.status_code, response.headers["x-gate-error"]) == (
        503, "deadline_exceeded")


def test_two_tabs_one_credit_exactly_one_passes(
    gated: Callable[..., Any], emulator: Emulator, clock: FakeClock
) -> None:
    """The last-credit guard: two submissions at once with one credit; one goes through."""
    emulator.set_balance(ANA_POOL, available="1")
    url, gate = gated(stale_while_revalidate=0)
    token = emulator.token("ana")
    assert get_as(url, token).status_code == 200  # the form opens in both tabs

    async def submit_twice() -> list[int]:
        async with httpx.AsyncClient() as client:
            answers = await asyncio.gather(*(
                client.post(url + CHECKOUT, headers={"Authorization": token})
                for _ in range(2)))
        return sorted(a.status_code for a in answers)

    assert asyncio.run(submit_twice()) == [200, 303]
    # Until Wix shows the credit spent (or a webhook says so), it stays held...
    assert get_as(url, token).headers["x-gate-rule"] == "no-credits"
    # ...and Wix redeeming it is recognised: the hold ends, the balance says 0 on its own.
    emulator.set_balance(ANA_POOL, available="0")
    clock.advance(31)
    assert get_as(url, token).headers["x-gate-rule"] == "no-credits"
    assert len(gate.core.holds) == 0


def test_an_abandoned_submission_releases_its_hold_when_it_expires(
    gated: Callable[..., Any], emulator: Emulator, clock: FakeClock
) -> None:
    emulator.set_balance(ANA_POOL, available="1")
    url, _ = gated(hold_seconds=120)
    token = emulator.token("ana")
    assert get_as(url, token, "POST").status_code == 200
    assert get_as(url, token, "POST").status_code == 303
    clock.advance(121)
    assert get_as(url, token, "POST").status_code == 200


def test_junk_tokens_cost_at_most_their_share(
    gated: Callable[..., Any], emulator: Emulator
) -> None:
    """A flood of made-up tokens from one client: 30 lookups a minute in all (ana's own
    included), then refused without calling Wix; a member whose token is known is unaffected."""
    url, _ = gated(token_lookups_per_client=30)
    real = emulator.token("ana")
    assert get_as(url, real).status_code == 200
    statuses = [get_as(url, f"junk-{i}").status_code for i in range(45)]
    assert statuses[:29] == [303] * 29  # looked up, inactive: a visitor
    assert statuses[29:] == [503] * 16  # over this client's share: no more lookups
    assert emulator.calls(TOKEN_INFO) == 30
    assert get_as(url, real).status_code == 200


def test_made_up_service_ids_cannot_spend_the_budget_or_open_the_gate(
    gated: Callable[..., Any], emulator: Emulator, clock: FakeClock, tmp_path: Path
) -> None:
    """A visitor floods checkouts with made-up service ids, under a policy that fails open
    when Wix is down: the ids get a capped share of the budget, and a spent budget is never
    what opens the gate (found by the adversarial review)."""
    text = (shipped_policies() / "10-checkout.yaml").read_text()
    (tmp_path / "10-checkout.yaml").write_text(
        text + "\non_error:\n  upstream:\n    action: allow\n")
    url, _ = gated(policies=tmp_path,
                   budget=UpstreamBudget(limit=20, window=60, reserve=0, clock=clock))
    for i in range(25):
        httpx.get(f"{url}/booking-form?bookings_serviceId=made-up-{i}")
    items = emulator.calls("POST /benefit-programs/v1/items/query")
    assert items <= 5  # a quarter of the budget, at most
    # Made-up ids of the wrong shape cost nothing at all.
    httpx.get(f"{url}/booking-form?bookings_serviceId={'x' * 5000}")
    httpx.get(f"{url}/booking-form?bookings_serviceId=%3Cscript%3E")
    assert emulator.calls("POST /benefit-programs/v1/items/query") == items
    # ben (no credits) still cannot get through, whatever the budget says.
    ben = get_as(url, emulator.token("ben"))
    assert ben.status_code != 200


def test_a_flood_of_unseen_tokens_is_refused_without_asking_again(
    gated: Callable[..., Any], emulator: Emulator, clock: FakeClock
) -> None:
    """Once the new-token share is spent, unseen tokens are refused at once for a second (no
    budget, no retry machinery: junk must not cost members CPU), then asked about again;
    known members are not affected."""
    class Counting(UpstreamBudget):
        asked = 0  # for unseen tokens

        async def take(self, priority: Priority = Priority.CHECKOUT) -> bool:
            Counting.asked += priority is Priority.NEW_TOKEN
            return await super().take(priority)

    url, _ = gated(budget=Counting(limit=8, window=60, reserve=0, clock=clock))
    ana = emulator.token("ana")
    assert get_as(url, ana).status_code == 200  # known before the flood: 1 lookup
    refused = [get_as(url, f"junk-{i}") for i in range(6)]
    assert emulator.calls(TOKEN_INFO) == 2  # the share (8 / 4) is spent after one junk lookup
    assert all(r.status_code == 503 and r.headers["x-gate-error"] == "upstream_budget"
               for r in refused[1:])
    assert Counting.asked == 3  # ana, junk-0, junk-1 refused; junk-2..5 never asked
    assert get_as(url, ana).status_code == 200  # members already known book as before
    clock.advance(REFUSED_FOR + 0.1)
    assert get_as(url, "junk-after").status_code == 503  # asked again: the budget says no
    assert emulator.calls(TOKEN_INFO) == 2
    clock.advance(61)  # the window has passed: unseen tokens are looked up again
    assert get_as(url, emulator.token("ben")).headers.get("x-gate-error") is None
    assert emulator.calls(TOKEN_INFO) == 3
