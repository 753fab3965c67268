"""Balances from Wix Benefit Programs: ``POST /benefit-programs/v1/balances/query``."""

from __future__ import annotations

from collections.abc import Callable, Collection

from gate.balances import BalanceSnapshot, PoolBalance
from gate.errors import UpstreamDataError
from gate.wix.client import WixClient
from gate.wix.models import Balance

__all__ = ["WixBalanceSource"]


class WixBalanceSource:
    """Reads every balance of a member and keeps the pools the studio's plans own.

    Wix cannot filter balances by namespace or program on the server (only by member), so
    ``namespaces`` and ``programs`` filter here, after validation.
    """

    def __init__(
        self,
        client: WixClient,
        *,
        site_id: str,
        clock: Callable[[], float],
        namespaces: Collection[str] | None = ("@wix/pricing-plans",),
        programs: Collection[str] | None = None,
        counted_statuses: Collection[str] = ("ACTIVE",),
    ) -> None:
        self._client = client
        self._clock = clock
        self._namespaces = frozenset(namespaces) if namespaces else None
        self._programs = frozenset(programs) if programs else None
        self._counted = frozenset(counted_statuses)
        self.key = f"wix:{site_id}"

    def __repr__(self) -> str:
        return f"WixBalanceSource(key={self.key!r}, client={self._client!r})"

    async def fetch(self, member_id: str) -> BalanceSnapshot:
        balances = await self._client.query_balances(member_id)
        pools = tuple(
            _pool(b) for b in balances if self._wanted(b) and _belongs_to(b, member_id)
        )
        return BalanceSnapshot(
            member_id=member_id,
            pools=pools,
            fetched_at=self._clock(),
            source=self.key,
            counted_statuses=self._counted,
        )

    async def aclose(self) -> None:
        return None

    def _wanted(self, balance: Balance) -> bool:
        info = balance.pool_info
        if self._namespaces is not None and info.namespace not in self._namespaces:
            return False
        if self._programs is None:
            return True
        return bool(
            {info.program_definition_id, info.external_program_definition_id} & self._programs
        )


def _belongs_to(balance: Balance, member_id: str) -> bool:
    # The query filtered by member; a balance for someone else means the upstream answer
    # cannot be trusted, and counting it could open the gate for the wrong person.
    if balance.beneficiary.member_id != member_id:
        raise UpstreamDataError(
            f"balance {balance.id} belongs to another beneficiary than the member queried"
        )
    return True


def _pool(balance: Balance) -> PoolBalance:
    info = balance.pool_info
    return PoolBalance(
        pool_id=balance.id,
        available=balance.amount.available,
        reserved=balance.amount.reserved,
        status=info.status,
        namespace=info.namespace,
        plan_id=info.external_program_definition_id,
        program_id=info.program_id,
        program_definition_id=info.program_definition_id,
    )
