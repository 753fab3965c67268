"""Cache-aside loading of balances, with single-flight on misses."""

from __future__ import annotations

from gate.balances import BalanceSnapshot
from gate.cache import BalanceCache
from gate.singleflight import SingleFlight
from gate.sources.base import BalanceSource

__all__ = ["BalanceLoader"]


class BalanceLoader:
    """Answers "what is this member's balance?" from the cache, or from the source once.

    Fifty concurrent checkouts of one uncached member make one upstream call; the other
    forty-nine wait for it. A failed fetch is not cached, so the next request tries again.
    """

    def __init__(self, source: BalanceSource, cache: BalanceCache) -> None:
        self.source = source
        self.cache = cache
        self._flights: SingleFlight[BalanceSnapshot] = SingleFlight()
        # The marker of the latest fetch per key. invalidate() drops it, so a fetch that
        # started before an invalidation never caches its (now stale) answer after it.
        self._latest: dict[str, object] = {}

    def key(self, member_id: str) -> str:
        return f"{self.source.key}|{member_id}"

    async def get(self, member_id: str) -> BalanceSnapshot:
        key = self.key(member_id)
        cached = await self.cache.get(key)
        if cached is not None:
            return cached
        # The marker is set when the flight starts, synchronously, so an invalidate() that
        # arrives before the fetch task first runs still counts as "after it started".
        return await self._flights.run(key, lambda: self._load(key, member_id, self._mark(key)))

    async def invalidate(self, member_id: str) -> None:
        """Forget a member's balance, e.g. after they booked or bought a plan."""
        key = self.key(member_id)
        self._latest.pop(key, None)
        self._flights.forget(key)
        await self.cache.delete(key)

    def _mark(self, key: str) -> object:
        marker = self._latest[key] = object()
        return marker

    async def _load(self, key: str, member_id: str, marker: object) -> BalanceSnapshot:
        try:
            snapshot = await self.source.fetch(member_id)
            if self._latest.get(key) is marker:
                await self.cache.set(key, snapshot)
                # The set itself may await (a shared cache): an invalidate() that landed in
                # the meantime must win, or a stale balance would serve for a whole TTL.
                if self._latest.get(key) is not marker:
                    await self.cache.delete(key)
            return snapshot
        finally:
            if self._latest.get(key) is marker:
                del self._latest[key]
