"""What a rule can ask about: the declared variables, their types, and how a request fills them.

Credits stay ``Decimal`` everywhere in the gate; they become CEL doubles only here, at the
edge of the expression engine, because CEL has no decimal type. Wix amounts have at most
four decimal places, so comparisons such as ``available <= 0`` or ``available < cost`` are
exact for every amount a studio will see.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from gate.balances import BalanceSnapshot
from gate.identity.base import Identity

__all__ = ["VARIABLES", "VARIABLE_NAMES", "Facts", "Variable", "variables_read"]


@dataclass(frozen=True, slots=True)
class Variable:
    """One name a condition may use."""

    name: str
    kind: str  # "number" | "text" | "yes/no" | "time" | "list of text" | "list of pools"
    description: str
    example: str


VARIABLES: tuple[Variable, ...] = (
    Variable("available", "number", "credits the member can spend now (ACTIVE plans only)",
             "available <= 0"),
    Variable("reserved", "number", "credits held for bookings not yet confirmed", "reserved > 0"),
    Variable("cost", "number", "credits one session of the requested service costs",
             "available < cost"),
    Variable("status", "text", "plan status: ACTIVE, PAUSED, ENDED, PENDING, PROVISIONING, "
             "RENEWING, or NONE when the member has no plan", 'status == "PAUSED"'),
    Variable("has_plan", "yes/no", "whether the member holds a plan that has not ended",
             "!has_plan"),
    Variable("plans", "list of text", "ids of the plans (pricing plans) the member holds",
             '"gold-plan-id" in plans'),
    Variable("pools", "list of pools", "every pool: id, status, available, reserved, plan",
             'pools.exists(p, p.status == "PAUSED")'),
    Variable("signed_in", "yes/no", "whether the visitor is a signed-in member", "!signed_in"),
    Variable("member", "text", "the member's id, empty when signed out", 'member == ""'),
    Variable("service", "text", "the id of the service being booked, empty if unknown",
             'service == "yoga-101"'),
    Variable("path", "text", "the page asked for, like /booking-form",
             'path.startsWith("/booking-form")'),
    Variable("method", "text", "GET when a page is opened, POST when a form is sent",
             'method == "POST"'),
    Variable("now", "time", "the current time", 'now.getHours("Europe/Lisbon") >= 22'),
    Variable("today", "text", "today's date as YYYY-MM-DD in the policy's time zone",
             'today in ["2026-12-25", "2027-01-01"]'),
    Variable("balance_age", "number", "seconds since the balance was read from Wix",
             "balance_age > 300.0"),
)

VARIABLE_NAMES = frozenset(v.name for v in VARIABLES)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def variables_read(source: str) -> tuple[str, ...]:
    """The declared variables a condition mentions (outside its quoted text), in order."""
    names = _IDENT.findall(_STRING_LITERAL.sub("", source))
    return tuple(dict.fromkeys(n for n in names if n in VARIABLE_NAMES))


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything known about one checkout request, before it is turned into CEL values."""

    identity: Identity
    balance: BalanceSnapshot | None
    service: str
    cost: Any  # Decimal
    path: str
    method: str
    now: dt.datetime
    today: str
    balance_age: float

    def as_cel(self) -> dict[str, Any]:
        """The activation for the engine: Decimal → float happens here and nowhere else."""
        balance = self.balance
        if balance is None:
            available = reserved = 0.0
            status, has_plan = "NONE", False
            plans: list[str] = []
            pools: list[dict[str, Any]] = []
        else:
            available, reserved = float(balance.available), float(balance.reserved)
            status, has_plan = balance.status, balance.has_plan
            plans = [p.plan_id for p in balance.pools if p.plan_id and p.status != "ENDED"]
            pools = [
                {
                    "id": p.pool_id,
                    "status": p.status,
                    "available": float(p.available),
                    "reserved": float(p.reserved),
                    "plan": p.plan_id or "",
                }
                for p in balance.pools
            ]
        return {
            "available": available,
            "reserved": reserved,
            "cost": float(self.cost),
            "status": status,
            "has_plan": has_plan,
            "plans": plans,
            "pools": pools,
            "signed_in": self.identity.signed_in,
            "member": self.identity.member_id or "",
            "service": self.service,
            "path": self.path,
            "method": self.method,
            "now": self.now,
            "today": self.today,
            "balance_age": self.balance_age,
        }
