"""Decisions remembered per balance snapshot: the hot path's answer without evaluating rules.

When a policy set reads nothing that changes per request (no clock, no path, no data age; see
``PolicySet.repeatable``), the same snapshot, service, method and data freshness always give
the same decision. It is kept on the snapshot itself (``BalanceSnapshot.decisions``): when
the cache lets the snapshot go, its decisions go with it, so this never holds more than the
cache does, and finding one is a single dict lookup. Visitors have no snapshot; theirs are
kept in a small bounded table.
"""

from __future__ import annotations

from collections.abc import Hashable

from gate.credits.balances import BalanceSnapshot, ServiceInfo
from gate.data.expiring import remember
from gate.policy.decision import Decision
from gate.policy.policyset import PolicySet

__all__ = ["DecisionMemo", "memo_key"]

#: Per snapshot, and for visitors: enough for every service a member looks at.
_MAX_KEYS = 64
_MAX_VISITOR_KEYS = 1024


def memo_key(service: ServiceInfo, method: str, data: str, policies: PolicySet, path: str,
             today: str | None) -> tuple[object, ...]:
    """What a remembered decision depends on besides its snapshot (see PolicySet.repeatable)."""
    return (service, method, data, policies.version, path, today)


class DecisionMemo:
    def __init__(self) -> None:
        self._visitors: dict[Hashable, object] = {}

    def get(self, snapshot: BalanceSnapshot | None, key: Hashable) -> Decision | None:
        table = self._visitors if snapshot is None else snapshot.decisions
        found = table.get(key) if table is not None else None
        return found if isinstance(found, Decision) else None

    def put(self, snapshot: BalanceSnapshot | None, key: Hashable, decision: Decision) -> None:
        table: dict[Hashable, object] | None
        if snapshot is None:
            table, limit = self._visitors, _MAX_VISITOR_KEYS
        else:
            table, limit = snapshot.decisions, _MAX_KEYS
            if table is None:
                table = {}
                # Set once, the first time a decision is remembered: the snapshot is frozen
                # for everything the rules read, and this table is not part of that.
                object.__setattr__(snapshot, "decisions", table)
        assert table is not None
        remember(table, key, decision, limit)
