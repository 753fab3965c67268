"""The last-credit guard: a checkout submission the gate let through holds its credits.

Two tabs, one credit: both forms are open, both are submitted. Wix redeems the credit only
when the booking completes, so for a while both look payable. When the gate lets a
submission through, it holds the session's price against the paying pool; the next decision
for that member sees the pool that much lower. A hold ends when a fresher balance shows the
credits spent (or not spent, once it expires), when a booking webhook says what happened, or
after ``ttl`` seconds.

Limits, stated plainly: holds live in this process (``gate.state.SharedHoldBook`` shares them
and the turns with a fleet, through Redis), and a booking abandoned after submission keeps its
credit held until the hold expires or a webhook arrives.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from decimal import Decimal

from gate.credits.balances import BalanceSnapshot
from gate.data.expiring import Held

__all__ = ["Hold", "HoldBook"]


@dataclass(frozen=True, slots=True)
class Hold:
    pool_id: str
    amount: Decimal
    #: The pool's available credits when the hold was taken: spent once a balance shows less.
    baseline: Decimal
    created: float
    expires: float


class HoldBook:
    """Holds per member, and a lock so that two submissions of one member decide in turn."""

    def __init__(self, *, ttl: float = 600.0, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self._clock = clock
        self._holds: dict[str, list[Hold]] = {}
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return sum(len(h) for h in self._holds.values())

    @asynccontextmanager
    async def turn(self, member_id: str) -> AsyncIterator[None]:
        """One submission of this member at a time: the second sees the first one's hold."""
        lock, users = self._locks.get(member_id, (asyncio.Lock(), 0))
        self._locks[member_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[member_id]
            if users <= 1:
                del self._locks[member_id]  # no member keeps a lock once nobody waits
            else:
                self._locks[member_id] = (lock, users - 1)

    def apply(self, snapshot: BalanceSnapshot) -> BalanceSnapshot:
        """The snapshot with this member's live holds taken off their pools."""
        holds = self._holds.get(snapshot.member_id)
        if not holds:
            return snapshot
        now = self._clock()
        pools = {p.pool_id: p for p in snapshot.pools}
        live = []
        for hold in holds:
            pool = pools.get(hold.pool_id)
            if hold.expires <= now or pool is None:
                continue
            if snapshot.fetched_at > hold.created and pool.available <= hold.baseline - hold.amount:
                continue  # Wix has redeemed it: the balance itself shows the credits gone
            live.append(hold)
        if live:
            self._holds[snapshot.member_id] = live
        else:
            del self._holds[snapshot.member_id]
            return snapshot
        held: dict[str, Decimal] = {}
        for hold in live:
            held[hold.pool_id] = held.get(hold.pool_id, Decimal(0)) + hold.amount
        return replace(snapshot, pools=tuple(
            replace(p, available=p.available - held[p.pool_id]) if p.pool_id in held else p
            for p in snapshot.pools
        ))

    def holding(self, member_id: str) -> bool:
        """Whether this member may have credits held (``apply`` may change their snapshot)."""
        return member_id in self._holds

    def none_held(self, member_id: str) -> Held:
        """True while this member holds nothing, as it is now (``holding`` is False)."""
        return Held(self._holds, member_id, None, math.inf, self._clock)

    def hold(self, member_id: str, pool_id: str, amount: Decimal, baseline: Decimal) -> None:
        now = self._clock()
        self._holds.setdefault(member_id, []).append(
            Hold(pool_id, amount, baseline, created=now, expires=now + self.ttl))

    def release(self, member_id: str) -> None:
        """Forget a member's holds: a webhook said what became of their bookings."""
        self._holds.pop(member_id, None)
