"""A member's credits as the gate sees them: one snapshot of every pool, in ``Decimal``.

Sources build these from upstream payloads once per fetch; the cache stores them; policies
read the summary (``available``, ``status``, ...) that is computed here once, not per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["POOL_STATUSES", "BalanceSnapshot", "PoolBalance"]

#: Wix pool statuses, from the Balance object's ``poolInfo.status`` enum.
POOL_STATUSES = ("ACTIVE", "PAUSED", "ENDED", "PROVISIONING", "RENEWING", "PENDING")

# When a member holds several pools, the summary status is the most useful one to a rule:
# any ACTIVE pool means they can book; otherwise PAUSED explains why they cannot.
_STATUS_PRIORITY = ("ACTIVE", "PAUSED", "RENEWING", "PROVISIONING", "PENDING", "ENDED")
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PoolBalance:
    """The balance of one pool (one plan a member bought)."""

    pool_id: str
    available: Decimal
    reserved: Decimal
    status: str
    namespace: str | None = None
    plan_id: str | None = None
    program_id: str | None = None
    program_definition_id: str | None = None


@dataclass(frozen=True, slots=True)
class BalanceSnapshot:
    """Every pool of one member at one moment, plus the summary policies read.

    ``available`` and ``reserved`` add up only pools whose status is in ``counted_statuses``
    (ACTIVE by default): credits in an ENDED or PAUSED pool cannot pay for a booking.
    """

    member_id: str
    pools: tuple[PoolBalance, ...]
    fetched_at: float
    source: str
    counted_statuses: frozenset[str] = frozenset({"ACTIVE"})
    available: Decimal = field(init=False)
    reserved: Decimal = field(init=False)
    status: str = field(init=False)
    has_plan: bool = field(init=False)

    def __post_init__(self) -> None:
        counted = [p for p in self.pools if p.status in self.counted_statuses]
        present = {p.status for p in self.pools}
        status = next((s for s in _STATUS_PRIORITY if s in present), None)
        if status is None:
            status = min(present) if present else "NONE"
        # Frozen dataclass: derived fields are set once here, then never change.
        object.__setattr__(self, "available", sum((p.available for p in counted), _ZERO))
        object.__setattr__(self, "reserved", sum((p.reserved for p in counted), _ZERO))
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "has_plan", any(p.status != "ENDED" for p in self.pools))
