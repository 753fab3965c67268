"""A cold member is read from Wix once per fleet, not once per instance.

Before an instance reads members from Wix it claims each one with a short Redis lock
(``SET NX PX``; ``lock_ttl`` bounds how long a crashed instance can keep it). The members it
claimed it reads, in one batch as before, and stores; storing releases the lock. For members
another instance is reading, it waits, polling Redis (10 ms, doubling to 100 ms) until that
instance's snapshot appears. It stops waiting and reads the member itself when the other
instance let go without storing anything (its read failed), or after ``wait_for`` seconds.

Storing is conditional: the member's generation (``gate.state.invalidation``) must still be
the one read with the claim, and a snapshot already stored must not be newer. So a read that
began before a webhook's invalidation can never store its older balance after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from redis.asyncio import Redis

from gate.credits.balances import BalanceSnapshot
from gate.state.cache import SharedBalanceCache
from gate.state.keys import Keys
from gate.state.link import RedisLink, Unavailable

__all__ = ["FleetFlight"]

Fetch = Callable[[Sequence[str]], Awaitable[dict[str, BalanceSnapshot]]]

# KEYS: the balance, the generation, the fetch lock.
# ARGV: the snapshot ('' to only let go of the lock), its TTL in ms, the generation read with
# the claim, the lock's token ('' when not ours), the snapshot's fetch time (wall clock).
_FILL = """
local stored = 0
if ARGV[1] ~= '' and (redis.call('GET', KEYS[2]) or '0') == ARGV[3] then
  local newer = true
  local current = redis.call('GET', KEYS[1])
  if current then
    local ok, old = pcall(cjson.decode, current)
    if ok and type(old) == 'table' and type(old.fetched) == 'number'
        and old.fetched > tonumber(ARGV[5]) then
      newer = false
    end
  end
  if newer then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    stored = 1
  end
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then
  redis.call('DEL', KEYS[3])
end
return stored
"""


@dataclass(frozen=True, slots=True)
class _Claim:
    ours: bool
    generation: str
    #: What Redis held for the member when claimed: the wait is for something else.
    raw: bytes | None


class FleetFlight:
    """``BalanceLoader``'s way to Wix when the fleet shares a Redis (``gate.data.singleflight``)."""

    def __init__(
        self, link: RedisLink, keys: Keys, cache: SharedBalanceCache, *,
        lock_ttl: float = 10.0, wait_for: float = 1.5,
    ) -> None:
        self._link = link
        self._keys = keys
        self._cache = cache
        self._lock_ms = max(1, int(lock_ttl * 1000))
        self.wait_for = wait_for
        self._fill = link.client.register_script(_FILL)

    async def fetch_many(
        self, member_ids: Sequence[str], key: Callable[[str], str], fetch: Fetch,
    ) -> dict[str, BalanceSnapshot]:
        token = secrets.token_hex(8)
        try:
            claims = await self._link.run(lambda client: self._claim(client, member_ids, token))
        except Unavailable:
            return await fetch(member_ids)  # Redis down: each instance reads for itself
        mine = [m for m in member_ids if claims[m].ours]
        theirs = [m for m in member_ids if not claims[m].ours]
        waiting = asyncio.ensure_future(self._wait(theirs, claims, key)) if theirs else None
        try:
            found = await self._read(mine, claims, token, key, fetch) if mine else {}
        except BaseException:
            if waiting is not None:
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
            raise
        if waiting is not None:
            adopted = await waiting
            found.update(adopted)
            late = [m for m in theirs if m not in adopted]
            if late:
                found.update(await self._read(late, claims, "", key, fetch))
        return found

    async def _claim(self, client: Redis, members: Sequence[str], token: str) -> dict[str, _Claim]:
        async with client.pipeline(transaction=False) as pipe:
            for member in members:
                pipe.set(self._keys.fetching(member), token, nx=True, px=self._lock_ms)
                pipe.get(self._keys.generation(member))
                pipe.get(self._keys.balance(member))
            replies = await pipe.execute()
        return {
            member: _Claim(bool(replies[3 * i]), (replies[3 * i + 1] or b"0").decode(),
                           replies[3 * i + 2])
            for i, member in enumerate(members)
        }

    async def _read(
        self, members: list[str], claims: dict[str, _Claim], token: str,
        key: Callable[[str], str], fetch: Fetch,
    ) -> dict[str, BalanceSnapshot]:
        try:
            fetched = await fetch(members)
        except BaseException:
            if token:
                await self._store({}, members, claims, token, key)  # let go of the locks
            raise
        await self._store(fetched, members, claims, token, key)
        return fetched

    async def _store(
        self, fetched: dict[str, BalanceSnapshot], members: list[str],
        claims: dict[str, _Claim], token: str, key: Callable[[str], str],
    ) -> None:
        rows: list[tuple[str, bytes, BalanceSnapshot | None]] = []
        for member in members:
            snapshot = fetched.get(member)
            rows.append((member, self._cache.encode(snapshot) if snapshot else b"", snapshot))
        if not token and not any(snapshot for _, _, snapshot in rows):
            return

        async def run(client: Redis) -> list[Any]:
            async with client.pipeline(transaction=False) as pipe:
                for member, raw, snapshot in rows:
                    wall = self._cache.wall_time(snapshot) if snapshot else 0.0
                    await self._fill(
                        keys=[self._keys.balance(member), self._keys.generation(member),
                              self._keys.fetching(member)],
                        args=[raw, self._cache.ttl_ms, claims[member].generation, token,
                              repr(wall)],
                        client=pipe)
                return list(await pipe.execute())

        # Shielded: a caller that gave up must not leave the fleet waiting on its lock.
        with contextlib.suppress(Unavailable):
            await asyncio.shield(self._link.run(run))
            for _, raw, snapshot in rows:
                if snapshot is not None:
                    self._cache.settle(snapshot, raw)

    async def _wait(
        self, members: list[str], claims: dict[str, _Claim], key: Callable[[str], str],
    ) -> dict[str, BalanceSnapshot]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_for
        delay = 0.01
        pending, adopted = members, {}
        while pending and loop.time() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
            try:
                rows = await self._link.run(partial(self._poll, members=pending))
            except Unavailable:
                break
            still = []
            for member, (raw, locked) in zip(pending, rows, strict=True):
                if raw is not None and raw != claims[member].raw:
                    snapshot = self._cache.adopt(key(member), raw)
                    if snapshot is not None:
                        adopted[member] = snapshot
                elif locked:
                    still.append(member)
                # Unlocked and unchanged: that read failed or was refused; read it here.
            pending = still
        return adopted

    async def _poll(self, client: Redis, members: list[str]) -> list[tuple[bytes | None, bool]]:
        async with client.pipeline(transaction=False) as pipe:
            for member in members:
                pipe.get(self._keys.balance(member))
                pipe.exists(self._keys.fetching(member))
            replies = await pipe.execute()
        return [(replies[2 * i], bool(replies[2 * i + 1])) for i in range(len(members))]
