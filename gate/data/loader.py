"""A member's credits, from the cache when fresh enough, otherwise from the source, batched.

How old may data be? Up to ``fresh_for`` seconds it is simply used (``fresh``). For
``revalidate_for`` seconds more it is still used (``stale``) while one refresh runs in the
background, at background priority. When a fetch fails (Wix down, budget spent), data up to
``fresh_for + fallback_for`` old is used instead of failing (``fallback``). A rule may ask for
data younger than that (``max_age``); then older data is fetched again first.

With a fleet sharing a Redis, the cache is ``gate.state.SharedBalanceCache`` (a snapshot's
age counts from when any instance fetched it) and ``flight`` makes each batch of cold members
a read the fleet does once (``gate.data.singleflight.FleetFetch``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from gate.credits.balances import BalanceSnapshot
from gate.data.batching import Batcher
from gate.data.cache import BalanceCache
from gate.data.expiring import Held, StillTrue, remember
from gate.data.singleflight import FleetFetch
from gate.data.sources.base import BalanceSource
from gate.errors import SourceError
from gate.upstream.budget import Priority
from gate.wix.transport import call_priority

__all__ = ["BalanceLoader", "Loaded"]

logger = logging.getLogger("booking_gate.loader")

#: Members whose cache key is kept ready (the busy ones); past it the set starts again.
_KEYS_MAX = 4096


@dataclass(frozen=True, slots=True)
class Loaded:
    """A snapshot and what it is: "fresh", "stale" (being refreshed) or "fallback"."""

    snapshot: BalanceSnapshot
    data: str


class BalanceLoader:
    """Answers "what are this member's credits?" within the freshness the caller accepts."""

    def __init__(
        self,
        source: BalanceSource,
        cache: BalanceCache,
        *,
        fresh_for: float = 30.0,
        revalidate_for: float = 30.0,
        fallback_for: float = 300.0,
        max_batch: int = 100,
        batch_overlap: float | None = 0.05,
        clock: Callable[[], float] = time.monotonic,
        pace: Callable[[], float] | None = None,
        flight: FleetFetch | None = None,
    ) -> None:
        self.source = source
        self.cache = cache
        self._flight = flight
        self.fresh_for = fresh_for
        self.revalidate_for = revalidate_for
        self.fallback_for = fallback_for
        self._clock = clock
        # In a burst, a checkout's batch leaves at the latest ``batch_overlap`` after the one
        # before it, once 10 members wait (see gate.data.batching): 20 batches a second at
        # most, paced by the budget once half of it is spent.
        self._batch: Batcher[str, BalanceSnapshot] = Batcher(
            self._fetch_many, max_batch=max_batch, pace=pace, overlap=batch_overlap,
            overlap_keys=10)
        # Refreshes batch apart: a batch's calls are paid at the priority of the task that
        # started it, and a checkout must never wait behind a background priority.
        self._background: Batcher[str, BalanceSnapshot] = Batcher(self._fetch_many,
                                                                  max_batch=max_batch, pace=pace)
        # Bumped by invalidate(): a fetch that began before it must not cache its answer.
        self._generation: dict[str, int] = {}
        self._refreshing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._keys: dict[str, str] = {}

    def key(self, member_id: str) -> str:
        # Kept, not rebuilt: a new string is hashed again on every lookup of the hot path.
        key = self._keys.get(member_id)
        if key is None:
            key = remember(self._keys, member_id, f"{self.source.key}|{member_id}", _KEYS_MAX)
        return key

    async def get(self, member_id: str, max_age: float | None = None) -> BalanceSnapshot:
        """The snapshot alone, for callers that do not care how fresh it is."""
        return (await self.load(member_id, max_age)).snapshot

    def peek(self, member_id: str, max_age: float | None = None) -> BalanceSnapshot | None:
        """The member's snapshot if this process holds one fresh enough, with no await: the
        hot path. None means "ask ``load``" (missing, stale or too old for a rule)."""
        return self.peek_key(self.key(member_id), max_age)

    def peek_key(self, key: str, max_age: float | None = None) -> BalanceSnapshot | None:
        """``peek`` by the member's cache ``key`` (``key(member_id)``)."""
        cached = self.cache.peek(key)
        if cached is None:
            return None
        limit = self.fresh_for if max_age is None else min(self.fresh_for, max_age)
        return cached if self._clock() - cached.fetched_at <= limit else None

    def held_key(self, key: str, snapshot: BalanceSnapshot,
                 max_age: float | None = None) -> StillTrue:
        """True while ``peek_key(key, max_age)`` still gives ``snapshot``, which it just gave:
        a ``Held`` on the cache's entry until the snapshot is no longer fresh enough, when the
        cache can keep one on this loader's clock; otherwise a call to ``peek_key``."""
        held = getattr(self.cache, "held", None)
        entry = held(key) if held is not None else None
        if not isinstance(entry, Held) or entry.clock is not self._clock:
            return lambda: self.peek_key(key, max_age) is snapshot
        limit = self.fresh_for if max_age is None else min(self.fresh_for, max_age)
        # ``peek_key`` keeps it while ``clock() - fetched_at <= limit``: before the next float.
        fresh = math.nextafter(snapshot.fetched_at + limit, math.inf)
        return replace(entry, expires=min(entry.expires, fresh))

    async def load(self, member_id: str, max_age: float | None = None) -> Loaded:
        cached = await self.cache.get(self.key(member_id))
        age = self._clock() - cached.fetched_at if cached is not None else None
        limit = self.fresh_for if max_age is None else min(self.fresh_for, max_age)
        if cached is not None and age is not None:
            if age <= limit:
                return Loaded(cached, "fresh")
            usable = max_age is None or age <= max_age
            if usable and age <= self.fresh_for + self.revalidate_for:
                self._refresh_later(member_id)
                return Loaded(cached, "stale")
        try:
            return Loaded(await self._fetch(member_id), "fresh")
        except SourceError as exc:
            # Even past a rule's max_age: that rule then refuses the data itself (on_error),
            # while rules that accept older data can still decide with it.
            if cached is not None and age is not None and age <= self.fresh_for + \
                    self.fallback_for:
                logger.warning("using %0.fs-old credits of member %r: %s", age, member_id, exc)
                return Loaded(cached, "fallback")
            raise

    async def invalidate(self, member_id: str) -> None:
        """Forget a member's credits, e.g. after they booked or bought a plan."""
        self._generation[member_id] = self._generation.get(member_id, 0) + 1
        self._batch.forget(member_id)
        self._background.forget(member_id)
        await self.cache.delete(self.key(member_id))

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._batch.aclose()
        await self._background.aclose()
        # A shared cache holds a connection (to Redis); a cache in memory has nothing to close.
        close = getattr(self.cache, "aclose", None)
        if close is not None:
            await close()

    async def _fetch(self, member_id: str, *, background: bool = False) -> BalanceSnapshot:
        generation = self._generation.get(member_id, 0)
        snapshot = await (self._background if background else self._batch).get(member_id)
        if self._generation.get(member_id, 0) == generation:
            await self.cache.set(self.key(member_id), snapshot)
            # The set itself may await (a shared cache): an invalidate() that landed in the
            # meantime must win, or a stale balance would serve for a whole TTL.
            if self._generation.get(member_id, 0) != generation:
                await self.cache.delete(self.key(member_id))
        return snapshot

    async def _fetch_many(self, member_ids: Sequence[str]) -> dict[str, BalanceSnapshot]:
        if self._flight is None:
            return await self.source.fetch_many(member_ids)
        return await self._flight.fetch_many(member_ids, self.key, self.source.fetch_many)

    def _refresh_later(self, member_id: str) -> None:
        if member_id in self._refreshing:
            return
        self._refreshing.add(member_id)

        async def refresh() -> None:
            try:
                with call_priority(Priority.BACKGROUND):
                    await self._fetch(member_id, background=True)
            except SourceError as exc:
                logger.info("background refresh of member %r failed: %s", member_id, exc)
            finally:
                self._refreshing.discard(member_id)

        task = asyncio.get_running_loop().create_task(refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
