"""In-memory state of one emulator instance: pools and balances, items, tokens, faults, calls,
latency and the webhook signing keys.

Every method here is synchronous. The app runs on one event loop, so a read-modify-write done
inside a single call cannot interleave with another request; that is the whole concurrency story.
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gate.credits.amounts import MAX_AMOUNT, parse_amount
from gate.tooling.emulator.errors import app_error, validation_error
from gate.tooling.emulator.faults import Fault
from gate.tooling.emulator.quirks import Quirks
from gate.tooling.emulator.records import BalanceRecord, TokenRecord
from gate.tooling.emulator.seed import (
    ID_NAMESPACE,
    EmulatorSeed,
    SeedBalance,
    SeedBenefit,
    SeedItem,
    SeedMember,
    format_amount,
)
from gate.tooling.emulator.shapes import balance_json
from gate.tooling.emulator.webhooks import WebhookKeys

__all__ = [
    "DEFAULT_TOKEN_LIFETIME",
    "TIMELINE_LIMIT",
    "BalanceRecord",
    "EmulatorState",
    "Fault",
    "Latency",
    "TokenRecord",
    "iso_now",
]

DEFAULT_TOKEN_LIFETIME = 14400  # Wix access tokens live 4 hours (reference §3)
TIMELINE_LIMIT = 100_000  # a long demo run must not grow the call timeline without bound
_SEED_LIFETIME = 365 * 24 * 3600  # fixed test tokens should never expire mid-run
# The largest balance the amount grammar can write; Wix's real limit is not documented.
_UPPER_LIMIT = MAX_AMOUNT


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Latency:
    """Added to every Wix call before it is answered: ``seconds`` plus up to ``jitter`` more."""

    seconds: float = 0.0
    jitter: float = 0.0

    def sample(self) -> float:
        return self.seconds + (random.uniform(0, self.jitter) if self.jitter else 0.0)


@dataclass
class EmulatorState:
    seed: EmulatorSeed
    api_key: str = field(repr=False)
    site_id: str
    clock: Callable[[], float] = time.monotonic
    # Made once per emulator and kept across resets: a receiver is configured with its public
    # half, like a real app's webhook key.
    webhook_keys: WebhookKeys = field(default_factory=WebhookKeys, repr=False)
    balances: dict[str, BalanceRecord] = field(default_factory=dict)
    items: dict[str, SeedItem] = field(default_factory=dict)
    tokens: dict[str, TokenRecord] = field(default_factory=dict, repr=False)
    calls: Counter[str] = field(default_factory=Counter)
    timeline: deque[tuple[str, float]] = field(
        default_factory=lambda: deque(maxlen=TIMELINE_LIMIT)
    )
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    quirks: Quirks = field(default_factory=Quirks)
    latency: Latency = field(default_factory=Latency)
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)
    generation: int = 0
    serial: int = 0

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the seed: pools, items, tokens, faults, quirks, latency, calls and idempotency
        keys. The webhook keys stay."""
        self.generation += 1
        self.serial = 0
        self.balances.clear()
        self.items.clear()
        self.tokens.clear()
        self.clear_calls()
        self.faults.clear()
        self.quirks = Quirks()
        self.latency = Latency()
        self.idempotency.clear()
        for item in self.seed.items:
            self.add_item(item)
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
        return str(uuid.uuid5(ID_NAMESPACE, f"{kind}:{self.generation}:{self.serial}"))

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

    # -- calls and faults ---------------------------------------------------------------------

    def record_call(self, route: str) -> None:
        """Count a call and stamp it with the clock, for per-route and per-window counts."""
        self.calls[route] += 1
        self.timeline.append((route, self.clock()))

    def clear_calls(self) -> None:
        self.calls.clear()
        self.timeline.clear()

    def calls_since(self, start: float) -> Counter[str]:
        """Calls per route stamped at or after ``start`` (a rolling window's left edge)."""
        return Counter(route for route, at in self.timeline if at >= start)

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

    # -- items --------------------------------------------------------------------------------

    def add_item(self, item: SeedItem) -> SeedItem:
        if item.id in self.items:
            raise app_error(409, "ALREADY_EXISTS", f"Item {item.id} already exists")
        if any(known.reference == item.reference for known in self.items.values()):
            raise app_error(409, "ALREADY_EXISTS", "Item already exists in this item set")
        self.items[item.id] = item
        return item

    def get_item(self, item_id: str) -> SeedItem:
        item = self.items.get(item_id)
        if item is None:
            raise app_error(404, "NOT_FOUND", "Item not found")
        return item

    def item_set_holds(
        self, item_set_id: str, external_id: str, provider_app_id: str, category: str
    ) -> bool:
        """Whether the item set contains the item that the reference names."""
        wanted = (item_set_id, provider_app_id, category, external_id)
        return any(item.reference == wanted for item in self.items.values())

    # -- pools and balances -------------------------------------------------------------------

    def add_balance(self, seed: SeedBalance) -> BalanceRecord:
        member = self.seed.find_member(seed.member)
        if member is None:
            raise validation_error("member", f"unknown member {seed.member!r}")
        if seed.id in self.balances:
            raise app_error(409, "ALREADY_EXISTS", f"Balance {seed.id} already exists")
        record = BalanceRecord.from_seed(seed, member.id, self._benefits_of(seed))
        self.balances[seed.id] = record
        return record

    def _benefits_of(self, seed: SeedBalance) -> list[SeedBenefit]:
        benefits = seed.benefits
        if "benefits" not in seed.model_fields_set and self.seed.defaultBenefits is not None:
            benefits = self.seed.defaultBenefits
        # A benefit without an item set gets one of its own per pool definition: Wix always
        # sends an itemSetId, and an item set nobody filled covers nothing.
        own = str(uuid.uuid5(ID_NAMESPACE, f"item-set:{seed.poolDefinitionId or seed.id}"))
        return [
            b if b.itemSetId is not None else b.model_copy(update={"itemSetId": own})
            for b in benefits
        ]

    def get_balance(self, pool_id: str) -> BalanceRecord:
        record = self.balances.get(pool_id)
        if record is None:
            raise app_error(404, "NOT_FOUND", "Balance not found")
        return record

    def get_pool(self, pool_id: str) -> BalanceRecord:
        record = self.balances.get(pool_id)
        if record is None:
            raise app_error(404, "NOT_FOUND", "Pool not found")
        return record

    def change_balance(self, pool_id: str, key: str, kind: str, value: Decimal) -> dict[str, Any]:
        """Apply an ADJUST or SET once per idempotency key; a replay gets the first result."""
        if key in self.idempotency:
            return self.idempotency[key]
        record = self.get_balance(pool_id)
        current = parse_amount(record.available, negative=True)
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
