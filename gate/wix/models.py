"""Pydantic models of the Wix payloads the gate reads: the validation boundary.

Only the fields the gate uses are declared; everything else Wix sends is ignored, so new
upstream fields never break the gate. Amounts are decimal strings and become ``Decimal``
here; a missing, empty or non-numeric amount fails validation instead of becoming zero.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from gate.credits.amounts import parse_amount
from gate.credits.balances import POOL_STATUS_PATTERN

__all__ = [
    "Balance",
    "BalanceAmount",
    "Beneficiary",
    "DecimalString",
    "Item",
    "PagingMetadata",
    "Pool",
    "PoolBenefit",
    "PoolInfo",
    "PoolStatus",
    "QueryBalancesResponse",
    "QueryItemsResponse",
    "QueryPoolsResponse",
    "TokenInfo",
]


def _decimal_string(value: object) -> Decimal:
    # Wix sends credits as strings ("2.5", "0.0000", "7"). A JSON number would mean the
    # payload is not what the API documents, and a float must never reach the gate. Reading
    # upstream data, surrounding spaces and either sign are tolerated; the grammar is
    # gate.credits.amounts' (plain notation, at most 4 decimal places).
    text = value.strip() if isinstance(value, str) else value
    return parse_amount(text, negative=True, plus=True)


DecimalString = Annotated[Decimal, BeforeValidator(_decimal_string)]


class _WixModel(BaseModel):
    # Wix adds fields over time: ignore what the gate does not read, validate what it does.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Beneficiary(_WixModel):
    member_id: str | None = Field(default=None, alias="memberId")
    wix_user_id: str | None = Field(default=None, alias="wixUserId")
    anonymous_visitor_id: str | None = Field(default=None, alias="anonymousVisitorId")


class BalanceAmount(_WixModel):
    available: DecimalString
    reserved: DecimalString


#: A pool status as Wix sends it: deliberately *not* the known list. Wix may add statuses, and an
#: unknown one must not make every decision fail, so any upper-case enum name is accepted here
#: (``gate.credits.balances.POOL_STATUS_PATTERN``). The statuses Wix documents are defined once,
#: in ``gate.credits.balances.KnownPoolStatus`` / ``KNOWN_POOL_STATUSES``; only the spendable ones
#: among them pay (``SPENDABLE_STATUSES``), and an unknown one is kept, shown to rules, and
#: never pays.
PoolStatus = Annotated[str, Field(pattern=f"^{POOL_STATUS_PATTERN}$")]


class PoolInfo(_WixModel):
    id: str = Field(min_length=1)
    status: PoolStatus
    namespace: str | None = None
    program_id: str | None = Field(default=None, alias="programId")
    program_definition_id: str | None = Field(default=None, alias="programDefinitionId")
    pool_definition_id: str | None = Field(default=None, alias="poolDefinitionId")
    external_program_definition_id: str | None = Field(
        default=None, alias="externalProgramDefinitionId"
    )


class Balance(_WixModel):
    id: str = Field(min_length=1)
    beneficiary: Beneficiary
    amount: BalanceAmount
    pool_info: PoolInfo = Field(alias="poolInfo")


class PoolBenefit(_WixModel):
    item_set_id: str = Field(alias="itemSetId", min_length=1)
    price: DecimalString
    provider_app_id: str | None = Field(default=None, alias="providerAppId")
    benefit_key: str | None = Field(default=None, alias="benefitKey")


class PoolDetails(_WixModel):
    benefits: list[PoolBenefit] | None = None


class Pool(_WixModel):
    id: str = Field(min_length=1)
    status: PoolStatus
    beneficiary: Beneficiary
    namespace: str | None = None
    details: PoolDetails | None = None
    program_id: str | None = Field(default=None, alias="programId")
    pool_definition_id: str | None = Field(default=None, alias="poolDefinitionId")


class Item(_WixModel):
    id: str | None = None
    external_id: str = Field(alias="externalId", min_length=1)
    item_set_id: str = Field(alias="itemSetId", min_length=1)
    provider_app_id: str | None = Field(default=None, alias="providerAppId")


class Cursors(_WixModel):
    next: str | None = None
    prev: str | None = None


class PagingMetadata(_WixModel):
    count: int | None = None
    # null and absent both mean "no cursor" (reference §1: Wix may do either).
    cursors: Cursors | None = None
    has_next: bool | None = Field(default=None, alias="hasNext")

    @property
    def next_cursor(self) -> str | None:
        return self.cursors.next if self.cursors and self.cursors.next else None


class _Page(_WixModel):
    metadata: PagingMetadata | None = None

    @property
    def next_cursor(self) -> str | None:
        return self.metadata.next_cursor if self.metadata else None


class QueryBalancesResponse(_Page):
    # Wix omits empty repeated fields in JSON, so a member with no pools may get no key.
    balances: list[Balance] | None = None


class QueryPoolsResponse(_Page):
    pools: list[Pool] | None = None


class QueryItemsResponse(_Page):
    items: list[Item] | None = None


class TokenInfo(_WixModel):
    # Strict: "yes" or 1 is not what Wix documents, and must never read as an active member.
    active: StrictBool
    subject_type: str | None = Field(default=None, alias="subjectType")
    subject_id: str | None = Field(default=None, alias="subjectId")
    site_id: str | None = Field(default=None, alias="siteId")
    exp: int | None = None

