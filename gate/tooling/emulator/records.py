"""The records behind the emulator's state: a pool with its balance, and an access token."""

from __future__ import annotations

import time
from dataclasses import dataclass

from gate.tooling.emulator.seed import SeedBalance, SeedBenefit

__all__ = ["BalanceRecord", "TokenRecord"]


@dataclass
class BalanceRecord:
    """One pool and its balance (they share an id). Amounts are kept as the text to emit.

    ``benefits`` are the seed's, with every item set id resolved, so the pool JSON and the
    eligibility check can never disagree about which item set a benefit covers.
    """

    seed: SeedBalance
    member_id: str
    benefits: list[SeedBenefit]
    available: str
    reserved: str
    status: str
    revision: int
    updated_date: str
    last_transaction_id: str | None
    pool_revision: int = 1
    pool_updated_date: str = ""

    @property
    def id(self) -> str:
        return self.seed.id

    @classmethod
    def from_seed(
        cls, seed: SeedBalance, member_id: str, benefits: list[SeedBenefit]
    ) -> BalanceRecord:
        updated = seed.updatedDate or seed.createdDate
        return cls(
            seed=seed,
            member_id=member_id,
            benefits=benefits,
            available=seed.available,
            reserved=seed.reserved,
            status=seed.status,
            revision=seed.revision,
            updated_date=updated,
            last_transaction_id=seed.lastTransactionId,
            pool_updated_date=updated,
        )


@dataclass(frozen=True)
class TokenRecord:
    subject_type: str  # "MEMBER" or "VISITOR"
    subject_id: str
    iat: int
    exp: int

    def expired(self) -> bool:
        return time.time() >= self.exp
