"""The price of one session of a service: a configured cost wins over the source's catalog."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from gate.credits.balances import ServiceInfo
from gate.data.expiring import StillTrue
from gate.data.sources.base import BalanceSource

__all__ = ["Prices"]


class Prices:
    def __init__(self, source: BalanceSource, costs: Mapping[str, Decimal] | None) -> None:
        self.source = source
        # Explicit prices win over anything the source says: built once, looked up per request.
        self._fixed = {sid: ServiceInfo(sid, known=True, fixed_cost=cost)
                       for sid, cost in (costs or {}).items()}

    async def get(self, service_id: str) -> ServiceInfo:
        """The service, asking the source when it is not known yet."""
        fixed = self._fixed.get(service_id)
        return fixed if fixed is not None else await self.source.service(service_id)

    def known(self, service_id: str) -> ServiceInfo | None:
        """The service as already known (configured or in the catalog), or None."""
        return self._fixed.get(service_id) or self.source.cached_service(service_id)

    def held(self, service_id: str, service: ServiceInfo) -> tuple[StillTrue, ...]:
        """What keeps ``known(service_id)`` giving ``service`` (or an equal one): a ``Held``
        per catalog read when the source can say (``held_service``), otherwise a call."""
        if service_id in self._fixed:
            return ()  # configured prices never change
        held = getattr(self.source, "held_service", None)
        if held is not None:
            return held(service_id)  # type: ignore[no-any-return]
        known = self.known
        return (lambda: (found := known(service_id)) is service or found == service,)
