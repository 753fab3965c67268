"""Collapse concurrent identical work into one call: the first caller fetches, the rest wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

T = TypeVar("T")


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
            task.add_done_callback(lambda t, k=key: self._done(k, t))
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
