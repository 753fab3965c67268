"""Balance snapshots and holds as JSON for Redis: exact amounts, and times another process can
read.

Amounts are decimal strings, never floats: ``"2.5"`` stays 2.5 credits. Times are the trouble:
a snapshot's ``fetched_at`` (and a hold's ``created``) is on this process's monotonic clock,
which means nothing to another process. So a stored time is wall-clock (Unix) time, and a
reader turns it back into an age on its own monotonic clock: age = its wall time now minus
the stored one. Wall clocks of a fleet agree to within NTP's milliseconds; a stored time that
is ahead of the reader's clock counts as age 0, never as negative.

Anything that does not decode to exactly the expected shape raises ``Unreadable``: the caller
treats it as a miss, never as data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from gate.credits.balances import BalanceSnapshot, Benefit, PoolBalance
from gate.decision.holds import Hold

__all__ = ["Clocks", "Unreadable", "decode_holds", "decode_snapshot", "encode_holds",
           "encode_snapshot"]

#: Bumped when the format changes: an entry of another version is a miss, not an error.
VERSION = 1


class Unreadable(ValueError):
    """A stored entry that is not a snapshot (or holds) of this format."""


@dataclass(frozen=True, slots=True)
class Clocks:
    """This process's two clocks: ``monotonic`` for ages, ``wall`` for what is stored."""

    monotonic: Callable[[], float]
    wall: Callable[[], float]

    def to_wall(self, at: float) -> float:
        """A time on the monotonic clock as wall-clock time."""
        return self.wall() - (self.monotonic() - at)

    def to_local(self, wall_at: float) -> float:
        """A stored wall-clock time on this process's monotonic clock."""
        return self.monotonic() - max(0.0, self.wall() - wall_at)


def encode_snapshot(snapshot: BalanceSnapshot, clocks: Clocks) -> bytes:
    return json.dumps({
        "v": VERSION, "member": snapshot.member_id, "source": snapshot.source,
        "fetched": clocks.to_wall(snapshot.fetched_at),
        "pools": [_pool_json(p) for p in snapshot.pools],
    }, separators=(",", ":")).encode()


def decode_snapshot(raw: bytes, clocks: Clocks, *, member_id: str, source: str) -> BalanceSnapshot:
    """The snapshot in ``raw``; ``member_id`` and ``source`` must be the ones it was stored for."""
    data = _object(raw)
    if data.get("member") != member_id or data.get("source") != source:
        raise Unreadable("the entry belongs to another member or source")
    pools = data.get("pools")
    if not isinstance(pools, list):
        raise Unreadable("pools is not a list")
    return BalanceSnapshot(
        member_id=member_id, pools=tuple(_pool(p) for p in pools),
        fetched_at=clocks.to_local(_number(data.get("fetched"))), source=source)


def encode_holds(holds: list[Hold], clocks: Clocks) -> bytes:
    return json.dumps({"v": VERSION, "holds": [
        {"pool": h.pool_id, "amount": str(h.amount), "baseline": str(h.baseline),
         "created": clocks.to_wall(h.created), "expires": clocks.to_wall(h.expires)}
        for h in holds]}, separators=(",", ":")).encode()


def decode_holds(raw: bytes, clocks: Clocks) -> list[Hold]:
    holds = _object(raw).get("holds")
    if not isinstance(holds, list):
        raise Unreadable("holds is not a list")
    found = []
    for item in holds:
        if not isinstance(item, dict):
            raise Unreadable("a hold is not an object")
        found.append(Hold(
            pool_id=_text(item.get("pool")), amount=_amount(item.get("amount")),
            baseline=_amount(item.get("baseline")),
            created=clocks.to_local(_number(item.get("created"))),
            # An expiry is a point in the future: the same distance ahead on this clock.
            expires=clocks.monotonic() + (_number(item.get("expires")) - clocks.wall())))
    return found


def _pool_json(pool: PoolBalance) -> dict[str, Any]:
    return {
        "id": pool.pool_id, "available": str(pool.available), "reserved": str(pool.reserved),
        "status": pool.status, "namespace": pool.namespace, "plan": pool.plan_id,
        "program": pool.program_id, "definition": pool.program_definition_id,
        "benefits": None if pool.benefits is None else [
            {"set": b.item_set_id, "price": str(b.price), "app": b.provider_app_id}
            for b in pool.benefits],
    }


def _pool(data: Any) -> PoolBalance:
    if not isinstance(data, dict):
        raise Unreadable("a pool is not an object")
    benefits = data.get("benefits")
    if benefits is not None and not isinstance(benefits, list):
        raise Unreadable("benefits is not a list")
    return PoolBalance(
        pool_id=_text(data.get("id")), available=_amount(data.get("available")),
        reserved=_amount(data.get("reserved")), status=_text(data.get("status")),
        namespace=_optional(data.get("namespace")), plan_id=_optional(data.get("plan")),
        program_id=_optional(data.get("program")),
        program_definition_id=_optional(data.get("definition")),
        benefits=None if benefits is None else tuple(_benefit(b) for b in benefits),
    )


def _benefit(data: Any) -> Benefit:
    if not isinstance(data, dict):
        raise Unreadable("a benefit is not an object")
    return Benefit(_text(data.get("set")), _amount(data.get("price")), _text(data.get("app")))


def _object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON or bad UTF-8 (both ValueErrors)
        raise Unreadable("not JSON") from None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise Unreadable("not an entry of this format")
    return data


def _amount(value: Any) -> Decimal:
    # Strings only: a float here would mean someone wrote credits inexactly.
    if not isinstance(value, str):
        raise Unreadable("an amount is not a decimal string")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise Unreadable("an amount is not a number") from None
    if not amount.is_finite():
        raise Unreadable("an amount is not finite")
    return amount


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        raise Unreadable("a time is not a finite number")
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise Unreadable("a field is not text")
    return value


def _optional(value: Any) -> str | None:
    return None if value is None else _text(value)
