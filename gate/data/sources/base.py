"""The interface every balance source implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from gate.credits.balances import BalanceSnapshot, ServiceInfo

__all__ = ["BalanceSource"]


@runtime_checkable
class BalanceSource(Protocol):
    """Where members' credits and services' prices come from: Wix, a file, or anything else.

    ``key`` names the source and its tenant (for Wix: the site id), so cache entries of two
    sites or two sources never collide. ``fetch`` and ``service`` raise a
    ``gate.errors.SourceError`` when they cannot answer; they never return an empty answer to
    mean "I don't know". ``service`` answers ``known=False`` for an id nothing knows.
    """

    key: str

    async def fetch(self, member_id: str) -> BalanceSnapshot: ...

    async def fetch_many(self, member_ids: Sequence[str]) -> dict[str, BalanceSnapshot]:
        """Several members at once; a source with no batch API may loop over ``fetch``."""
        ...

    async def service(self, service_id: str) -> ServiceInfo: ...

    def cached_service(self, service_id: str) -> ServiceInfo | None:
        """The service, if it is known without asking anyone (None: ask ``service``)."""
        ...

    def forget(self, member_id: str) -> None: ...

    async def aclose(self) -> None: ...
