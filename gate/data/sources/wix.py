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
import sys
import time
from collections.abc import Callable, Sequence

from cachetools import TTLCache

from gate.credits.balances import (
    BOOKINGS_APP_ID,
    KNOWN_POOL_STATUSES,
    PRICING_PLANS_NAMESPACE,
    BalanceSnapshot,
    Benefit,
    PoolBalance,
    ServiceInfo,
)
from gate.data.batching import Batcher
from gate.data.expiring import ExpiringDict, Held
from gate.errors import UpstreamDataError
from gate.upstream.budget import Priority
from gate.wix.client import WixClient
from gate.wix.models import Balance, Pool
from gate.wix.transport import call_priority

__all__ = ["WixBalanceSource"]

logger = logging.getLogger("booking_gate.source")
#: A checkout that names no service: one object, so a decision kept for it can be given again.
_NO_SERVICE = ServiceInfo("", known=False)


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
        # Per member, what each pool pays for; per pool definition (plan), the same, shared.
        self._pools: TTLCache[str, dict[str, tuple[Benefit, ...]]] = TTLCache(
            maxsize, pool_ttl, timer=clock)
        self._definitions: TTLCache[str, tuple[Benefit, ...]] = TTLCache(
            1_000, pool_ttl, timer=clock)
        # Read on every checkout: ExpiringDict (a dict lookup), not cachetools (4 µs a read).
        self._services: ExpiringDict[str, ServiceInfo] = ExpiringDict(maxsize, catalog_ttl,
                                                                      timer=clock)
        # Ids no item knows are kept apart and briefly: a new service shows up soon, and a
        # flood of made-up ids cannot push real services out of the catalog.
        self._unknown: ExpiringDict[str, ServiceInfo] = ExpiringDict(
            maxsize, unknown_service_ttl, timer=clock
        )
        self._service_batch: Batcher[str, ServiceInfo] = Batcher(self._lookup, max_batch=50)

    def __repr__(self) -> str:
        return f"WixBalanceSource(key={self.key!r}, client={self._client!r})"

    async def fetch(self, member_id: str) -> BalanceSnapshot:
        return (await self.fetch_many([member_id]))[member_id]

    async def fetch_many(self, member_ids: Sequence[str]) -> dict[str, BalanceSnapshot]:
        """Several members' credits with one balances query (and one pools query for those
        whose pools are not known yet): how a burst of cold members stays within budget."""
        wanted = set(member_ids)
        balances: dict[str, list[Balance]] = {m: [] for m in member_ids}
        for balance in await self._client.query_balances(member_ids):
            owner = balance.beneficiary.member_id
            if owner not in wanted:
                # The query filtered by member; data for someone else means the answer cannot
                # be trusted, and counting it could open the gate for the wrong person.
                raise UpstreamDataError(
                    f"balance {balance.id} belongs to a beneficiary that was not queried")
            # Wix cannot filter balances by namespace: other programs' pools (loyalty, gift
            # cards) are not the studio's class packs and are dropped here.
            if balance.pool_info.namespace == PRICING_PLANS_NAMESPACE:
                balances[owner].append(balance)
        # Pools made from one definition (one plan) pay for the same things: a member whose
        # pools all come from definitions already seen needs no pools query at all.
        stale = [m for m in member_ids if any(self._benefits(m, b) is None for b in balances[m])]
        if stale:
            await self._fetch_pools(stale)
        fetched_at = self._clock()
        return {
            m: BalanceSnapshot(
                member_id=m,
                pools=tuple(_pool(b, self._benefits(m, b)) for b in balances[m]),
                fetched_at=fetched_at,
                source=self.key,
            )
            for m in member_ids
        }

    def _benefits(self, member_id: str, balance: Balance) -> tuple[Benefit, ...] | None:
        known = self._pools.get(member_id)
        if known is not None and balance.id in known:
            return known[balance.id]
        definition = balance.pool_info.pool_definition_id
        return self._definitions.get(definition) if definition else None

    async def service(self, service_id: str) -> ServiceInfo:
        cached = self.cached_service(service_id)
        if cached is not None:
            return cached
        return await self._service_batch.get(service_id)

    def cached_service(self, service_id: str) -> ServiceInfo | None:
        if not service_id:
            return _NO_SERVICE
        return self._services.get(service_id) or self._unknown.get(service_id)

    def held_service(self, service_id: str) -> tuple[Held, ...]:
        """What keeps ``cached_service``'s answer (``Held``): its catalog entry, or none there
        and its entry among the services Wix does not sell."""
        if not service_id:
            return ()
        known = self._services.held(service_id)
        return (known,) if known.entry is not None else (known, self._unknown.held(service_id))

    def forget(self, member_id: str) -> None:
        """Drop what is kept of a member's pools, e.g. after they bought or cancelled a plan."""
        self._pools.pop(member_id, None)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _fetch_pools(self, member_ids: Sequence[str]) -> None:
        found: dict[str, dict[str, tuple[Benefit, ...]]] = {m: {} for m in member_ids}
        for pool in await self._client.query_pools(member_ids):
            owner = pool.beneficiary.member_id
            if owner not in found:
                raise UpstreamDataError(
                    f"pool {pool.id} belongs to a beneficiary that was not queried")
            benefits = _benefits_of(pool)
            found[owner][pool.id] = benefits
            if pool.pool_definition_id:
                self._definitions[pool.pool_definition_id] = benefits
        for member, pools in found.items():
            self._pools[member] = pools

    async def _lookup(self, service_ids: Sequence[str]) -> dict[str, ServiceInfo]:
        sets: dict[str, set[str]] = {s: set() for s in service_ids}
        # Anyone can ask for a made-up service id: such lookups get a capped share of the
        # budget, so they can never spend what members' checkouts need.
        with call_priority(Priority.NEW_SERVICE):
            items = await self._client.query_items(service_ids)
        for item in items:
            if item.external_id in sets and item.provider_app_id in (None, BOOKINGS_APP_ID):
                sets[item.external_id].add(item.item_set_id)
        found = {}
        for service_id, item_sets in sets.items():
            info = ServiceInfo(service_id, known=bool(item_sets), item_sets=frozenset(item_sets))
            (self._services if item_sets else self._unknown).set(service_id, info)
            found[service_id] = info
        return found


def _benefits_of(pool: Pool) -> tuple[Benefit, ...]:
    return tuple(
        Benefit(b.item_set_id, b.price, b.provider_app_id or BOOKINGS_APP_ID)
        for b in (pool.details.benefits if pool.details else None) or ()
    )


def _pool(balance: Balance, benefits: tuple[Benefit, ...] | None) -> PoolBalance:
    info = balance.pool_info
    status = info.status
    if status not in KNOWN_POOL_STATUSES:
        logger.warning("pool %s has a status this gate does not know (%s); it cannot pay",
                       balance.id, status)
    if benefits is None:
        # A balance whose pool Wix did not list even when asked again: nothing says what it
        # pays for, so it pays for nothing. Logged, because credits go unused.
        logger.warning("balance %s has no matching pool; its credits cannot be priced",
                       balance.id)
        benefits = ()
    return PoolBalance(
        pool_id=balance.id,
        available=balance.amount.available,
        reserved=balance.amount.reserved,
        # The balance carries the pool's status too, and it is the fresher of the two.
        # Values every member of a plan shares are kept once (sys.intern): each JSON answer
        # has its own copies, and a cached member would carry ~300 bytes of repeats.
        status=sys.intern(status),
        namespace=_once(info.namespace),
        plan_id=_once(info.external_program_definition_id),
        program_id=info.program_id,
        program_definition_id=_once(info.program_definition_id),
        benefits=benefits,
    )


def _once(text: str | None) -> str | None:
    return sys.intern(text) if text is not None else None
