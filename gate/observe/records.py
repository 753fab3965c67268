"""A decision as one JSON record, and back: the decision log's format, in one place.

``record_from_event`` turns a ``DecisionEvent`` into the plain dict the decision log writes
(on its writer thread, never on the event loop). ``parse_record`` reads one line back and
validates it; ``facts_from_record`` rebuilds the ``Facts`` the rules saw, so ``booking-gate
replay`` can ask another policy set the same question. docs/decision-log.md describes every
field.

What a record holds is what the rules read, and nothing that proves who someone is: the
member id and *how* they were identified (``via``), never a token, a cookie or a secret.
Credits are written as decimal strings (``"2.5"``) and read back as ``Decimal``: a JSON number
is refused, because a float is how credits go wrong.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from gate.credits.balances import BalanceSnapshot, Benefit, PoolBalance, ServiceInfo
from gate.identity.base import Identity
from gate.observe.events import DecisionEvent
from gate.policy.context import Facts
from gate.policy.decision import Decision, Outcome

__all__ = [
    "SCHEMA",
    "DecisionRecord",
    "RecordError",
    "decision_from_record",
    "facts_from_record",
    "parse_record",
    "record_from_event",
]

#: The record format's version. It changes when a field changes meaning or goes away; new
#: fields may appear without it changing, and readers ignore fields they do not know.
SCHEMA = 1


# -- writing -----------------------------------------------------------------------------------

def _amount(value: Decimal) -> str:
    # Plain notation, exactly the value: "2.5", never 2.5 and never "2.5E+0".
    return format(value, "f")


def _pool(pool: PoolBalance) -> dict[str, Any]:
    return {
        "id": pool.pool_id,
        "status": pool.status,
        "available": _amount(pool.available),
        "reserved": _amount(pool.reserved),
        "namespace": pool.namespace,
        "plan": pool.plan_id,
        "program": pool.program_id,
        "program_definition": pool.program_definition_id,
        # None (the source knows no benefits) and [] (pays for nothing) mean different things.
        "benefits": None if pool.benefits is None else [
            {"item_set": b.item_set_id, "price": _amount(b.price), "provider": b.provider_app_id}
            for b in pool.benefits
        ],
    }


def _inputs(facts: Facts) -> dict[str, Any]:
    balance, service, identity = facts.balance, facts.service, facts.identity
    return {
        "identity": {"member": identity.member_id, "via": identity.via,
                     "ambiguity": identity.ambiguity},
        "now": facts.now.isoformat(),
        "today": facts.today,
        "balance_age": facts.balance_age,
        "data": facts.data,
        "service": {
            "id": service.id,
            "known": service.known,
            "item_sets": sorted(service.item_sets),
            "fixed_cost": None if service.fixed_cost is None else _amount(service.fixed_cost),
        },
        "balance": None if balance is None else {
            "member": balance.member_id,
            "source": balance.source,
            "pools": [_pool(p) for p in balance.pools],
        },
    }


def record_from_event(event: DecisionEvent, at: dt.datetime) -> dict[str, Any]:
    """The JSON-ready record of one decision; ``at`` is when it was made."""
    decision, outcome = event.decision, event.decision.outcome
    return {
        "schema": SCHEMA,
        "at": at.isoformat(),
        "policy": decision.policy_version,
        "member": decision.member_id,
        "service": event.service_id,
        "path": event.path,
        "method": event.method,
        "outcome": {
            "action": outcome.action,
            "status": outcome.status,
            "location": outcome.location,
            "reason": outcome.reason,
            "return_to": outcome.return_to,
            "rule": decision.rule,
            "shadow": list(decision.shadow),
            "error_kind": decision.error_kind,
            "cause": decision.cause,
        },
        "inputs": None if event.facts is None else _inputs(event.facts),
        "elapsed_ms": round(event.elapsed * 1000, 3),
        "cached": event.cached,
    }


# -- reading -----------------------------------------------------------------------------------

def _credits(value: object) -> Decimal:
    if not isinstance(value, str):
        raise ValueError("credits must be a decimal string, like \"2.5\"")  # never a float
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite number of credits")
    return amount


Credits = Annotated[Decimal, BeforeValidator(_credits)]


class _Record(BaseModel):
    # Fields added later without a schema change are ignored, as the format promises.
    model_config = ConfigDict(extra="ignore", frozen=True)


class BenefitRecord(_Record):
    item_set: StrictStr
    price: Credits
    provider: StrictStr


class PoolRecord(_Record):
    id: StrictStr
    status: StrictStr
    available: Credits
    reserved: Credits
    namespace: StrictStr | None
    plan: StrictStr | None
    program: StrictStr | None = None
    program_definition: StrictStr | None = None
    benefits: list[BenefitRecord] | None


class BalanceRecord(_Record):
    member: StrictStr
    source: StrictStr
    pools: list[PoolRecord]


class ServiceRecord(_Record):
    id: StrictStr
    known: StrictBool
    item_sets: list[StrictStr]
    fixed_cost: Credits | None


class IdentityRecord(_Record):
    member: StrictStr | None
    via: StrictStr
    ambiguity: StrictStr | None = None


class InputsRecord(_Record):
    identity: IdentityRecord
    now: dt.datetime
    today: StrictStr
    balance_age: StrictFloat | StrictInt = Field(ge=0)
    data: StrictStr
    service: ServiceRecord
    balance: BalanceRecord | None


class OutcomeRecord(_Record):
    action: Literal["allow", "redirect", "deny"]
    status: StrictInt
    location: StrictStr | None
    reason: StrictStr | None
    return_to: StrictBool = False
    rule: StrictStr
    shadow: list[StrictStr] = []
    error_kind: StrictStr | None
    cause: Literal["upstream", "identity", "rule", "config"] | None


class DecisionRecord(_Record):
    """One line of the decision log, validated."""

    schema_: Literal[1] = Field(alias="schema")
    at: dt.datetime
    policy: StrictStr
    member: StrictStr | None
    service: StrictStr
    path: StrictStr
    method: StrictStr
    outcome: OutcomeRecord
    #: None when the decision failed before the facts were gathered (identity, upstream).
    inputs: InputsRecord | None


class RecordError(ValueError):
    """A line that is not a decision record this version can read; ``kind`` says why:
    ``unreadable`` (not a JSON object), ``schema`` (another format version) or ``invalid``."""

    def __init__(self, kind: Literal["unreadable", "schema", "invalid"], message: str) -> None:
        super().__init__(message)
        self.kind = kind


def parse_record(line: str | bytes) -> DecisionRecord:
    """One log line as a record, or RecordError saying why it is not one."""
    try:
        data = json.loads(line)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        raise RecordError("unreadable", "not a JSON line") from None
    if not isinstance(data, dict) or "schema" not in data:
        raise RecordError("unreadable", "not a decision record (no \"schema\" field)")
    if data["schema"] != SCHEMA:
        # Checked before the rest: a newer format is "another version", not "broken".
        raise RecordError("schema", f"schema {data['schema']!r}, this version reads {SCHEMA}")
    try:
        return DecisionRecord.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise RecordError("invalid", f"{where}: {first['msg']}") from None


def _pool_balance(pool: PoolRecord) -> PoolBalance:
    return PoolBalance(
        pool_id=pool.id, available=pool.available, reserved=pool.reserved, status=pool.status,
        namespace=pool.namespace, plan_id=pool.plan, program_id=pool.program,
        program_definition_id=pool.program_definition,
        benefits=None if pool.benefits is None else tuple(
            Benefit(b.item_set, b.price, b.provider) for b in pool.benefits),
    )


def facts_from_record(
    record: DecisionRecord, today: Callable[[dt.datetime], str] | None = None
) -> Facts | None:
    """The Facts the rules saw, rebuilt from ``record``; None when it has no inputs.

    ``today`` works out the date from the time, as the policy set being asked does (its
    ``timezone`` may differ from the one in force when the record was written); without it,
    the logged date is kept.
    """
    inputs = record.inputs
    if inputs is None:
        return None
    balance = None if inputs.balance is None else BalanceSnapshot(
        member_id=inputs.balance.member,
        pools=tuple(_pool_balance(p) for p in inputs.balance.pools),
        # The age is logged itself (balance_age); this monotonic reading is never looked at.
        fetched_at=0.0,
        source=inputs.balance.source,
    )
    service = ServiceInfo(inputs.service.id, known=inputs.service.known,
                          item_sets=frozenset(inputs.service.item_sets),
                          fixed_cost=inputs.service.fixed_cost)
    identity = Identity(inputs.identity.member, inputs.identity.via, inputs.identity.ambiguity)
    return Facts(
        identity=identity, balance=balance, service=service, path=record.path,
        method=record.method, now=inputs.now,
        today=today(inputs.now) if today is not None else inputs.today,
        balance_age=float(inputs.balance_age), data=inputs.data,
    )


def decision_from_record(record: DecisionRecord) -> Decision:
    """The logged decision, as far as a record keeps it (no message, no error text)."""
    out = record.outcome
    return Decision(
        Outcome(out.action, out.status, out.location, out.reason, out.return_to),
        out.rule, record.policy, error=out.error_kind, shadow=tuple(out.shadow),
        member_id=record.member, cause=out.cause,
    )
