"""The interface every balance source implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gate.balances import BalanceSnapshot

__all__ = ["BalanceSource"]


@runtime_checkable
class BalanceSource(Protocol):
    """Where a member's balance comes from: Wix, a file, or anything else.

    ``key`` names the source and its tenant (for Wix: the site id), so cache entries of two
    sites or two sources never collide. ``fetch`` raises a ``gate.errors.SourceError`` when
    it cannot answer; it never returns an empty snapshot to mean "I don't know".
    """

    key: str

    async def fetch(self, member_id: str) -> BalanceSnapshot: ...

    async def aclose(self) -> None: ...
