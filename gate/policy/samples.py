"""Sample requests every condition is tried against at load, and what they say about a rule.

A condition that fails for one of them (a visitor, a negative balance...) fails at load, not at
a checkout. A rule none of them matches, or all of them do, earns a warning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from gate.credits.balances import BalanceSnapshot, Benefit, PoolBalance, ServiceInfo
from gate.errors import PolicyProblem
from gate.identity.base import ANONYMOUS, Identity
from gate.policy.context import Facts, variables_read
from gate.policy.engine import Condition
from gate.policy.policyset import CompiledRule

__all__ = ["always_true", "sample_requests", "sample_warnings"]

#: Variables a sample member cannot stand for: a rule about one service id, one member, one
#: plan id, one date or one page matches no sample, and that proves nothing.
_SPECIFIC = frozenset({"service", "member", "plans", "today", "now", "path"})


def sample_requests() -> Iterable[tuple[str, Facts]]:
    """Members every condition must handle without an error; ``check`` also reports a rule
    that none of them, or all of them, match.

    Realistic inputs, the ones that break rules written with only a typical member in mind:
    visitors, no plan, zero, fractional and negative balances, old credits, the credits used
    while Wix is down, plans that cannot pay, classes that cost more than one credit, forms
    sent (POST) as well as opened.
    """
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    item_set = "sample-item-set"
    service = ServiceInfo("sample-service", known=True, item_sets=frozenset({item_set}))
    unknown = ServiceInfo("made-up-service", known=False)

    def snapshot(*pools: PoolBalance) -> BalanceSnapshot:
        return BalanceSnapshot(member_id="sample", pools=pools, fetched_at=0.0, source="sample")

    def pool(status: str, available: str, covers: bool = True, reserved: str = "0",
             price: str = "1") -> PoolBalance:
        benefits = (Benefit(item_set, Decimal(price)),) if covers else ()
        return PoolBalance("pool", Decimal(available), Decimal(reserved), status,
                           plan_id="plan", benefits=benefits)

    member = Identity("sample", "sample")
    cases = [
        ("a signed-out visitor", ANONYMOUS, None, service, 0.0),
        ("a member with no plan", member, snapshot(), service, 0.0),
        ("a member with 2.5 credits", member, snapshot(pool("ACTIVE", "2.5")), service, 0.0),
        ("a member with 0 credits", member, snapshot(pool("ACTIVE", "0")), service, 0.0),
        ("a member with credits split over two plans", member,
         snapshot(pool("ACTIVE", "0.5"), pool("ACTIVE", "0.5")), service, 0.0),
        ("a member whose balance is negative", member, snapshot(pool("ACTIVE", "-1")),
         service, 0.0),
        ("a member whose plan does not include the class", member,
         snapshot(pool("ACTIVE", "3", covers=False)), service, 0.0),
        ("a member whose plan is paused", member, snapshot(pool("PAUSED", "5")), service, 0.0),
        ("a member whose balance is an hour old", member, snapshot(pool("ACTIVE", "1")),
         service, 3600.0),
        ("a service Wix does not know", member, snapshot(pool("ACTIVE", "1")), unknown, 0.0),
        # Added after the ones above, so "it fails for ..." keeps naming the same first one.
        ("a member with 0.5 credits", member, snapshot(pool("ACTIVE", "0.5")), service, 0.0),
        ("a member with 10 credits", member, snapshot(pool("ACTIVE", "10")), service, 0.0),
        ("a member with credits held for a booking not yet confirmed", member,
         snapshot(pool("ACTIVE", "2", reserved="1")), service, 0.0),
        ("a member with 3 credits booking a class that costs 2", member,
         snapshot(pool("ACTIVE", "3", price="2")), service, 0.0),
        ("a member whose plan has ended", member, snapshot(pool("ENDED", "0")), service, 0.0),
        ("a member whose plan starts later", member, snapshot(pool("PENDING", "5")),
         service, 0.0),
        ("a member whose plan is renewing", member, snapshot(pool("RENEWING", "2")),
         service, 0.0),
        ("a member whose credits were read before Wix went down", member,
         snapshot(pool("ACTIVE", "1")), service, 330.0),
    ]
    for label, identity, balance, info, age in cases:
        for method in ("GET", "POST"):
            yield (label if method == "GET" else f"{label}, sending the form"), Facts(
                identity=identity, balance=balance, service=info, path="/booking-form",
                method=method, now=now, today="2026-01-01", balance_age=age)


def sample_warnings(
    rules: list[CompiledRule], samples: list[tuple[str, Any]]
) -> list[PolicyProblem]:
    """Rules that no sample member matches, or that every one does, visitors included.

    Warnings, not problems: samples cannot prove a rule useless. A rule about one service id
    or one date matches no sample and is fine; a rule that catches everyone is fine last.
    """
    found: list[PolicyProblem] = []
    enforced = [r for r in rules if not r.shadow]
    last = enforced[-1] if enforced else None
    for rule in rules:
        results = [rule.condition.evaluate(activation) is True for _, activation in samples]
        read = set(variables_read(rule.condition.source))
        if not any(results) and not read & _SPECIFIC:
            found.append(PolicyProblem(
                rule.file, rule.line, 1, f"this rule matched none of the "
                f"{len(samples)} sample requests (a visitor, no plan, 0, 0.5 and 2.5 credits, a "
                "negative balance, a paused or ended plan, old credits...), so it may never act; "
                "check its condition", rule=rule.name, code="never-matches"))
        elif all(results) and not rule.shadow and rule is not last and read:
            after = enforced[enforced.index(rule) + 1]
            found.append(PolicyProblem(
                rule.file, rule.line, 1, "this rule matched every sample request, "
                f"signed-out visitors included, so the rules after it (from '{after.name}') "
                "may never run; narrow its condition, or move it last if it is meant to catch "
                "everyone", rule=rule.name, code="always-matches"))
    return found


def always_true(condition: Condition, samples: list[tuple[str, Any]]) -> bool:
    """True when the condition reads no variable and is true: nothing after it can run."""
    if variables_read(condition.source):
        return False
    return all(condition.evaluate(a) is True for _, a in samples)
