"""The Wix call budget of the whole fleet, in Redis: one sliding window for every instance.

Wix counts calls per app instance (the app on a site), not per process, so the fleet shares
one ``UpstreamBudget``: the same limit, window, reserve for checkouts and capped shares for
unseen tokens and unknown services, checked and spent atomically by one Lua script over three
sorted sets (every call; unseen-token lookups; unknown-service lookups), scored by wall-clock
time. Instances' clocks agree to NTP's milliseconds, which moves the window's edge by as much.

While Redis is down, each instance spends from a local budget of ``local_share`` of the limit
(documented default 0.5: two instances). With N instances, ``1/N`` keeps the fleet within
Wix's limit through an outage; calls made then are not counted in Redis afterwards.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from gate.state.keys import Keys
from gate.state.link import RedisLink, Unavailable
from gate.upstream.budget import Priority, UpstreamBudget, pace_for

__all__ = ["SharedBudget"]

# KEYS: every call, unseen-token lookups, unknown-service lookups.
# ARGV: now, window (s), limit, reserve, cap of each capped share, priority, a unique id.
# Returns {1 if taken else 0, calls in the window afterwards}. The rules are UpstreamBudget's.
_TAKE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local reserve = tonumber(ARGV[4])
local cap = tonumber(ARGV[5])
local priority = ARGV[6]
local horizon = now - window
local keep = math.ceil(window * 1000) + 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', horizon)
local used = redis.call('ZCARD', KEYS[1])
local left = limit - used
if left <= 0 then return {0, used} end
if priority == 'background' and left <= reserve then return {0, used} end
local capped = nil
if priority == 'new_token' then capped = KEYS[2] end
if priority == 'new_service' then capped = KEYS[3] end
if capped then
  redis.call('ZREMRANGEBYSCORE', capped, '-inf', horizon)
  if redis.call('ZCARD', capped) >= cap or left <= reserve then return {0, used} end
  redis.call('ZADD', capped, now, ARGV[7])
  redis.call('PEXPIRE', capped, keep)
end
redis.call('ZADD', KEYS[1], now, ARGV[7])
redis.call('PEXPIRE', KEYS[1], keep)
return {1, used + 1}
"""


class SharedBudget:
    """A ``gate.upstream.CallBudget`` kept in Redis for the fleet, with the rules of ``like``."""

    def __init__(
        self, link: RedisLink, keys: Keys, like: UpstreamBudget, *, local_share: float = 0.5,
        wall: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < local_share <= 1:
            raise ValueError("the local share of the budget must be more than 0 and at most 1")
        self.limit = like.limit
        self.window = like.window
        self._reserve = like.reserve
        self._cap = like.token_cap
        self._link = link
        self._keys = keys.budget()
        self._wall = wall
        self._clock = clock
        #: What this instance may spend alone while Redis is down.
        self.local = UpstreamBudget(
            max(1, int(like.limit * local_share)), like.window, reserve=like.reserve_share,
            new_token_share=like.new_token_share, clock=clock)
        self._script = link.client.register_script(_TAKE)
        # The fleet's count as of the last call (and when): what remaining() and pace() say
        # without a round trip.
        self._used = 0
        self._seen = clock()

    def __repr__(self) -> str:
        return f"SharedBudget({self.remaining()}/{self.limit} per {self.window:g} s, " \
               f"{self._link!r})"

    async def take(self, priority: Priority = Priority.CHECKOUT) -> bool:
        if self._link.state == "down":
            return self.local.try_take(priority)
        args: list[str | int] = [repr(self._wall()), repr(self.window), self.limit,
                                 self._reserve, self._cap, priority.value, secrets.token_hex(8)]

        async def run(client: Redis) -> Any:
            return await self._script(keys=self._keys, args=args, client=client)

        try:
            taken, used = await self._link.run(run)
        except Unavailable:
            return self.local.try_take(priority)
        self._used, self._seen = int(used), self._clock()
        return bool(taken)

    def remaining(self) -> int:
        if self._link.state == "down":
            return self.local.remaining()
        return max(0, self.limit - self._known_used())

    def pace(self) -> float:
        if self._link.state == "down":
            return self.local.pace()
        return pace_for(self._known_used(), self.limit, self.window)

    def _known_used(self) -> int:
        # A count older than the window says nothing any more: all of it has expired since.
        return self._used if self._clock() - self._seen < self.window else 0
