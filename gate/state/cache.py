"""The balance cache in two levels: this process's memory, then the fleet's Redis.

Redis is the truth while it answers: ``get`` asks it every time (one short round trip), so a
snapshot another instance stored is used here without a Wix call, and one that an
invalidation deleted is gone here too, at once. The copy in memory serves ``peek`` (the hot
path, which never waits) and every read while Redis is down. When Redis's copy is the one
already held, the very same snapshot object is returned, so decisions remembered for it
(``gate.decision.memo``) stay valid.

Reads that arrive together leave together, as one ``MGET`` (``gate.data.batching.Batcher``): a
burst of cold members then misses together too, and the loader still reads them from Wix in
one batch.

An entry that cannot be read (another format, corrupt, someone else's) is a miss, logged,
never a crash; the next fetch overwrites it.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Sequence
from typing import NamedTuple

from redis.asyncio import Redis

from gate.credits.balances import BalanceSnapshot
from gate.data.batching import Batcher
from gate.data.expiring import ExpiringDict
from gate.state.codec import Clocks, Unreadable, decode_snapshot, encode_snapshot
from gate.state.invalidation import Invalidations, applying_peer_message
from gate.state.keys import Keys
from gate.state.link import RedisLink, Unavailable, as_bytes

__all__ = ["SharedBalanceCache"]

logger = logging.getLogger("booking_gate.redis")


class _Entry(NamedTuple):
    raw: bytes
    snapshot: BalanceSnapshot


def split_key(key: str) -> tuple[str, str]:
    """``"<source key>|<member id>"`` (``BalanceLoader.key``) → (source key, member id)."""
    source, _, member = key.rpartition("|")
    return source, member


class SharedBalanceCache:
    """A ``gate.data.cache.BalanceCache`` shared by every instance of the gate through Redis.

    Entries live ``ttl`` seconds in both levels (the loader judges their age, from the time
    they were fetched, whoever fetched them). ``maxsize`` bounds the memory level only.
    """

    def __init__(
        self, link: RedisLink, keys: Keys, invalidations: Invalidations, clocks: Clocks, *,
        ttl: float = 330.0, maxsize: int = 10_000,
    ) -> None:
        self._link = link
        self._keys = keys
        self._invalidations = invalidations
        self._clocks = clocks
        self.ttl = ttl
        self.maxsize = maxsize
        self.ttl_ms = max(1, int(ttl * 1000))
        # Read by peek on every cached checkout: an ExpiringDict, as the memory cache is.
        self._local: ExpiringDict[str, _Entry] = ExpiringDict(maxsize, ttl,
                                                              timer=clocks.monotonic)
        # Snapshots whose Redis copy is settled (read from there, or written, or refused by a
        # newer invalidation): ``set`` must not write them again. Weak: they go with their
        # snapshot.
        self._settled: weakref.WeakKeyDictionary[BalanceSnapshot, bytes] = \
            weakref.WeakKeyDictionary()
        # Counts deletions, so a read that raced one does not keep what it read in memory.
        self._deletions = 0
        self._reads: Batcher[str, bytes | None] = Batcher(self._read_many, max_batch=100)
        link.on_connect(self._reconnected)

    def __repr__(self) -> str:
        return f"SharedBalanceCache({self._link!r}, ttl={self.ttl}, maxsize={self.maxsize})"

    def peek(self, key: str) -> BalanceSnapshot | None:
        entry = self._local.get(key)
        return entry.snapshot if entry is not None else None

    async def get(self, key: str) -> BalanceSnapshot | None:
        entry = self._local.get(key)
        deletions = self._deletions
        try:
            raw = await self._reads.get(key)
        except Unavailable:
            return entry.snapshot if entry is not None else None
        if raw is None:
            self._local.pop(key)  # expired, or invalidated by some instance
            return None
        if entry is not None and entry.raw == raw:
            return entry.snapshot
        snapshot = self.adopt(key, raw)
        if snapshot is None:
            self._local.pop(key)
        elif deletions == self._deletions:
            self._local.set(key, _Entry(raw, snapshot))
        return snapshot

    async def set(self, key: str, snapshot: BalanceSnapshot) -> None:
        raw = self._settled.get(snapshot)
        if raw is not None:
            self._local.set(key, _Entry(raw, snapshot))
            return
        raw = self.encode(snapshot)
        self._local.set(key, _Entry(raw, snapshot))
        self._settled[snapshot] = raw
        with contextlib.suppress(Unavailable):  # kept in memory; Redis gets the next one
            await self._link.run(
                lambda client: client.set(self._redis_key(key), raw, px=self.ttl_ms))

    async def delete(self, key: str) -> None:
        self._deletions += 1
        self._local.pop(key)
        self._reads.forget(key)  # a read sent before this must not answer reads after it
        if not applying_peer_message():
            await self._invalidations.publish(split_key(key)[1])

    async def aclose(self) -> None:
        """Close the Redis connection (the loader calls this when the gate stops)."""
        await self._link.aclose()

    # -- for gate.state.flight ------------------------------------------------------------

    def encode(self, snapshot: BalanceSnapshot) -> bytes:
        return encode_snapshot(snapshot, self._clocks)

    def wall_time(self, snapshot: BalanceSnapshot) -> float:
        """When ``snapshot`` was fetched, on the wall clock (what Redis compares)."""
        return self._clocks.to_wall(snapshot.fetched_at)

    def settle(self, snapshot: BalanceSnapshot, raw: bytes) -> None:
        """Redis has had this snapshot (or refused it for a newer invalidation)."""
        self._settled[snapshot] = raw

    def adopt(self, key: str, raw: bytes) -> BalanceSnapshot | None:
        """The snapshot stored in ``raw`` for ``key``, or None (logged) if it is unreadable."""
        source, member = split_key(key)
        try:
            snapshot = decode_snapshot(raw, self._clocks, member_id=member, source=source)
        except Unreadable as exc:
            logger.warning("ignoring the shared balance entry of member %r: %s", member, exc)
            return None
        self._settled[snapshot] = raw
        return snapshot

    async def _read_many(self, keys: Sequence[str]) -> dict[str, bytes | None]:
        values = await self._link.run(
            lambda client: client.mget([self._redis_key(key) for key in keys]))
        return {key: as_bytes(value) for key, value in zip(keys, values, strict=True)}

    def _redis_key(self, key: str) -> str:
        return self._keys.balance(split_key(key)[1])

    async def _reconnected(self, client: Redis) -> None:
        # Invalidations sent while this instance was not listening are lost: what memory
        # holds may be one of them. Redis (now back) is asked again instead.
        self._local.clear()
