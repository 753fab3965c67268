"""Fetch many keys in one upstream call: misses that wait at the same moment go together.

Keys asked for while a batch is out queue up and leave together in the next one, so 500
members arriving in one second cost a handful of calls, not 500. A key already waiting or in
flight is not asked for twice (single-flight per key).

The next batch leaves when the one out is answered or, with ``overlap``, once it has been out
that long and at least ``overlap_keys`` keys wait, whichever comes first (at most
``max_in_flight`` out at once). Without it, a burst's next batch would wait for the answer
*and* for every decision the answer wakes: each wake-up runs before the next request can reach
the socket, so the batches of a burst would be spaced by the upstream's latency plus the CPU
of the previous batch's decisions. A trickle of keys waits for the answer: leaving early would
spend more calls for a handful of keys whose wait is short anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

__all__ = ["Batcher"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Batcher(Generic[K, V]):
    """``await batcher.get(key)`` → the value ``fetch_many`` returned for it.

    ``fetch_many`` gets up to ``max_batch`` keys and returns a value for each; a key it leaves
    out fails with KeyError. When it raises, every key of that batch gets the error; nothing
    is remembered, so the next ``get`` asks again. Waiters that give up (cancelled, timed out)
    never cancel the batch the others wait on.
    """

    def __init__(
        self, fetch_many: Callable[[Sequence[K]], Awaitable[dict[K, V]]], *, max_batch: int = 100,
        pace: Callable[[], float] | None = None, overlap: float | None = None,
        overlap_keys: int = 1, max_in_flight: int = 2,
    ) -> None:
        if overlap is not None and (overlap <= 0 or max_in_flight < 2):
            raise ValueError("overlap needs a positive number of seconds and max_in_flight >= 2")
        self._fetch_many = fetch_many
        self._max_batch = max_batch
        self._overlap = overlap
        self._overlap_keys = overlap_keys
        self._max_in_flight = max_in_flight if overlap is not None else 1
        self._out: set[asyncio.Task[None]] = set()
        # Seconds to hold the next batch back: while it waits, more keys join it. The Wix
        # budget paces batches this way when calls run short (UpstreamBudget.pace).
        self._pace = pace
        self._waiting: dict[K, asyncio.Future[V]] = {}
        self._in_flight: dict[K, asyncio.Future[V]] = {}
        self._runner: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._waiting) + len(self._in_flight)

    async def get(self, key: K) -> V:
        future = self._in_flight.get(key) or self._waiting.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[key] = future
            if self._runner is None:
                self._runner = asyncio.get_running_loop().create_task(self._run())
        return await asyncio.shield(future)

    def forget(self, key: K) -> None:
        """Let the next ``get`` start afresh instead of joining a fetch already under way.

        Its current waiters still get that fetch's answer. A key still waiting to be sent
        stays: what it will fetch is already newer than whatever made us forget.
        """
        self._in_flight.pop(key, None)

    async def _run(self) -> None:
        try:
            # One turn of the loop first, so the requests that arrived together leave together.
            await asyncio.sleep(0)
            while self._waiting:
                # A batch from an earlier round may still be out: the same rule applies to it.
                while self._out and len(self._waiting) < self._overlap_keys:
                    await asyncio.wait(self._out, timeout=self._overlap,
                                       return_when=asyncio.FIRST_COMPLETED)
                delay = self._pace() if self._pace is not None else 0.0
                if delay > 0:
                    await asyncio.sleep(delay)
                keys = list(self._waiting)[: self._max_batch]
                batch = {k: self._waiting.pop(k) for k in keys}
                self._in_flight.update(batch)
                sent = asyncio.get_running_loop().create_task(self._send(keys, batch))
                self._out.add(sent)
                sent.add_done_callback(self._out.discard)
                # Keys asked for from now on gather for the next batch while this one is out.
                while not sent.done():
                    await asyncio.wait({sent}, timeout=self._overlap)
                    if len(self._waiting) >= self._overlap_keys:
                        break
                while len(self._out) >= self._max_in_flight:
                    await asyncio.wait(self._out, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._runner = None

    async def _send(self, keys: list[K], batch: dict[K, asyncio.Future[V]]) -> None:
        try:
            values = await self._fetch_many(keys)
        except Exception as exc:  # every waiter of this batch gets the error
            for key, future in batch.items():
                self._settle(key, future, error=exc)
            return
        except BaseException:  # cancelled: nobody may be left joining a dead fetch
            for key, future in batch.items():
                if self._done(key, future):
                    future.cancel()
            raise
        for key, future in batch.items():
            if key not in values:
                self._settle(key, future, error=KeyError(key))
            elif self._done(key, future):
                future.set_result(values[key])

    async def aclose(self) -> None:
        """Stop: the batches out are cancelled and their waiters get CancelledError."""
        tasks = [*self._out, *([self._runner] if self._runner is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _settle(self, key: K, future: asyncio.Future[V], *, error: BaseException) -> None:
        if self._done(key, future):
            future.set_exception(error)
            # Mark it retrieved: every waiter may have given up already.
            future.exception()

    def _done(self, key: K, future: asyncio.Future[V]) -> bool:
        """Take ``future`` off the in-flight list; True when it still needs its answer."""
        if self._in_flight.get(key) is future:
            del self._in_flight[key]
        return not future.done()
