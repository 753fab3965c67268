"""Webhook event ids seen by any instance: a redelivery to another instance is a duplicate.

``claim`` is ``SET NX EX`` on the event id: the first instance to claim it acts on it. While
Redis is down every claim succeeds, and each instance's own memory (``WebhookReceiver``'s)
is the only dedupe: a redelivery may then be acted on twice, which costs one extra read of
that member, never a wrong decision.
"""

from __future__ import annotations

import contextlib

from gate.state.keys import Keys
from gate.state.link import RedisLink, Unavailable

__all__ = ["FleetDedupe"]


class FleetDedupe:
    """The ``gate.adapters.webhooks.EventDedupe`` of a fleet sharing a Redis."""

    def __init__(self, link: RedisLink, keys: Keys, *, ttl: float = 24 * 3600.0) -> None:
        self._link = link
        self._keys = keys
        self._ttl = max(1, int(ttl))

    async def claim(self, event_id: str) -> bool:
        """True when no instance has claimed ``event_id`` before (or Redis can't say)."""
        try:
            first = await self._link.run(lambda client: client.set(
                self._keys.webhook(event_id), b"1", nx=True, ex=self._ttl))
        except Unavailable:
            return True
        return bool(first)

    async def forget(self, event_id: str) -> None:
        """Let a redelivery be acted on again (acting on it failed here)."""
        with contextlib.suppress(Unavailable):
            await self._link.run(lambda client: client.delete(self._keys.webhook(event_id)))
