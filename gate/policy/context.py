"""What a rule can ask about: the declared variables, their types, and how a request fills them.

Credits stay ``Decimal`` everywhere in the gate; they become CEL doubles only here, at the
edge of the expression engine, because CEL has no decimal type. Wix amounts have at most
four decimal places, so comparisons such as ``available <= 0`` or ``available < cost`` are
exact for every amount a studio will see.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from gate.credits.balances import (
    KNOWN_POOL_STATUSES,
    BalanceSnapshot,
    ServiceCredits,
    ServiceInfo,
    credits_for,
    pool_price,
)
from gate.identity.base import Identity

__all__ = ["PER_REQUEST_VARIABLES", "QUOTED_TEXT", "VARIABLES", "VARIABLE_NAMES",
           "VOLATILE_VARIABLES", "Facts",
           "Variable", "variables_read"]


@dataclass(frozen=True, slots=True)
class Variable:
    """One name a condition may use."""

    name: str
    kind: str  # "number" | "text" | "yes/no" | "time" | "list of text" | "list of pools"
    description: str
    example: str


VARIABLES: tuple[Variable, ...] = (
    Variable("can_book", "yes/no", "one of the member's plans can pay for one session of this "
             "service now (one plan pays for a session; credits of two plans never add up)",
             "!can_book"),
    Variable("sessions_left", "number", "how many sessions of this service the member can "
             "still pay for, plan by plan", "sessions_left < 2"),
    Variable("cost", "number", "credits one session of this service costs, from the plan that "
             "would pay (0 when no plan includes it)", "cost > 1"),
    Variable("available", "number", "credits in the member's live plans that include this "
             "service", "available <= 0"),
    Variable("reserved", "number", "credits held for bookings of this service not yet "
             "confirmed", "reserved > 0"),
    Variable("covered", "yes/no", "one of the member's live plans includes this service, "
             "whatever its balance", "!covered"),
    Variable("service_known", "yes/no", "the service is one Wix knows (a class some plan can "
             "pay for); false for a made-up or deleted service id", "!service_known"),
    Variable("status", "text", f"plan status: {', '.join(KNOWN_POOL_STATUSES)}, or NONE when "
             "the member has no plan", 'status == "PAUSED"'),
    Variable("has_plan", "yes/no", "whether the member holds a plan that has not ended",
             "!has_plan"),
    Variable("plans", "list of text", "ids of the plans (pricing plans) the member holds",
             '"gold-plan-id" in plans'),
    Variable("pools", "list of pools", "every plan the member holds: id, status, available, "
             "reserved, plan, covers (includes this service), price (credits per session)",
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
#: What changes from one request to the next for the same member, service and method.
PER_REQUEST_VARIABLES = frozenset({"now", "today", "path", "balance_age"})
#: Of those, the ones that differ on every request: a set reading them is evaluated each time.
VOLATILE_VARIABLES = frozenset({"now", "balance_age"})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Text in quotes inside a condition: what it holds is never a name or an operator.
QUOTED_TEXT = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def variables_read(source: str) -> tuple[str, ...]:
    """The declared variables a condition mentions (outside its quoted text), in order."""
    names = _IDENT.findall(QUOTED_TEXT.sub("", source))
    return tuple(dict.fromkeys(n for n in names if n in VARIABLE_NAMES))


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything known about one checkout request, before it is turned into CEL values.

    This is the one place rule inputs are built, for enforcement, ``explain``, policy tests
    and the loader's sample members alike.
    """

    identity: Identity
    balance: BalanceSnapshot | None
    service: ServiceInfo
    path: str
    method: str
    now: dt.datetime
    today: str
    balance_age: float
    #: How the credits were had: "fresh", "stale", "fallback" or "none" (not read).
    data: str = "none"

    #: Worked out once, here: the rules' inputs and the last-credit guard both read it.
    credits: ServiceCredits = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "credits", credits_for(self.balance, self.service))

    def as_cel(self) -> dict[str, Any]:
        """The activation for the engine: Decimal → float happens here and nowhere else."""
        balance, service = self.balance, self.service
        credits = self.credits
        if balance is None:
            status, has_plan = "NONE", False
            plans: list[str] = []
            pools: list[dict[str, Any]] = []
        else:
            status, has_plan = balance.status, balance.has_plan
            plans = list(balance.plans)
            pools = []
            for p in balance.pools:
                price = pool_price(p, service) if service.known else None
                pools.append({
                    "id": p.pool_id,
                    "status": p.status,
                    "available": float(p.available),
                    "reserved": float(p.reserved),
                    "plan": p.plan_id or "",
                    "covers": price is not None,
                    "price": float(price) if price is not None else 0.0,
                })
        return {
            "can_book": credits.can_book,
            "sessions_left": float(credits.sessions_left),
            "cost": float(credits.cost),
            "available": float(credits.available),
            "reserved": float(credits.reserved),
            "covered": credits.covered,
            "service_known": service.known,
            "status": status,
            "has_plan": has_plan,
            "plans": plans,
            "pools": pools,
            "signed_in": self.identity.signed_in,
            "member": self.identity.member_id or "",
            "service": service.id,
            "path": self.path,
            "method": self.method,
            "now": self.now,
            "today": self.today,
            "balance_age": float(self.balance_age),
        }
