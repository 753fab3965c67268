"""Decisions remembered per balance snapshot: the hot path's answer without evaluating rules.

When a policy set reads nothing that changes per request (no clock, no path, no data age; see
``PolicySet.repeatable``), the same snapshot, service, method and data freshness always give
the same decision. It is kept beside the snapshot, weakly: when the cache lets the snapshot
go, its decisions go with it, so this never holds more than the cache does. Visitors have no
snapshot; theirs are kept in a small bounded table.
"""

from __future__ import annotations

from collections.abc import Hashable
from weakref import WeakKeyDictionary

from gate.balances import BalanceSnapshot
from gate.policy.decision import Decision

__all__ = ["DecisionMemo"]

#: Per snapshot, and for visitors: enough for every service a member looks at.
_MAX_KEYS = 64
_MAX_VISITOR_KEYS = 1024


class DecisionMemo:
    def __init__(self) -> None:
        self._by_snapshot: WeakKeyDictionary[BalanceSnapshot, dict[Hashable, Decision]] = (
            WeakKeyDictionary())
        self._visitors: dict[Hashable, Decision] = {}

    def get(self, snapshot: BalanceSnapshot | None, key: Hashable) -> Decision | None:
        table = self._visitors if snapshot is None else self._by_snapshot.get(snapshot)
        return table.get(key) if table is not None else None

    def put(self, snapshot: BalanceSnapshot | None, key: Hashable, decision: Decision) -> None:
        if snapshot is None:
            table, limit = self._visitors, _MAX_VISITOR_KEYS
        else:
            table = self._by_snapshot.setdefault(snapshot, {})
            limit = _MAX_KEYS
        if len(table) >= limit:
            table.clear()  # made-up service ids must not grow it without bound
        table[key] = decision
