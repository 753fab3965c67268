"""Collapse concurrent identical work into one call: the first caller fetches, the rest wait.

``SingleFlight`` does it within one process. ``FleetFetch`` is the shape of the same idea
across a fleet of processes (``gate.state.FleetFlight``, through Redis), which the balance
loader uses for its batches of cold members when the gate shares a Redis.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from gate.credits.balances import BalanceSnapshot

__all__ = ["FleetFetch", "SingleFlight"]

T = TypeVar("T")
#: Reads a batch of members from the source: ``BalanceSource.fetch_many``.
FetchMany = Callable[[Sequence[str]], Awaitable[dict[str, BalanceSnapshot]]]


class FleetFetch(Protocol):
    """Reads members so that each is read from the source once by the whole fleet.

    ``fetch_many`` answers for every member of ``member_ids`` (``key`` gives a member's cache
    key): those no other instance is reading through ``fetch``, the others as the instance
    reading them stored them, or through ``fetch`` after a bounded wait. It raises what
    ``fetch`` raises.
    """

    async def fetch_many(
        self, member_ids: Sequence[str], key: Callable[[str], str], fetch: FetchMany,
    ) -> dict[str, BalanceSnapshot]: ...


class SingleFlight(Generic[T]):
    """One in-flight call per key.

    The call runs in its own task, so a caller that is cancelled (a client that hung up)
    does not cancel the fetch the other waiters depend on. Errors are shared with every
    waiter of that flight and are not remembered afterwards.
    """

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Task[T]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def __contains__(self, key: object) -> bool:
        """Is a call for ``key`` in flight (so a new caller would only wait for it)?"""
        return key in self._flights

    async def run(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        task = self._flights.get(key)
        if task is None:
            task = asyncio.ensure_future(fn())
            self._flights[key] = task
            task.add_done_callback(functools.partial(self._done, key))
        return await asyncio.shield(task)

    def forget(self, key: str) -> None:
        """Let the next caller start a fresh flight, e.g. after the data was invalidated."""
        self._flights.pop(key, None)

    def _done(self, key: str, task: asyncio.Task[T]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            # Mark the exception as retrieved: waiters may all have gone away.
            task.exception()
