"""Where balance snapshots are kept between requests.

``MemoryBalanceCache`` keeps them in this process. With ``redis_url`` a fleet of instances
shares them through ``gate.state.SharedBalanceCache``, which keeps this process's copy for
``peek`` and asks Redis on ``get`` (see docs/redis.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from gate.credits.balances import BalanceSnapshot
from gate.data.expiring import ExpiringDict, Held

__all__ = ["BalanceCache", "MemoryBalanceCache"]


@runtime_checkable
class BalanceCache(Protocol):
    """Storage for snapshots, keyed by ``"<source key>|<member id>"``.

    Async so that a shared backend (Redis) can implement it without changing callers.
    """

    async def get(self, key: str) -> BalanceSnapshot | None: ...

    async def set(self, key: str, snapshot: BalanceSnapshot) -> None: ...

    async def delete(self, key: str) -> None: ...

    def peek(self, key: str) -> BalanceSnapshot | None:
        """What this process holds for ``key`` right now, without waiting on anything: the
        hot path's read. A shared cache answers from its local copy (None when it has none)."""
        ...


class MemoryBalanceCache:
    """A bounded in-process cache whose entries expire ``ttl`` seconds after they were stored.

    ``timer`` is injected (as in cachetools) so tests move time forward instead of sleeping.
    When ``maxsize`` entries are held, the oldest stored one is dropped first. Backed by
    ``ExpiringDict``: ``peek`` runs on every cached checkout, and a dict lookup costs a tenth
    of a TTLCache read.
    """

    def __init__(
        self,
        *,
        ttl: float = 30.0,
        maxsize: int = 10_000,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: ExpiringDict[str, BalanceSnapshot] = ExpiringDict(maxsize, ttl,
                                                                         timer=timer)
        self.ttl = ttl
        self.maxsize = maxsize

    def __repr__(self) -> str:
        return f"MemoryBalanceCache(ttl={self.ttl}, maxsize={self.maxsize})"

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> BalanceSnapshot | None:
        return self._entries.get(key)

    def peek(self, key: str) -> BalanceSnapshot | None:
        return self._entries.get(key)

    def held(self, key: str) -> Held:
        """``peek(key)``'s answer, kept by reference (``Held``)."""
        return self._entries.held(key)

    async def set(self, key: str, snapshot: BalanceSnapshot) -> None:
        self._entries.set(key, snapshot)

    async def delete(self, key: str) -> None:
        self._entries.pop(key)
