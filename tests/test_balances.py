"""Balance snapshots, Wix amount parsing, and the cache/loader seams (injected clock, no sleeps)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from pydantic import ValidationError

from gate import BalanceSnapshot, MemoryBalanceCache, PoolBalance
from gate.loader import BalanceLoader
from gate.wix.models import BalanceAmount
from tests.conftest import FakeClock


def pool(status: str, available: str, reserved: str = "0") -> PoolBalance:
    return PoolBalance("p", Decimal(available), Decimal(reserved), status)


@pytest.mark.parametrize(
    ("pools", "available", "status", "has_plan"),
    [
        ((), Decimal(0), "NONE", False),
        ((pool("ACTIVE", "2.5"), pool("ENDED", "4")), Decimal("2.5"), "ACTIVE", True),
        ((pool("PAUSED", "5"),), Decimal(0), "PAUSED", True),
        ((pool("ENDED", "4"),), Decimal(0), "ENDED", False),
        ((pool("PAUSED", "5"), pool("ACTIVE", "1")), Decimal(1), "ACTIVE", True),
        ((pool("ACTIVE", "0.1"), pool("ACTIVE", "0.2")), Decimal("0.3"), "ACTIVE", True),
        ((pool("PENDING", "3"),), Decimal(0), "PENDING", True),
    ],
)
def test_snapshot_summary(
    pools: tuple[PoolBalance, ...], available: Decimal, status: str, has_plan: bool
) -> None:
    snapshot = BalanceSnapshot(member_id="m", pools=pools, fetched_at=0.0, source="s")
    assert snapshot.available == available
    assert isinstance(snapshot.available, Decimal)
    assert snapshot.status == status
    assert snapshot.has_plan is has_plan


@pytest.mark.parametrize(("text", "value"), [
    ("2.5", Decimal("2.5")), ("0.0000", Decimal(0)), ("7", Decimal(7)), (" 3 ", Decimal(3)),
    ("-1", Decimal(-1)),
])
def test_amounts_are_decimal_strings(text: str, value: Decimal) -> None:
    amount = BalanceAmount.model_validate({"available": text, "reserved": "0"})
    assert amount.available == value
    assert type(amount.available) is Decimal


@pytest.mark.parametrize("bad", [7, 2.5, None, "", "abc", "NaN", "Infinity", "1e999999999"])
def test_bad_amounts_are_errors_not_zero(bad: object) -> None:
    with pytest.raises(ValidationError):
        BalanceAmount.model_validate({"available": bad, "reserved": "0"})


class CountingSource:
    key = "counting"

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def fetch(self, member_id: str) -> BalanceSnapshot:
        self.calls += 1
        await self.release.wait()
        return BalanceSnapshot(member_id, (pool("ACTIVE", str(self.calls)),), 0.0, self.key)

    async def aclose(self) -> None:
        return None


def test_cache_expires_on_the_injected_clock() -> None:
    clock = FakeClock()
    source = CountingSource()
    source.release.set()
    loader = BalanceLoader(source, MemoryBalanceCache(ttl=30, timer=clock))

    async def run() -> list[Decimal]:
        first = await loader.get("m")
        clock.advance(29.9)
        second = await loader.get("m")
        clock.advance(0.2)
        third = await loader.get("m")
        return [first.available, second.available, third.available]

    assert asyncio.run(run()) == [Decimal(1), Decimal(1), Decimal(2)]


def test_cache_is_bounded() -> None:
    cache = MemoryBalanceCache(ttl=30, maxsize=2, timer=FakeClock())
    snap = BalanceSnapshot("m", (), 0.0, "s")

    async def run() -> int:
        for key in "abc":
            await cache.set(key, snap)
        return len(cache)

    assert asyncio.run(run()) == 2


def test_invalidation_during_a_fetch_is_not_undone_by_it() -> None:
    """A fetch that started before invalidate() must not cache its stale answer."""
    source = CountingSource()
    cache = MemoryBalanceCache(ttl=30, timer=FakeClock())
    loader = BalanceLoader(source, cache)

    async def run() -> tuple[int, bool]:
        stale = asyncio.create_task(loader.get("m"))
        await asyncio.sleep(0)  # let the fetch start
        await loader.invalidate("m")
        source.release.set()
        await stale
        return source.calls, await cache.get(loader.key("m")) is None

    assert asyncio.run(run()) == (1, True)


def test_keys_separate_sites_and_sources() -> None:
    a, b = CountingSource(), CountingSource()
    a.key, b.key = "wix:site-a", "wix:site-b"
    cache = MemoryBalanceCache()
    assert BalanceLoader(a, cache).key("m") != BalanceLoader(b, cache).key("m")


def test_a_cancelled_waiter_does_not_cancel_the_shared_fetch() -> None:
    source = CountingSource()
    loader = BalanceLoader(source, MemoryBalanceCache(timer=FakeClock()))

    async def run() -> Decimal:
        first = asyncio.create_task(loader.get("m"))
        second = asyncio.create_task(loader.get("m"))
        await asyncio.sleep(0)
        first.cancel()
        source.release.set()
        return (await second).available

    assert asyncio.run(run()) == Decimal(1)
    assert source.calls == 1
