"""The last-credit guard across the fleet: two tabs on two instances, one credit, one passes.

``turn(member)`` takes this process's lock for the member (as ``HoldBook`` does), then a Redis
lock for the member (``SET NX PX``, polled every 10 to 100 ms), so that submissions of one
member are decided one at a time fleet-wide. Inside the turn it loads the member's holds from
Redis into memory, where the synchronous ``apply`` and ``hold`` work as before. When the turn
ends, a hold taken in it is written to Redis *before* the Redis lock is let go, even if the
decision was cancelled at its deadline: the next turn, on any instance, sees it.

The lock lives ``lock_ttl`` seconds at most (longer than any decision may take), so a crashed
instance cannot keep a member locked. While Redis is down, holds are this instance's own again
(the guard then works per instance, as without Redis). Holds are dropped fleet-wide by an
invalidation (``gate.state.invalidation``), which deletes them with the member's snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis

from gate.decision.holds import HoldBook
from gate.state.codec import Clocks, Unreadable, decode_holds, encode_holds
from gate.state.keys import Keys
from gate.state.link import RedisLink, Unavailable, as_bytes

__all__ = ["SharedHoldBook"]

logger = logging.getLogger("booking_gate.redis")

# KEYS: the holds, the turn lock. ARGV: the holds ('' to delete them), their TTL in ms, the
# lock's token. The holds are written even if the lock was lost: they are what was decided.
_FINISH = """
if ARGV[1] == '' then
  redis.call('DEL', KEYS[1])
elseif ARGV[1] ~= '-' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
return 1
"""


class SharedHoldBook(HoldBook):
    """``HoldBook`` whose turns and holds are the fleet's, through Redis."""

    def __init__(
        self, link: RedisLink, keys: Keys, clocks: Clocks, *, ttl: float = 600.0,
        lock_ttl: float = 10.0,
    ) -> None:
        super().__init__(ttl=ttl, clock=clocks.monotonic)
        self._link = link
        self._keys = keys
        self._clocks = clocks
        self._lock_ms = max(1, int(lock_ttl * 1000))
        self._finish_script = link.client.register_script(_FINISH)
        #: Members whose holds changed in the turn under way.
        self._dirty: set[str] = set()

    @asynccontextmanager
    async def turn(self, member_id: str) -> AsyncIterator[None]:
        async with super().turn(member_id):
            token = await self._lock(member_id)
            self._dirty.discard(member_id)
            try:
                if token is not None:
                    await self._load(member_id)
                yield
            finally:
                if token is not None:
                    await _uncancelled(self._finish(member_id, token))

    def hold(self, member_id: str, pool_id: str, amount: Decimal, baseline: Decimal) -> None:
        """Inside ``turn`` (as the core calls it): written to Redis when the turn ends."""
        super().hold(member_id, pool_id, amount, baseline)
        self._dirty.add(member_id)

    async def _lock(self, member_id: str) -> str | None:
        """The member's fleet-wide turn, or None (this instance alone) while Redis is down."""
        token = secrets.token_hex(8)
        delay = 0.01
        while True:
            try:
                taken = await self._link.run(lambda client: client.set(
                    self._keys.turn(member_id), token, nx=True, px=self._lock_ms))
            except Unavailable:
                return None
            if taken:
                return token
            # Another instance decides a submission of this member: its holds come first. The
            # lock's TTL bounds the wait; the decision's deadline bounds it sooner.
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)

    async def _load(self, member_id: str) -> None:
        try:
            raw = as_bytes(await self._link.run(
                lambda client: client.get(self._keys.holds(member_id))))
        except Unavailable:
            return  # decide with what this instance holds
        holds = []
        if raw is not None:
            try:
                holds = decode_holds(raw, self._clocks)
            except Unreadable as exc:
                logger.error("ignoring the shared holds of member %r: %s", member_id, exc)
        now = self._clocks.monotonic()
        live = [h for h in holds if h.expires > now]
        if live:
            self._holds[member_id] = live
        else:
            self._holds.pop(member_id, None)

    async def _finish(self, member_id: str, token: str) -> None:
        raw = b"-"  # unchanged: leave the stored holds as they are
        ttl_ms = 1
        if member_id in self._dirty:
            self._dirty.discard(member_id)
            holds = self._holds.get(member_id, [])
            raw = encode_holds(holds, self._clocks) if holds else b""
            if holds:
                ttl_ms = max(1, int((max(h.expires for h in holds) - self._clock()) * 1000))

        async def run(client: Redis) -> Any:
            return await self._finish_script(
                keys=[self._keys.holds(member_id), self._keys.turn(member_id)],
                args=[raw, ttl_ms, token], client=client)

        try:
            await self._link.run(run)
        except Unavailable:
            logger.warning("the hold of member %r could not be shared (Redis not answering); "
                           "it holds on this instance only", member_id)


async def _uncancelled(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end even if the caller is cancelled meanwhile (then re-raise)."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise
