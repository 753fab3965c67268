"""Forgetting a member across the fleet: one instance hears a webhook, every instance forgets.

``Invalidations.publish(member)`` does, in one Redis transaction: bump the member's generation
(a fetch that began before it may no longer store its answer, see ``gate.state.flight``),
delete the shared snapshot and holds, and publish the member id on the site's channel. Each
other instance hears it and runs its own ``DecisionCore.invalidate`` for that member *as a
peer*: inside ``from_peer()``, where the shared cache and holds forget locally only, so the
message is not sent again.

While Redis is down the member is remembered (up to ``pending_max`` of them) and the
transaction is replayed when Redis answers again, before the link counts as up: a snapshot
stored before the outage cannot come back after it.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator, Sequence

from redis.asyncio import Redis

from gate.state.keys import Keys
from gate.state.link import RedisLink, Unavailable

__all__ = ["Invalidations", "applying_peer_message", "from_peer"]

logger = logging.getLogger("booking_gate.redis")

_from_peer: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "booking_gate_from_peer", default=False)


@contextlib.contextmanager
def from_peer() -> Iterator[None]:
    """Mark what runs inside as the echo of another instance's invalidation."""
    token = _from_peer.set(True)
    try:
        yield
    finally:
        _from_peer.reset(token)


def applying_peer_message() -> bool:
    """True inside ``from_peer()``: forget locally, Redis already knows."""
    return _from_peer.get()


class Invalidations:
    """Send this instance's invalidations to the fleet, and apply the fleet's here."""

    def __init__(
        self, link: RedisLink, keys: Keys, *, generation_ttl: float = 3600.0,
        pending_max: int = 10_000,
    ) -> None:
        self._link = link
        self._keys = keys
        #: Who sent a message: an instance ignores its own.
        self.origin = secrets.token_hex(8)
        # Longer than any fetch can take: a generation that expired reads as 0 again.
        self._generation_ms = int(generation_ttl * 1000)
        self._pending: dict[str, None] = {}
        self._pending_max = pending_max
        self._handler: Callable[[str], Awaitable[None]] | None = None
        link.on_message(self._received)
        link.on_connect(self._replay)

    def handle_with(self, handler: Callable[[str], Awaitable[None]]) -> None:
        """What to run for a member another instance invalidated (``DecisionCore.invalidate``)."""
        self._handler = handler

    async def publish(self, member_id: str) -> None:
        try:
            await self._link.run(lambda client: self._send(client, [member_id]))
        except Unavailable:
            if len(self._pending) >= self._pending_max:
                logger.error("more than %d members were invalidated while Redis was down; "
                             "the oldest will not be replayed", self._pending_max)
                self._pending.pop(next(iter(self._pending)))
            self._pending[member_id] = None

    async def _send(self, client: Redis, members: Sequence[str]) -> None:
        async with client.pipeline(transaction=True) as pipe:
            for member in members:
                generation = self._keys.generation(member)
                pipe.incr(generation)
                pipe.pexpire(generation, self._generation_ms)
                pipe.delete(self._keys.balance(member), self._keys.holds(member))
                pipe.publish(self._keys.channel,
                             json.dumps({"member": member, "origin": self.origin}))
            await pipe.execute()

    async def _replay(self, client: Redis) -> None:
        members = list(self._pending)
        for start in range(0, len(members), 100):
            await self._send(client, members[start:start + 100])
        for member in members:
            self._pending.pop(member, None)
        if members:
            logger.warning("replayed %d invalidation(s) made while Redis was down", len(members))

    async def _received(self, data: bytes) -> None:
        try:
            message = json.loads(data)
            member, origin = message["member"], message["origin"]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a message on the invalidation channel that is not one")
            return
        if origin == self.origin or not isinstance(member, str) or self._handler is None:
            return
        with from_peer():
            await self._handler(member)
