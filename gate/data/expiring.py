"""Bounded tables for the hot path: a map whose entries expire (one dict lookup a read), and
``remember``, the one way a plain memo stays bounded.

cachetools' TTLCache and TLRUCache cost about 4 µs a read here (a timer context manager and
a linked list per access), three of them per cached checkout: more than the rest of the
decision. This keeps what the gate needs of them (a size bound, an expiry per entry, an
injected clock) with a read of about 0.3 µs. When full, the oldest stored entry goes first
(expired entries go when read): a re-stored entry counts as new. Measured in
``bench/RESULTS.md``; used where a checkout reads on every request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["ExpiringDict", "Held", "StillTrue", "remember"]

#: Whether a kept answer still stands; cheap: it runs each time the answer is reused. An
#: identity resolver's ``resolve_kept`` gives one, or a tuple of them (all must stay true);
#: a ``Held`` is one that the decision core checks without calling it.
StillTrue = Callable[[], bool]

K = TypeVar("K")
V = TypeVar("V")


def remember(table: MutableMapping[K, V], key: K, value: V, limit: int) -> V:
    """``table[key] = value``, and ``value``. A table already holding ``limit`` entries starts
    over first: keys a visitor makes up (paths, queries, tokens) must not grow it without
    bound, and a memo refilled costs only the work it saves."""
    if len(table) >= limit and key not in table:
        table.clear()
    table[key] = value
    return value


@dataclass(frozen=True, slots=True)
class Held:
    """What a read gave, as something that stays true until it changes: ``table`` still holds
    the very ``entry`` under ``key`` (None: still nothing), and ``clock()`` is before
    ``expires``. Checked by reference, with no call into the table's owner: the request lane
    (``gate.decision.kept``) checks a few of these per request instead of re-reading. Each
    ``set`` of a table stores a new entry, and its owner never replaces ``table`` itself."""

    table: Mapping[Any, Any]
    key: Hashable
    entry: object
    expires: float
    clock: Callable[[], float]

    def __call__(self) -> bool:
        return self.clock() < self.expires and self.table.get(self.key) is self.entry


class ExpiringDict(Generic[K, V]):
    """At most ``maxsize`` entries, each until its own expiry (``ttl`` unless given)."""

    __slots__ = ("_clock", "_entries", "maxsize", "ttl")

    def __init__(self, maxsize: int, ttl: float,
                 timer: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1 or not ttl > 0:
            raise ValueError("ExpiringDict needs a positive maxsize and ttl")
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = timer
        self._entries: dict[K, tuple[V, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry[0]

    def held(self, key: K) -> Held:
        """``get(key)``'s answer as a ``Held``: true while the same entry (or still none) is
        stored and has not expired."""
        entry = self._entries.get(key)
        return Held(self._entries, key, entry, entry[1] if entry is not None else math.inf,
                    self._clock)

    def set(self, key: K, value: V, ttl: float | None = None) -> None:
        entries = self._entries
        entries.pop(key, None)  # re-inserted at the end: the most recently stored
        if len(entries) >= self.maxsize:
            del entries[next(iter(entries))]  # the oldest stored
        entries[key] = (value, self._clock() + (self.ttl if ttl is None else ttl))

    def pop(self, key: K) -> V | None:
        entry = self._entries.pop(key, None)
        return entry[0] if entry is not None else None

    def clear(self) -> None:
        self._entries.clear()
