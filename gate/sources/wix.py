"""Credits from Wix Benefit Programs: pools (with benefits), their balances, and items.

For a checkout of service S by member M the gate needs three things (reference §2, §6):
M's balances (``balances/query``, fresh: credits change with every booking), M's pools with
their benefits (``pools/query``: which item sets each pays for, at what price), and the item
sets that hold S (``items/query``). Benefits and items change rarely, so they are kept far
longer than balances: a member's pools are read again only when a balance shows a pool the
gate has not seen, or after ``pool_ttl``; a service's item sets after ``catalog_ttl``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cachetools import TTLCache

from gate.balances import (
    BOOKINGS_APP_ID,
    KNOWN_POOL_STATUSES,
    PRICING_PLANS_NAMESPACE,
    BalanceSnapshot,
    Benefit,
    PoolBalance,
    ServiceInfo,
)
from gate.errors import UpstreamDataError
from gate.singleflight import SingleFlight
from gate.wix.client import WixClient
from gate.wix.models import Balance, Pool

__all__ = ["WixBalanceSource"]

logger = logging.getLogger("booking_gate.source")


class WixBalanceSource:
    """Reads a member's pools and balances, and a service's item sets, from Wix."""

    def __init__(
        self,
        client: WixClient,
        *,
        site_id: str,
        clock: Callable[[], float] = time.monotonic,
        pool_ttl: float = 600.0,
        catalog_ttl: float = 3600.0,
        unknown_service_ttl: float = 300.0,
        maxsize: int = 10_000,
    ) -> None:
        self._client = client
        self._clock = clock
        self.key = f"wix:{site_id}"
        self._pools: TTLCache[str, dict[str, Pool]] = TTLCache(maxsize, pool_ttl, timer=clock)
        self._services: TTLCache[str, ServiceInfo] = TTLCache(maxsize, catalog_ttl, timer=clock)
        # Ids no item knows are kept apart and briefly: a new service shows up soon, and a
        # flood of made-up ids cannot push real services out of the catalog.
        self._unknown: TTLCache[str, ServiceInfo] = TTLCache(
            maxsize, unknown_service_ttl, timer=clock
        )
        self._service_flights: SingleFlight[ServiceInfo] = SingleFlight()

    def __repr__(self) -> str:
        return f"WixBalanceSource(key={self.key!r}, client={self._client!r})"

    async def fetch(self, member_id: str) -> BalanceSnapshot:
        balances = []
        for balance in await self._client.query_balances(member_id):
            _check_beneficiary(balance.id, balance.beneficiary.member_id, member_id)
            # Wix cannot filter balances by namespace: other programs' pools (loyalty, gift
            # cards) are not the studio's class packs and are dropped here.
            if balance.pool_info.namespace == PRICING_PLANS_NAMESPACE:
                balances.append(balance)
        pools = self._pools.get(member_id)
        if pools is None or any(b.id not in pools for b in balances):
            pools = await self._fetch_pools(member_id)
        return BalanceSnapshot(
            member_id=member_id,
            pools=tuple(_pool(b, pools.get(b.id)) for b in balances),
            fetched_at=self._clock(),
            source=self.key,
        )

    async def service(self, service_id: str) -> ServiceInfo:
        if not service_id:
            return ServiceInfo(service_id, known=False)
        cached = self._services.get(service_id) or self._unknown.get(service_id)
        if cached is not None:
            return cached
        return await self._service_flights.run(service_id, lambda: self._lookup(service_id))

    def forget(self, member_id: str) -> None:
        """Drop what is kept of a member's pools, e.g. after they bought or cancelled a plan."""
        self._pools.pop(member_id, None)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _fetch_pools(self, member_id: str) -> dict[str, Pool]:
        pools = await self._client.query_pools(member_id)
        for pool in pools:
            _check_beneficiary(pool.id, pool.beneficiary.member_id, member_id)
        found = {p.id: p for p in pools}
        self._pools[member_id] = found
        return found

    async def _lookup(self, service_id: str) -> ServiceInfo:
        items = await self._client.query_items(service_id)
        sets = frozenset(
            i.item_set_id for i in items
            if i.external_id == service_id and i.provider_app_id in (None, BOOKINGS_APP_ID)
        )
        info = ServiceInfo(service_id, known=bool(sets), item_sets=sets)
        (self._services if sets else self._unknown)[service_id] = info
        return info


def _check_beneficiary(what: str, beneficiary: str | None, member_id: str) -> None:
    # The query filtered by member; data for someone else means the upstream answer cannot
    # be trusted, and counting it could open the gate for the wrong person.
    if beneficiary != member_id:
        raise UpstreamDataError(
            f"pool {what} belongs to another beneficiary than the member queried"
        )


def _pool(balance: Balance, pool: Pool | None) -> PoolBalance:
    info = balance.pool_info
    status = info.status
    if status not in KNOWN_POOL_STATUSES:
        logger.warning("pool %s has a status this gate does not know (%s); it cannot pay",
                       balance.id, status)
    if pool is None:
        # A balance whose pool Wix did not list even when asked again: nothing says what it
        # pays for, so it pays for nothing. Logged, because credits go unused.
        logger.warning("balance %s has no matching pool; its credits cannot be priced",
                       balance.id)
        benefits: tuple[Benefit, ...] = ()
    else:
        benefits = tuple(
            Benefit(b.item_set_id, b.price, b.provider_app_id or BOOKINGS_APP_ID)
            for b in (pool.details.benefits if pool.details else None) or ()
        )
    return PoolBalance(
        pool_id=balance.id,
        available=balance.amount.available,
        reserved=balance.amount.reserved,
        # The balance carries the pool's status too, and it is the fresher of the two.
        status=status,
        namespace=info.namespace,
        plan_id=info.external_program_definition_id,
        program_id=info.program_id,
        program_definition_id=info.program_definition_id,
        benefits=benefits,
    )
