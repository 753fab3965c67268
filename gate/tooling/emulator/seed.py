"""The emulator's seed file: which members, visitors, items and pools exist when it starts.

Items put Bookings services into item sets; a pool's benefits name item sets and a price, so
the seed alone decides which member can pay for which service, and at what cost (reference §6).

The seed never holds the API key or the site id; those are arguments of ``create_emulator`` so
that no secret ever lives in a data file. Reading a seed file is ``seed_file``'s job.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    model_validator,
)

from gate.credits.amounts import parse_amount
from gate.credits.balances import BOOKINGS_APP_ID, PRICING_PLANS_NAMESPACE, KnownPoolStatus
from gate.strict import StrictModel

__all__ = [
    "BOOKINGS_APP_ID",
    "ID_NAMESPACE",
    "PRICING_PLANS_NAMESPACE",
    "Amount",
    "EmulatorSeed",
    "SeedBalance",
    "SeedBenefit",
    "SeedItem",
    "SeedMember",
    "SeedVisitor",
    "SignedAmount",
    "format_amount",
]

# The Wix Bookings app id: the provider of every benefit a class pack grants (reference §6).
# The Wix constants are the gate's own (gate.credits.balances): one definition for both sides.
# The namespace of every pool and item that Wix Pricing Plans provisions (reference §6).

# uuid5 namespace for every id the emulator derives, so derived ids are the same on every run.
ID_NAMESPACE = uuid.UUID("3f0c2a55-6d0e-4b8e-9a51-0c1e7d2b9a10")


def format_amount(value: Decimal) -> str:
    """Render a computed amount the way the emulator emits it: "2", "1.5", "0" (no exponent)."""
    if value == 0:
        return "0"  # also folds "-0" and "0.0000"
    return format(value.normalize(), "f")


# Seed amounts follow gate.credits.amounts' grammar as Wix writes it: no "+" sign, no spaces, and no
# minus either, except where noted. The text is kept verbatim: seeded "7.0000" is emitted as
# "7.0000".
def _check_amount(text: str) -> str:
    parse_amount(text)
    return text


def _check_signed_amount(text: str) -> str:
    # Only `available` may be negative: Wix never documents it, but a client must survive it.
    parse_amount(text, negative=True)
    return text


def _check_timestamp(text: str) -> str:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"must be an ISO-8601 timestamp, got {text!r}") from None
    return text


def _timestamp_to_text(value: Any) -> Any:
    # YAML's safe loader turns unquoted timestamps into datetimes; accept them as ISO strings.
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value


Amount = Annotated[str, AfterValidator(_check_amount)]
SignedAmount = Annotated[str, AfterValidator(_check_signed_amount)]
Timestamp = Annotated[str, BeforeValidator(_timestamp_to_text), AfterValidator(_check_timestamp)]
NonEmpty = Annotated[str, Field(min_length=1)]


# StrictModel is strict: a YAML `available: 2.5` is a float, and floats are how credits go wrong.
class SeedMember(StrictModel):
    name: NonEmpty
    id: NonEmpty
    email: NonEmpty
    nickname: str | None = None
    contactId: str | None = None
    createdDate: Timestamp = "2026-01-01T09:00:00.000Z"
    tokens: list[NonEmpty] = Field(default_factory=list)


class SeedVisitor(StrictModel):
    id: NonEmpty
    tokens: list[NonEmpty] = Field(default_factory=list)


class SeedBenefit(StrictModel):
    """One benefit of a pool: redeeming an item of ``itemSetId`` costs ``price`` credits."""

    benefitKey: NonEmpty = "classes"
    itemSetId: str | None = None  # None: an item set of its own, holding no item
    price: Amount = "1"
    providerAppId: NonEmpty = BOOKINGS_APP_ID
    displayName: str | None = None


class SeedItem(StrictModel):
    """A benefit item: one Bookings service inside one item set (reference §6).

    ``service`` is emitted as the item's ``externalId``. The same service may sit in several item
    sets (one per plan), as it does on a real site.
    """

    id: NonEmpty
    service: NonEmpty
    itemSetId: NonEmpty
    providerAppId: NonEmpty = BOOKINGS_APP_ID
    category: str = ""
    namespace: NonEmpty = PRICING_PLANS_NAMESPACE
    displayName: str | None = None
    createdDate: Timestamp = "2026-01-01T09:00:00.000Z"

    @model_validator(mode="before")
    @classmethod
    def _default_id(cls, data: Any) -> Any:
        # A seed names items by what they are; the id is derived so it is stable across runs.
        if isinstance(data, dict) and data.get("id") is None:
            parts = [data.get(k) for k in ("itemSetId", "providerAppId", "category", "service")]
            key = ":".join(str(part) for part in parts)
            data = {**data, "id": str(uuid.uuid5(ID_NAMESPACE, f"item:{key}"))}
        return data

    @property
    def reference(self) -> tuple[str, str, str, str]:
        """What makes an item unique in its set: set, provider, category, external id."""
        return (self.itemSetId, self.providerAppId, self.category, self.service)


class SeedBalance(StrictModel):
    """A pool and its balance, which share one id (reference §1)."""

    id: NonEmpty
    member: NonEmpty = Field(description="a seed member's name or id")
    available: SignedAmount = "0"
    reserved: Amount = "0"
    status: KnownPoolStatus = "ACTIVE"
    namespace: NonEmpty = PRICING_PLANS_NAMESPACE
    poolDefinitionId: str | None = None
    programDefinitionId: str | None = None
    externalProgramDefinitionId: str | None = None
    programId: str | None = None
    externalProgramId: str | None = None
    creditAmount: Amount | None = None
    displayName: str | None = None
    createdDate: Timestamp
    updatedDate: Timestamp | None = None
    revision: int = Field(default=1, ge=1)
    lastTransactionId: str | None = None
    # Left out: the seed's defaultBenefits, or else one 1-credit benefit covering nothing.
    benefits: list[SeedBenefit] = Field(default_factory=lambda: [SeedBenefit()], max_length=10)

    @model_validator(mode="after")
    def _check_benefit_keys(self) -> SeedBalance:
        _unique("benefits[].benefitKey", [b.benefitKey for b in self.benefits])
        return self


class EmulatorSeed(StrictModel):
    # Accepted and ignored: the site id is an argument of create_emulator, never file data.
    site_id: str | None = None
    members: list[SeedMember] = Field(default_factory=list)
    visitors: list[SeedVisitor] = Field(default_factory=list)
    items: list[SeedItem] = Field(default_factory=list)
    # The benefits of a pool that names none (in this file or through POST /_emulator/balances),
    # so a test can mint a pool that covers the seed's services without repeating item sets.
    defaultBenefits: list[SeedBenefit] | None = Field(default=None, min_length=1, max_length=10)
    balances: list[SeedBalance] = Field(default_factory=list)

    def find_member(self, name_or_id: str) -> SeedMember | None:
        """Look a member up by its short name or its id."""
        for member in self.members:
            if name_or_id in (member.name, member.id):
                return member
        return None

    @model_validator(mode="after")
    def _check_references(self) -> EmulatorSeed:
        _unique("members[].name", [m.name for m in self.members])
        _unique("members[].id", [m.id for m in self.members] + [v.id for v in self.visitors])
        _unique("balances[].id", [b.id for b in self.balances])
        _unique("items[].id", [i.id for i in self.items])
        _unique("items[] (itemSetId, providerAppId, category, service)",
                [":".join(i.reference) for i in self.items])
        tokens = [t for m in self.members for t in m.tokens]
        _unique("tokens", tokens + [t for v in self.visitors for t in v.tokens])
        if self.defaultBenefits is not None:
            _unique("defaultBenefits[].benefitKey", [b.benefitKey for b in self.defaultBenefits])
        for index, balance in enumerate(self.balances):
            if self.find_member(balance.member) is None:
                raise ValueError(f"balances.{index}.member: unknown member {balance.member!r}")
        self._check_item_sets()
        return self

    def _check_item_sets(self) -> None:
        # A seed without items predates them: its item set ids cannot be checked. With items, a
        # benefit naming an empty item set is almost surely a typo that would silently cover
        # nothing, so it is refused.
        if not self.items:
            return
        known = {item.itemSetId for item in self.items}
        named = [(f"balances.{i}.benefits", b.benefits) for i, b in enumerate(self.balances)]
        named.append(("defaultBenefits", self.defaultBenefits or []))
        for where, benefits in named:
            for index, benefit in enumerate(benefits):
                if benefit.itemSetId is not None and benefit.itemSetId not in known:
                    raise ValueError(
                        f"{where}.{index}.itemSetId: no item is in item set {benefit.itemSetId!r}"
                    )


def _unique(field: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field}: duplicate value {value!r}")
        seen.add(value)
