"""Run policy tests written as data (``*.test.yaml``) against the policies beside them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from gate.credits.balances import BalanceSnapshot, Benefit, PoolBalance, ServiceInfo
from gate.errors import PolicyProblem
from gate.identity.base import ANONYMOUS, Identity
from gate.policy.case_errors import validate_test_file
from gate.policy.cases_model import (
    CaseModel,
    ExpectModel,
    MemberModel,
    PolicyTestFileModel,
    PoolModel,
    RequestModel,
)
from gate.policy.compiler import check_policies
from gate.policy.context import Facts
from gate.policy.decision import Decision
from gate.policy.discovery import discover_policy_files
from gate.policy.policyset import PolicySet
from gate.policy.yaml_source import Located, read_yaml

__all__ = [
    "CaseResult",
    "TestReport",
    "case_facts",
    "check_test_files",
    "decide_case",
    "describe",
    "run_policy_tests",
]

#: The clock of a case that names none: fixed, so a test never depends on today's date.
DEFAULT_NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class CaseResult:
    file: str
    line: int
    name: str
    passed: bool
    expected: str
    actual: str


@dataclass
class TestReport:
    results: list[CaseResult] = field(default_factory=list)
    problems: list[PolicyProblem] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return not self.problems and self.failed == 0 and bool(self.results)


def run_policy_tests(paths: list[str | Path]) -> TestReport:
    """Every case of every test file under ``paths``; problems in files are reported, not raised."""
    report = TestReport()
    files, report.problems = discover_policy_files(paths, tests=True)
    loaded: dict[Path, PolicySet | None] = {}
    for path in files:
        _run_file(path, report, loaded)
    return report


def check_test_files(paths: list[str | Path]) -> list[PolicyProblem]:
    """Problems in the test files under ``paths`` (their shape only; cases are not run)."""
    files, _ = discover_policy_files(paths, tests=True)
    problems: list[PolicyProblem] = []
    for path in files:
        _read_test_file(path, problems)
    return problems


def _read_test_file(
    path: Path, problems: list[PolicyProblem]
) -> tuple[Located, PolicyTestFileModel] | None:
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(PolicyProblem(name, 1, 1, f"cannot read this file: {exc.strerror}"))
        return None
    located, found = read_yaml(raw, name)
    problems.extend(found)
    if located is None or found:
        return None
    model = validate_test_file(name, located, problems)
    return None if model is None else (located, model)


def _run_file(path: Path, report: TestReport, loaded: dict[Path, PolicySet | None]) -> None:
    read = _read_test_file(path, report.problems)
    if read is None:
        return
    name = str(path)
    located, model = read
    target = (path.parent / model.policies).resolve() if model.policies else path.parent.resolve()
    if target not in loaded:
        policy_set, policy_problems = check_policies([target])
        loaded[target] = policy_set
        report.problems.extend(policy_problems)
    policy_set = loaded[target]
    if policy_set is None:
        return
    for index, case in enumerate(model.cases):
        decision = decide_case(policy_set, case, model.now)
        passed, expected, actual = _compare(case, decision)
        line = located.at(("cases", index))[0]
        report.results.append(CaseResult(name, line, case.name, passed, expected, actual))


def decide_case(
    policy_set: PolicySet, case: CaseModel, file_now: dt.datetime | None = None
) -> Decision:
    """The decision the gate would make for one case, through the same code as a request."""
    if case.member == "unverifiable":
        return policy_set.failed("upstream_unavailable: token-info is unavailable (test)",
                                 cause="identity")
    facts = case_facts(policy_set, case, file_now)
    if facts is None:
        return policy_set.failed("upstream_unavailable: the balance source is unavailable (test)",
                                 cause="upstream")
    return policy_set.decide(facts.as_cel(), facts.identity.member_id)


def case_facts(
    policy_set: PolicySet, case: CaseModel, file_now: dt.datetime | None = None
) -> Facts | None:
    """What the gate would know for this case; None when the source is unavailable (or who
    is asking cannot be checked)."""
    if case.member in ("unavailable", "unverifiable"):
        return None
    now = case.now or file_now or DEFAULT_NOW
    identity: Identity = ANONYMOUS
    balance: BalanceSnapshot | None = None
    age = 0.0
    if case.member == "no-plan":
        identity = Identity("member-1", "test")
        balance = BalanceSnapshot("member-1", (), 0.0, "test")
    elif isinstance(case.member, MemberModel):
        member = case.member
        identity = Identity(member.id, "test")
        balance = BalanceSnapshot(member.id, _pools(member, case.request), 0.0, "test")
        age = member.age_minutes * 60
    request = case.request
    known = request.known and bool(request.service)
    service = ServiceInfo(request.service, known=known,
                          item_sets=frozenset({_ITEM_SET}) if known else frozenset())
    return Facts(
        identity=identity, balance=balance, service=service, path=request.path,
        method=request.method, now=now, today=policy_set.today(now), balance_age=age,
    )


#: The one item set a test case's service belongs to; a pool that covers it has a benefit here.
_ITEM_SET = "test-item-set"


def _pool(index: int, pool: MemberModel | PoolModel, request: RequestModel) -> PoolBalance:
    price = getattr(pool, "price", None) or request.cost
    benefits = (Benefit(_ITEM_SET, Decimal(price)),) if pool.covers else ()
    return PoolBalance(f"pool-{index}", Decimal(pool.available or 0), Decimal(pool.reserved),
                       pool.status, plan_id=pool.plan, benefits=benefits)


def _pools(member: MemberModel, request: RequestModel) -> tuple[PoolBalance, ...]:
    if member.pools is not None:
        return tuple(_pool(i, p, request) for i, p in enumerate(member.pools))
    if member.available is None:
        return ()
    return (_pool(0, member, request),)


def describe(decision: Decision) -> str:
    outcome = decision.outcome
    if outcome.action == "redirect":
        text = f"redirect {outcome.location}"
    elif outcome.action == "deny":
        text = f"deny {outcome.status}"
    else:
        text = "allow"
    return f"{text} (rule {decision.rule})"


def _compare(case: CaseModel, decision: Decision) -> tuple[bool, str, str]:
    expect = ExpectModel(allow=True) if case.expect == "allow" else case.expect
    outcome = decision.outcome
    checks: list[bool] = []
    if expect.redirect is not None:
        expected = f"redirect {expect.redirect}"
        location = outcome.location or ""
        compare = location if "?" in expect.redirect else location.split("?")[0]
        checks.append(outcome.action == "redirect" and compare == expect.redirect)
    elif expect.deny is not None:
        expected = f"deny {expect.deny}"
        checks.append(outcome.action == "deny" and outcome.status == expect.deny)
    else:
        expected = "allow"
        checks.append(outcome.action == "allow")
    if expect.rule is not None:
        expected += f" (rule {expect.rule})"
        checks.append(decision.rule == expect.rule)
    if expect.reason is not None:
        expected += f" reason {expect.reason}"
        checks.append(outcome.reason == expect.reason)
    return all(checks), expected, describe(decision)
