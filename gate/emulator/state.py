"""In-memory state of one emulator instance, and the Wix JSON shapes built from it.

Every method here is synchronous. The app runs on one event loop, so a read-modify-write done
inside a single call cannot interleave with another request; that is the whole concurrency story.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gate.emulator.seed import EmulatorSeed, SeedBalance, SeedMember, format_amount, parse_amount

__all__ = [
    "DEFAULT_TOKEN_LIFETIME",
    "ApiError",
    "BalanceRecord",
    "EmulatorState",
    "Fault",
    "TokenRecord",
    "app_error",
    "balance_json",
    "iso_now",
    "member_json",
    "pool_json",
    "validation_error",
]

DEFAULT_TOKEN_LIFETIME = 14400  # Wix access tokens live 4 hours (reference §3)
_SEED_LIFETIME = 365 * 24 * 3600  # fixed test tokens should never expire mid-run
_UPPER_LIMIT = Decimal("999999999999999")  # keeps sums exact within Decimal's precision
_IDS = uuid.UUID("3f0c2a55-6d0e-4b8e-9a51-0c1e7d2b9a10")  # namespace for deterministic ids


class ApiError(Exception):
    """An HTTP error with a Wix-shaped JSON body; the app turns it into a response."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def app_error(
    status: int, code: str, message: str, *, description: str | None = None, data: Any = None
) -> ApiError:
    """The standard ``applicationError`` envelope (reference §1b)."""
    details = {
        "code": code,
        "description": message if description is None else description,
        "data": data or {},
    }
    return ApiError(status, {"message": message, "details": {"applicationError": details}})


def validation_error(field_name: str, description: str, rule: str = "FORMAT") -> ApiError:
    """A 400 with the ``validationError`` envelope naming the offending field."""
    violation = {"field": field_name, "description": description, "violatedRule": rule, "data": {}}
    body = {
        "message": f"{field_name}: {description}",
        "details": {"validationError": {"fieldViolations": [violation]}},
    }
    return ApiError(400, body)


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class BalanceRecord:
    """One pool and its balance (they share an id). Amounts are kept as the text to emit."""

    seed: SeedBalance
    member_id: str
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
    def from_seed(cls, seed: SeedBalance, member_id: str) -> BalanceRecord:
        updated = seed.updatedDate or seed.createdDate
        return cls(
            seed=seed,
            member_id=member_id,
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


@dataclass
class Fault:
    """A canned response for one route. ``status`` None means: only delay the real answer."""

    status: int | None
    body: str = ""
    content_type: str = "application/json"
    remaining: int | None = 1  # None: until cleared
    delay: float = 0.0

    def describe(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "body": self.body,
            "contentType": self.content_type,
            "times": self.remaining,
            "delay": self.delay,
        }


@dataclass
class EmulatorState:
    seed: EmulatorSeed
    api_key: str = field(repr=False)
    site_id: str
    balances: dict[str, BalanceRecord] = field(default_factory=dict)
    tokens: dict[str, TokenRecord] = field(default_factory=dict, repr=False)
    calls: Counter[str] = field(default_factory=Counter)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)
    generation: int = 0
    serial: int = 0

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the seed: balances, tokens, faults, call counts and idempotency keys."""
        self.generation += 1
        self.serial = 0
        self.balances.clear()
        self.tokens.clear()
        self.calls.clear()
        self.faults.clear()
        self.idempotency.clear()
        for balance in self.seed.balances:
            self.add_balance(balance)
        subjects = [("MEMBER", m.id, m.tokens) for m in self.seed.members]
        subjects += [("VISITOR", v.id, v.tokens) for v in self.seed.visitors]
        for subject_type, subject_id, tokens in subjects:
            for token in tokens:
                self.tokens[token] = self._token_record(subject_type, subject_id, _SEED_LIFETIME)

    def next_id(self, kind: str) -> str:
        """A fresh GUID that is the same on every run with the same sequence of calls."""
        self.serial += 1
        return str(uuid.uuid5(_IDS, f"{kind}:{self.generation}:{self.serial}"))

    # -- members and tokens -------------------------------------------------------------------

    def mint_token(self, subject_type: str, subject_id: str, expires_in: int) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = self._token_record(subject_type, subject_id, expires_in)
        return token

    @staticmethod
    def _token_record(subject_type: str, subject_id: str, lifetime: int) -> TokenRecord:
        now = int(time.time())
        return TokenRecord(subject_type, subject_id, iat=now, exp=now + lifetime)

    def live_token(self, token: str) -> TokenRecord | None:
        """The token's record, or None when it is unknown or expired."""
        record = self.tokens.get(token)
        return None if record is None or record.expired() else record

    def member_by_id(self, member_id: str) -> SeedMember | None:
        return next((m for m in self.seed.members if m.id == member_id), None)

    # -- faults and call counts ---------------------------------------------------------------

    def add_fault(self, route: str, fault: Fault) -> None:
        self.faults.setdefault(route, []).append(fault)

    def take_fault(self, route: str) -> Fault | None:
        """Consume one use of the oldest fault armed on ``route``."""
        queue = self.faults.get(route)
        if not queue:
            return None
        fault = queue[0]
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
        return fault

    # -- balances -----------------------------------------------------------------------------

    def add_balance(self, seed: SeedBalance) -> BalanceRecord:
        member = self.seed.find_member(seed.member)
        if member is None:
            raise validation_error("member", f"unknown member {seed.member!r}")
        if seed.id in self.balances:
            raise app_error(409, "ALREADY_EXISTS", f"Balance {seed.id} already exists")
        record = BalanceRecord.from_seed(seed, member.id)
        self.balances[seed.id] = record
        return record

    def get_balance(self, pool_id: str) -> BalanceRecord:
        record = self.balances.get(pool_id)
        if record is None:
            raise app_error(404, "NOT_FOUND", "Balance not found")
        return record

    def change_balance(self, pool_id: str, key: str, kind: str, value: Decimal) -> dict[str, Any]:
        """Apply an ADJUST or SET once per idempotency key; a replay gets the first result."""
        if key in self.idempotency:
            return self.idempotency[key]
        record = self.get_balance(pool_id)
        current = parse_amount(record.available, signed=True)
        target = current + value if kind == "ADJUST" else value
        if target < 0 or target > _UPPER_LIMIT:
            raise app_error(
                428,
                "BALANCE_EXCEEDED_LIMITS",
                "Balance exceeded limits",
                data={
                    "balance": {"available": record.available, "reserved": record.reserved},
                    "requested": format_amount(value),
                    "lowerLimit": "0",
                    "upperLimit": format_amount(_UPPER_LIMIT),
                },
            )
        transaction_id = self.next_id("transaction")
        record.available = format_amount(target)
        record.last_transaction_id = transaction_id
        self._touch(record)
        result = {"balance": balance_json(record), "transactionId": transaction_id}
        self.idempotency[key] = result
        return result

    def patch_balance(
        self, pool_id: str, available: str | None, reserved: str | None, status: str | None
    ) -> BalanceRecord:
        """Admin edit: amounts are stored verbatim, like seeded ones."""
        record = self.get_balance(pool_id)
        record.available = available if available is not None else record.available
        record.reserved = reserved if reserved is not None else record.reserved
        if status is not None and status != record.status:
            record.status = status
            record.pool_revision += 1
            record.pool_updated_date = iso_now()
        self._touch(record)
        return record

    @staticmethod
    def _touch(record: BalanceRecord) -> None:
        record.revision += 1
        record.updated_date = iso_now()


# -- Wix JSON shapes ----------------------------------------------------------------------------


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    # Optional Wix fields are absent rather than null when the pool has no value for them.
    return {key: value for key, value in values.items() if value is not None}


def balance_json(record: BalanceRecord) -> dict[str, Any]:
    """A Balance in REST names (reference §1)."""
    seed = record.seed
    pool_info = _compact(
        {
            "id": seed.id,
            "poolDefinitionId": seed.poolDefinitionId,
            "programDefinitionId": seed.programDefinitionId,
            "programId": seed.programId,
            "creditAmount": seed.creditAmount,
            "namespace": seed.namespace,
            "externalProgramDefinitionId": seed.externalProgramDefinitionId,
            "externalProgramId": seed.externalProgramId,
            "creditRolloverConfiguration": {"enabled": False},
            "status": record.status,
        }
    )
    balance = {
        "id": seed.id,
        "revision": str(record.revision),
        "createdDate": seed.createdDate,
        "updatedDate": record.updated_date,
        "beneficiary": {"memberId": record.member_id},
        "amount": {"available": record.available, "reserved": record.reserved},
        "poolInfo": pool_info,
        "lastTransactionId": record.last_transaction_id,
    }
    return _compact(balance)


def pool_json(record: BalanceRecord) -> dict[str, Any]:
    """A Pool in REST names (reference §2). It carries no balance, exactly like Wix."""
    seed = record.seed
    item_set_default = str(uuid.uuid5(_IDS, f"item-set:{seed.poolDefinitionId or seed.id}"))
    benefits = [
        _compact(
            {
                "benefitKey": benefit.benefitKey,
                "itemSetId": benefit.itemSetId or item_set_default,
                "price": benefit.price,
                "providerAppId": benefit.providerAppId,
                "displayName": benefit.displayName,
            }
        )
        for benefit in seed.benefits
    ]
    details: dict[str, Any] = {"benefits": benefits}
    if seed.creditAmount is not None:  # no creditConfiguration means an unlimited plan
        details["creditConfiguration"] = {
            "amount": seed.creditAmount,
            "rolloverConfiguration": {"enabled": False},
        }
    pool = {
        "id": seed.id,
        "revision": str(record.pool_revision),
        "createdDate": seed.createdDate,
        "updatedDate": record.pool_updated_date,
        "poolDefinitionId": seed.poolDefinitionId,
        "programDefinitionId": seed.programDefinitionId,
        "programId": seed.programId,
        "status": record.status,
        "beneficiary": {"memberId": record.member_id},
        "details": details,
        "displayName": seed.displayName,
        "namespace": seed.namespace,
        "programDefinition": _compact(
            {
                "id": seed.programDefinitionId,
                "externalId": seed.externalProgramDefinitionId,
                "displayName": seed.displayName,
            }
        ),
        "program": _compact(
            {
                "id": seed.programId,
                "externalId": seed.externalProgramId,
                "displayName": seed.displayName,
            }
        ),
        "renewalCount": 0,
    }
    return _compact(pool)


def member_json(member: SeedMember, fieldsets: set[str]) -> dict[str, Any]:
    """A Member as GetMyMember returns it; PUBLIC (the default) hides email and statuses."""
    nickname = member.nickname or member.name.capitalize()
    contact_id = member.contactId or str(uuid.uuid5(_IDS, f"contact:{member.id}"))
    result: dict[str, Any] = {
        "id": member.id,
        "contactId": contact_id,
        "profile": {
            "nickname": nickname,
            "slug": member.name,
            "photo": {"id": "", "url": "", "height": 0, "width": 0},
            "title": None,
        },
        "status": "UNKNOWN",
        "privacyStatus": "UNKNOWN",
        "activityStatus": "UNKNOWN",
        "createdDate": member.createdDate,
        "updatedDate": member.createdDate,
    }
    if fieldsets & {"EXTENDED", "FULL"}:
        result.update(
            loginEmail=member.email,
            loginEmailVerified=True,
            status="APPROVED",
            privacyStatus="PUBLIC",
            activityStatus="ACTIVE",
        )
    if "FULL" in fieldsets:
        result["contact"] = {
            "firstName": nickname,
            "lastName": "",
            "phones": [],
            "emails": [member.email],
            "addresses": [],
            "customFields": {},
        }
    return result
