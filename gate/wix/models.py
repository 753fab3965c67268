"""Pydantic models of the Wix payloads the gate reads: the validation boundary.

Only the fields the gate uses are declared; everything else Wix sends is ignored, so new
upstream fields never break the gate. Amounts are decimal strings and become ``Decimal``
here; a missing, empty or non-numeric amount fails validation instead of becoming zero.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

__all__ = [
    "AMOUNT_PATTERN",
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
    "StrictModel",
    "TokenInfo",
]


# Wix documents credits with at most 4 decimal places. With at most 11 whole digits too, every
# amount is exactly representable where conditions read it as a CEL double (15 digits).
AMOUNT_PATTERN = r"[+-]?\d{1,11}(\.\d{1,4})?"
_PLAIN_DECIMAL = re.compile(AMOUNT_PATTERN)


def _decimal_string(value: object) -> Decimal:
    # Wix sends credits as strings ("2.5", "0.0000", "7"). A JSON number would mean the
    # payload is not what the API documents, and a float must never reach the gate.
    if not isinstance(value, str):
        raise ValueError(f"expected a decimal string, got {type(value).__name__}")
    text = value.strip()
    # Plain notation only: "1e9", "NaN" or a 40-digit number is not a credit balance.
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise ValueError(f"{value[:40]!r} is not a plain decimal amount like \"2.5\"")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise ValueError(f"{value[:40]!r} is not a decimal number") from None


DecimalString = Annotated[Decimal, BeforeValidator(_decimal_string)]


class _WixModel(BaseModel):
    # Wix adds fields over time: ignore what the gate does not read, validate what it does.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class StrictModel(BaseModel):
    """The one strict config for data people write (seeds, static balances, admin bodies)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Beneficiary(_WixModel):
    member_id: str | None = Field(default=None, alias="memberId")
    wix_user_id: str | None = Field(default=None, alias="wixUserId")
    anonymous_visitor_id: str | None = Field(default=None, alias="anonymousVisitorId")


class BalanceAmount(_WixModel):
    available: DecimalString
    reserved: DecimalString


# Any upper-case enum name: Wix may add statuses, and an unknown one must not make every
# decision fail. The gate pays only from the statuses it knows (gate.balances).
PoolStatus = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,39}$")]


class PoolInfo(_WixModel):
    id: str = Field(min_length=1)
    status: PoolStatus
    namespace: str | None = None
    program_id: str | None = Field(default=None, alias="programId")
    program_definition_id: str | None = Field(default=None, alias="programDefinitionId")
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

