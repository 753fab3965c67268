"""Fail-open only where staff meant it: ``on_error`` by cause, and never for identity.

A visitor can make identity fail (a junk token, too many of them, a slow token-info), so
whatever ``on_error`` says, a failure while learning who is asking never lets anyone in. The
old one-action form keeps working; per-cause entries say exactly when the gate opens; the
loader warns about every cause that opens, in ``check`` and in the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate.cli.main import main
from gate.config.assemble import assemble
from gate.credits.balances import BalanceSnapshot, PoolBalance, ServiceInfo
from gate.errors import (
    SourceError,
    UpstreamAuthError,
    UpstreamBudgetSpent,
    UpstreamDataError,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from gate.identity.base import ANONYMOUS, Identity
from gate.policy.cases import run_policy_tests
from gate.policy.compiler import check_policies, load_policies
from gate.policy.decision import Decision, Outcome
from gate.policy.policyset import CAUSES, DEFAULT_ON_ERROR, FailModes, PolicySet
from gate.policy.shipped import shipped_policies
from tests.conftest import CHECKOUT, Emulator

RULES = """apiVersion: booking-gate/v1
{on_error}
rules:
  - name: no-credits
    when: available <= 0
    action: redirect
    to: /plans-pricing
"""
ALLOW_ALL = "on_error:\n  action: allow\n"
BY_CAUSE = """on_error:
  upstream:
    action: allow
  rule:
    action: redirect
    to: /sorry
  config:
    action: deny
    status: 500
    message: The gate is set up wrong.
"""


def _policies(tmp_path: Path, on_error: str) -> PolicySet:
    (tmp_path / "10-rules.yaml").write_text(RULES.format(on_error=on_error))
    return load_policies([tmp_path])


# -- the syntax ------------------------------------------------------------------------------

def test_without_on_error_every_cause_gets_the_503_page(tmp_path: Path) -> None:
    modes = _policies(tmp_path, "").on_error
    assert all(modes.outcome(c) == DEFAULT_ON_ERROR for c in CAUSES)
    assert modes.open_causes == ()


def test_one_action_is_for_every_cause_but_identity_never_allows(tmp_path: Path) -> None:
    """Old files keep loading; their `allow` stops at identity."""
    modes = _policies(tmp_path, ALLOW_ALL).on_error
    assert modes.open_causes == ("upstream", "rule", "config")
    assert modes.identity == DEFAULT_ON_ERROR


def test_one_redirect_is_for_every_cause_identity_included(tmp_path: Path) -> None:
    modes = _policies(tmp_path, "on_error:\n  action: redirect\n  to: /sorry\n").on_error
    assert {modes.outcome(c).location for c in CAUSES} == {"/sorry"}


def test_each_cause_its_own_and_the_rest_the_503_page(tmp_path: Path) -> None:
    modes = _policies(tmp_path, BY_CAUSE).on_error
    assert modes.upstream.allows
    assert modes.rule.location == "/sorry"
    assert (modes.config.status, modes.config.message) == (500, "The gate is set up wrong.")
    assert modes.identity == DEFAULT_ON_ERROR


def test_identity_allow_is_refused_at_load(tmp_path: Path) -> None:
    (tmp_path / "10-rules.yaml").write_text(RULES.format(
        on_error="on_error:\n  identity:\n    action: allow\n"))
    policy_set, problems = check_policies([tmp_path])
    assert policy_set is None
    assert [(p.line, p.column, p.code) for p in problems] == [(4, 13, "identity-fails-open")]


def test_fail_modes_refuse_identity_allow_even_when_built_by_hand() -> None:
    with pytest.raises(ValueError, match="identity"):
        FailModes(identity=Outcome("allow", 200))
    assert FailModes.every(Outcome("allow", 200)).identity == DEFAULT_ON_ERROR


# -- the warnings ----------------------------------------------------------------------------

@pytest.mark.parametrize(("on_error", "lines"), [
    pytest.param("", [], id="none"),
    pytest.param("on_error:\n  action: deny\n  message: Sorry.\n", [], id="deny"),
    pytest.param(ALLOW_ALL, [3], id="allow-for-all"),
    pytest.param(BY_CAUSE, [4], id="upstream-only"),
    pytest.param("on_error:\n  upstream: {action: allow}\n  config: {action: allow}\n",
                 [3, 4], id="two-causes"),
])
def test_check_warns_for_every_cause_that_fails_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], on_error: str, lines: list[int]
) -> None:
    policy_set = _policies(tmp_path, on_error)
    opened = [w for w in policy_set.warnings if w.code == "fails-open"]
    assert [w.line for w in opened] == lines
    capsys.readouterr()
    assert main(["check", str(tmp_path)]) == 0  # a warning never fails the check
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok: ")
    assert [line for line in out if "without a credit check" in line] == [
        f"warning: {w}" for w in opened]
    assert all(line.startswith("warning: ") for line in out[1:])


def test_check_json_lists_the_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _policies(tmp_path, ALLOW_ALL)
    capsys.readouterr()
    assert main(["check", "--format", "json", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert [w["code"] for w in report["warnings"]] == ["fails-open"]


def test_a_set_that_fails_open_is_logged_at_load_and_at_reload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="booking_gate")
    (tmp_path / "10-rules.yaml").write_text(RULES.format(on_error=""))
    parts = assemble(policies=tmp_path, source=_Source(), resolvers=[_Nobody()],
                     reload_interval=None)
    assert not [r for r in caplog.records if "fails open" in r.getMessage()]
    (tmp_path / "10-rules.yaml").write_text(RULES.format(on_error=BY_CAUSE))
    assert asyncio.run(parts.core.reloader.reload(force=True)).ok
    opened = [r for r in caplog.records if "fails open" in r.getMessage()]
    assert [r.levelno for r in opened] == [logging.WARNING]
    assert "while Wix cannot answer" in opened[0].getMessage()
    caplog.clear()
    assemble(policies=tmp_path, source=_Source(), resolvers=[_Nobody()], reload_interval=None)
    assert [r.levelno for r in caplog.records if "fails open" in r.getMessage()] == [
        logging.WARNING]


# -- the causes, in the decision core --------------------------------------------------------

class _Source:
    """A balance source that answers, or raises what it is told to."""

    key = "test"

    def __init__(self, error: BaseException | None = None, available: str = "3") -> None:
        self.error = error
        self.available = available

    async def fetch(self, member_id: str) -> BalanceSnapshot:
        if self.error is not None:
            raise self.error
        pool = PoolBalance("p", Decimal(self.available), Decimal(0), "ACTIVE", benefits=None)
        return BalanceSnapshot(member_id, (pool,), 0.0, "test")

    async def fetch_many(self, member_ids: Sequence[str]) -> dict[str, BalanceSnapshot]:
        return {m: await self.fetch(m) for m in member_ids}

    async def service(self, service_id: str) -> ServiceInfo:
        return ServiceInfo(service_id, known=True)

    def forget(self, member_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


class _Nobody:
    name = "nobody"

    async def resolve(self, conn: Any) -> Identity | None:
        return None


def _decide(policies: PolicySet, source: _Source,
            identify: Callable[[], Any], deadline: float = 3.0) -> Decision:
    parts = assemble(policies=policies, source=source, resolvers=[_Nobody()],
                     service_costs={"yoga": "1"}, decision_deadline=deadline)
    return asyncio.run(parts.core.decide(identify, service_id="yoga", path="/booking-form",
                                         method="GET"))


async def _member() -> Identity:
    return Identity("m-1", "test")


def _raising(error: BaseException) -> Callable[[], Any]:
    async def identify() -> Identity:
        raise error
    return identify


async def _slow() -> Identity:
    await asyncio.sleep(5)
    return ANONYMOUS


@pytest.mark.parametrize(("identify", "error", "cause"), [
    pytest.param(_raising(UpstreamUnavailable("token-info down")), None, "identity",
                 id="token-info-down"),
    pytest.param(_raising(UpstreamBudgetSpent("too many unknown tokens from one client")), None,
                 "identity", id="too-many-unknown-tokens"),
    pytest.param(_raising(UpstreamAuthError("401")), None, "identity", id="token-info-401"),
    pytest.param(_raising(RuntimeError("bug in a resolver")), None, "identity",
                 id="resolver-bug"),
    pytest.param(_member, UpstreamUnavailable("down"), "upstream", id="wix-down"),
    pytest.param(_member, UpstreamDataError("bad"), "upstream", id="bad-data"),
    # Anyone can spend the budget (made-up ids), so it is never what opens the gate.
    pytest.param(_member, UpstreamBudgetSpent("spent"), "identity", id="budget"),
    pytest.param(_member, SourceError("other"), "upstream", id="source-error"),
    pytest.param(_member, UpstreamAuthError("401"), "config", id="key-refused"),
    pytest.param(_member, UpstreamNotFound("404"), "config", id="wrong-address"),
    pytest.param(_member, RuntimeError("bug"), "config", id="bug"),
])
def test_each_failure_has_its_cause(
    tmp_path: Path, identify: Callable[[], Any], error: BaseException | None, cause: str
) -> None:
    policies = _policies(tmp_path, BY_CAUSE)
    decision = _decide(policies, _Source(error), identify)
    assert (decision.rule, decision.cause) == ("(on_error)", cause)
    assert decision.outcome == getattr(policies.on_error, cause)


def test_a_deadline_while_identifying_is_identity(tmp_path: Path) -> None:
    decision = _decide(_policies(tmp_path, ALLOW_ALL), _Source(), _slow, deadline=0.05)
    assert (decision.cause, decision.error_kind) == ("identity", "deadline_exceeded")
    assert not decision.allows


def test_a_rule_that_cannot_be_evaluated_is_rule(tmp_path: Path) -> None:
    (tmp_path / "10-rules.yaml").write_text(RULES.format(on_error=BY_CAUSE).replace(
        "    to: /plans-pricing\n", "    to: /plans-pricing\n    max_age: 10s\n"))
    policies = load_policies([tmp_path])
    decision = policies.decide({**_facts(), "available": 0.0}, "m-1", data_age=60.0)
    assert (decision.rule, decision.cause, decision.outcome.location) == (
        "no-credits", "rule", "/sorry")


def _facts() -> dict[str, Any]:
    from gate.policy.samples import sample_requests

    return next(facts for label, facts in sample_requests() if "2.5" in label).as_cel()


@pytest.mark.parametrize("on_error", [ALLOW_ALL, BY_CAUSE], ids=["allow-for-all", "by-cause"])
def test_nothing_a_visitor_sends_takes_an_allow_path(tmp_path: Path, on_error: str) -> None:
    for failure in (UpstreamUnavailable("down"), UpstreamBudgetSpent("too many"),
                    UpstreamDataError("odd"), RuntimeError("bug"), TimeoutError()):
        decision = _decide(_policies(tmp_path, on_error), _Source(), _raising(failure))
        assert not decision.allows, failure
        assert decision.outcome == DEFAULT_ON_ERROR


# -- end to end: a real gate in front of the Wix emulator ------------------------------------

def _with_on_error(tmp_path: Path, on_error: str) -> Path:
    text = (shipped_policies() / "10-checkout.yaml").read_text()
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "10-checkout.yaml").write_text(
        text.replace("apiVersion: booking-gate/v1\n", f"apiVersion: booking-gate/v1\n{on_error}",
                     1))
    return folder


def test_a_junk_token_cannot_open_a_gate_that_allows_on_error(
    gated: Callable[..., Any], emulator: Emulator, tmp_path: Path
) -> None:
    """The attack of issue F: with `on_error: allow`, make token-info fail and walk in."""
    url, _ = gated(policies=_with_on_error(tmp_path, ALLOW_ALL))
    emulator.fault("POST /oauth2/token-info", status=503, times=None)
    response = httpx.get(url + CHECKOUT, headers={"Authorization": "Bearer junk-token-1"})
    assert response.status_code == 503
    assert response.headers["x-gate-rule"] == "(on_error)"
    assert response.text != "checkout page"


def test_wix_down_opens_a_gate_that_allows_it_for_upstream(
    gated: Callable[..., Any], emulator: Emulator, tmp_path: Path
) -> None:
    url, _ = gated(policies=_with_on_error(tmp_path, BY_CAUSE))
    token = emulator.token("ben")  # no credits: the rules would send him to the plans page
    emulator.fault("POST /benefit-programs/v1/balances/query", status=500, times=None)
    response = httpx.get(url + CHECKOUT, headers={"Authorization": token})
    assert (response.status_code, response.text) == (200, "checkout page")
    assert response.headers["x-gate-rule"] == "(on_error)"
    assert response.headers["x-gate-error"] == "upstream_unavailable"


# -- policy tests ----------------------------------------------------------------------------

def test_policy_tests_can_ask_for_an_unverifiable_member(tmp_path: Path) -> None:
    _policies(tmp_path, ALLOW_ALL)
    (tmp_path / "10-rules.test.yaml").write_text(
        "apiVersion: booking-gate/v1\ncases:\n"
        "  - name: wix down\n    member: unavailable\n    expect: {allow: true, rule: (on_error)}\n"
        "  - name: unverifiable\n    member: unverifiable\n"
        "    expect: {deny: 503, rule: (on_error)}\n")
    report = run_policy_tests([tmp_path])
    assert (report.passed, report.failed, report.problems) == (2, 0, [])



class _Hanging(_Source):
    """Every fetch waits forever: the first submission holds its member's turn to the end."""

    async def fetch(self, member_id: str) -> BalanceSnapshot:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_a_submission_still_waiting_for_its_turn_never_opens(tmp_path: Path) -> None:
    """Under `upstream: allow`, the first submission's Wix timeout may open (declared), but the
    second tab, timed out while waiting behind it, must not: that would spend one credit
    twice."""
    parts = assemble(policies=_policies(tmp_path, BY_CAUSE), source=_Hanging(),
                     resolvers=[_Nobody()], service_costs={"yoga": "1"},
                     decision_deadline=0.1)

    async def two_tabs() -> list[Decision]:
        ask = [parts.core.decide(_member, service_id="yoga", path="/booking-form",
                                 method="POST") for _ in range(2)]
        return list(await asyncio.gather(*ask))

    first, second = asyncio.run(two_tabs())
    assert first.allows and first.cause == "upstream"
    assert not second.allows
    assert second.cause == "identity"
    assert second.error is not None and "another submission" in second.error
