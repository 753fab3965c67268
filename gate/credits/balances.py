"""A member's credits as the gate sees them: every pool, its balance and what it pays for.

Sources build a ``BalanceSnapshot`` from upstream payloads once per fetch; the cache stores
it; ``credits_for`` answers "can this member pay for one session of *this* service?" from it.
Credits are ``Decimal`` here and everywhere in the gate.

How Wix redeems a session (reference §2, §6): one pool pays, at the ``price`` of its benefit
whose item set holds the service, from that pool's own balance. Credits of two pools never
combine for one session, so neither do they here.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, get_args

__all__ = [
    "BOOKINGS_APP_ID",
    "KNOWN_POOL_STATUSES",
    "POOL_STATUS_PATTERN",
    "PRICING_PLANS_NAMESPACE",
    "SPENDABLE_STATUSES",
    "UNLIMITED",
    "BalanceSnapshot",
    "Benefit",
    "KnownPoolStatus",
    "PoolBalance",
    "ServiceCredits",
    "ServiceInfo",
    "credits_for",
    "pool_price",
]

#: The Wix Bookings app: the provider of every benefit that pays for a booking session.
BOOKINGS_APP_ID = "13d21c63-b5ec-5912-8397-c3a5ddb27a97"
#: Pools that Wix Pricing Plans created; only these are the studio's class packs.
PRICING_PLANS_NAMESPACE = "@wix/pricing-plans"

#: Every pool status Wix documents (``poolInfo.status``), defined here once. Wix may add more:
#: an unknown one is kept as sent, shown to rules, and never pays (see ``SPENDABLE_STATUSES``).
KnownPoolStatus = Literal["ACTIVE", "PAUSED", "ENDED", "PROVISIONING", "RENEWING", "PENDING"]
KNOWN_POOL_STATUSES: tuple[str, ...] = get_args(KnownPoolStatus)
#: What any pool status looks like, a known one or one Wix adds later: an upper-case enum name.
#: Upstream data is checked against this, not against the known list (``gate.wix.models``).
POOL_STATUS_PATTERN = r"[A-Z][A-Z0-9_]{0,39}"

#: Statuses whose credits can pay for a session now.
#: ACTIVE: the plan is running. RENEWING: a running plan is starting its next cycle; PROVISIONING:
#: a plan just bought is being set up. In both the member holds a live plan and Wix is only
#: updating it, so sending them to the plans page would be wrong; Wix's own checkout still makes
#: the final check. PAUSED, ENDED and PENDING (bought, but starts later) cannot pay now.
SPENDABLE_STATUSES = frozenset({"ACTIVE", "RENEWING", "PROVISIONING"})

# The one status shown to rules when a member holds several pools: the most useful one.
# Any live plan means they may book; otherwise PAUSED explains why they cannot.
_STATUS_PRIORITY = ("ACTIVE", "RENEWING", "PROVISIONING", "PAUSED", "PENDING", "ENDED")
_ZERO = Decimal(0)
#: ``sessions_left`` when a covering pool charges nothing: unlimited.
UNLIMITED = Decimal("Infinity")


@dataclass(frozen=True, slots=True)
class Benefit:
    """One benefit of a pool: the item set it pays for, and the price of one session."""

    item_set_id: str
    price: Decimal
    provider_app_id: str = BOOKINGS_APP_ID


@dataclass(frozen=True, slots=True)
class PoolBalance:
    """One pool (one plan a member bought) with its balance and its benefits."""

    pool_id: str
    available: Decimal
    reserved: Decimal
    status: str
    namespace: str | None = PRICING_PLANS_NAMESPACE
    plan_id: str | None = None
    program_id: str | None = None
    program_definition_id: str | None = None
    #: None when the source knows no benefits (a static file): the pool then pays for every
    #: service that has a fixed cost. An empty tuple means it pays for nothing.
    benefits: tuple[Benefit, ...] | None = None

    @property
    def spendable(self) -> bool:
        return self.status in SPENDABLE_STATUSES and self.namespace == PRICING_PLANS_NAMESPACE


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """What the gate knows of a bookable service, from Wix's Items or from configuration.

    ``known`` is False for a service id that no item (and no configured cost) knows: such a
    service is never priced by default. ``fixed_cost``, when set, is an explicit price that
    every spendable pool pays (for sources without Wix data: a static file, tests).
    """

    id: str
    known: bool
    item_sets: frozenset[str] = frozenset()
    fixed_cost: Decimal | None = None
    # Hashed on every cached checkout (it is part of a remembered decision's key): once here.
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash",
                           hash((self.id, self.known, self.item_sets, self.fixed_cost)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[ServiceInfo], tuple[object, ...]]:
        # Rebuilt, not restored: string hashes differ from one process to the next.
        return ServiceInfo, (self.id, self.known, self.item_sets, self.fixed_cost)


# eq=False: a snapshot is one reading at one moment, its identity is what matters; hashing by
# identity is what lets decisions be remembered per snapshot (weakly: they go when it goes).
@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class BalanceSnapshot:
    """Every pool of one member at one moment, and the summary that does not depend on a service.

    ``fetched_at`` is on the gate's monotonic clock, for the balance's age.
    """

    member_id: str
    pools: tuple[PoolBalance, ...]
    fetched_at: float
    source: str
    status: str = field(init=False)
    has_plan: bool = field(init=False)
    plans: tuple[str, ...] = field(init=False)
    #: Decisions already made from this snapshot (``gate.decision.memo``): they go when it goes.
    decisions: dict[Hashable, object] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        present = {p.status for p in self.pools}
        status = next((s for s in _STATUS_PRIORITY if s in present), None)
        if status is None:
            status = min(present) if present else "NONE"
        plans = tuple(dict.fromkeys(
            p.plan_id for p in self.pools if p.plan_id and p.status != "ENDED"
        ))
        # Frozen dataclass: derived fields are set once here, then never change.
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "has_plan", any(p.status != "ENDED" for p in self.pools))
        object.__setattr__(self, "plans", plans)
        object.__setattr__(self, "decisions", None)


@dataclass(frozen=True, slots=True)
class ServiceCredits:
    """Can the member pay for one session of one service, and with what.

    ``can_book``: some single pool can pay. ``cost``: the price the paying pool would charge
    (the cheapest that can pay; when none can, the cheapest that covers the service; 0 when no
    pool covers it). ``available`` and ``reserved`` add up only spendable pools that cover the
    service, a negative balance counting as 0 (one pool's debt never eats another's credits).
    ``sessions_left`` adds up, pool by pool, how many whole sessions each can pay for.
    """

    covered: bool
    can_book: bool
    cost: Decimal
    available: Decimal
    reserved: Decimal
    sessions_left: Decimal
    paying_pool: str | None


_NOTHING = ServiceCredits(False, False, _ZERO, _ZERO, _ZERO, _ZERO, None)


def pool_price(pool: PoolBalance, service: ServiceInfo) -> Decimal | None:
    """What one session of ``service`` costs from ``pool``, or None if the pool can't pay for it."""
    if service.fixed_cost is not None:
        return service.fixed_cost
    if pool.benefits is None or not service.item_sets:
        return None
    prices = [
        b.price for b in pool.benefits
        if b.item_set_id in service.item_sets and b.provider_app_id == BOOKINGS_APP_ID
    ]
    return min(prices) if prices else None


def credits_for(balance: BalanceSnapshot | None, service: ServiceInfo) -> ServiceCredits:
    """The member's credits for one session of ``service``; a visitor or no plan has none."""
    if balance is None or not service.known:
        return _NOTHING
    covered = False
    available = reserved = sessions = _ZERO
    best_payer: tuple[Decimal, str] | None = None
    cheapest: Decimal | None = None
    for pool in balance.pools:
        if not pool.spendable:
            continue
        price = pool_price(pool, service)
        if price is None or price < 0:
            continue
        covered = True
        credits = max(pool.available, _ZERO)
        available += credits
        reserved += max(pool.reserved, _ZERO)
        cheapest = price if cheapest is None else min(cheapest, price)
        if credits >= price:
            if best_payer is None or price < best_payer[0]:
                best_payer = (price, pool.pool_id)
            sessions += UNLIMITED if price == 0 else Decimal(math.floor(credits / price))
    if not covered:
        return _NOTHING
    cost = best_payer[0] if best_payer else (cheapest if cheapest is not None else _ZERO)
    return ServiceCredits(
        covered=True,
        can_book=best_payer is not None,
        cost=cost,
        available=available,
        reserved=reserved,
        sessions_left=sessions,
        paying_pool=best_payer[1] if best_payer else None,
    )
