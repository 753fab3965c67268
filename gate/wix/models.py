"""Pydantic models of the Wix payloads the gate reads: the validation boundary.

Only the fields the gate uses are declared; everything else Wix sends is ignored, so new
upstream fields never break the gate. Amounts are decimal strings and become ``Decimal``
here; a missing, empty or non-numeric amount fails validation instead of becoming zero.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "AMOUNT_PATTERN",
    "Balance",
    "BalanceAmount",
    "Beneficiary",
    "Member",
    "MyMemberResponse",
    "PagingMetadata",
    "PoolInfo",
    "QueryBalancesResponse",
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
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Beneficiary(_WixModel):
    member_id: str | None = Field(default=None, alias="memberId")
    wix_user_id: str | None = Field(default=None, alias="wixUserId")
    anonymous_visitor_id: str | None = Field(default=None, alias="anonymousVisitorId")


class BalanceAmount(_WixModel):
    available: DecimalString
    reserved: DecimalString


PoolStatus = Literal["ACTIVE", "PAUSED", "ENDED", "PROVISIONING", "RENEWING", "PENDING"]


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


class Cursors(_WixModel):
    next: str | None = None
    prev: str | None = None


class PagingMetadata(_WixModel):
    count: int | None = None
    cursors: Cursors = Cursors()
    has_next: bool = Field(default=False, alias="hasNext")


class QueryBalancesResponse(_WixModel):
    # Wix omits empty repeated fields in JSON, so a member with no pools may get no key.
    balances: list[Balance] = []
    metadata: PagingMetadata = PagingMetadata()


class TokenInfo(_WixModel):
    active: bool
    subject_type: str | None = Field(default=None, alias="subjectType")
    subject_id: str | None = Field(default=None, alias="subjectId")
    site_id: str | None = Field(default=None, alias="siteId")
    exp: int | None = None


class Member(_WixModel):
    id: str = Field(min_length=1)
    status: str | None = None


class MyMemberResponse(_WixModel):
    member: Member
