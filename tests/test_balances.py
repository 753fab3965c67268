"""Balance snapshots, Wix amount parsing, and the cache/loader seams (injected clock, no sleeps)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from decimal import Decimal

import pytest
from pydantic import ValidationError

from gate import BalanceSnapshot, MemoryBalanceCache, PoolBalance
from gate.credits.balances import PRICING_PLANS_NAMESPACE, Benefit, ServiceInfo, credits_for
from gate.data.loader import BalanceLoader
from gate.wix.models import BalanceAmount
from tests.conftest import FakeClock

YOGA_SET, PILATES_SET = "set-yoga", "set-pilates"
YOGA = ServiceInfo("yoga", known=True, item_sets=frozenset({YOGA_SET}))
PILATES = ServiceInfo("pilates", known=True, item_sets=frozenset({PILATES_SET}))
ALL_CLASSES = (Benefit(YOGA_SET, Decimal(1)), Benefit(PILATES_SET, Decimal(2)))


def pool(
    status: str, available: str, reserved: str = "0",
    benefits: tuple[Benefit, ...] | None = ALL_CLASSES, namespace: str = PRICING_PLANS_NAMESPACE,
) -> PoolBalance:
    return PoolBalance("p", Decimal(available), Decimal(reserved), status, namespace=namespace,
                       benefits=benefits)


@pytest.mark.parametrize(
    ("pools", "status", "has_plan"),
    [
        ((), "NONE", False),
        ((pool("ACTIVE", "2.5"), pool("ENDED", "4")), "ACTIVE", True),
        ((pool("PAUSED", "5"),), "PAUSED", True),
        ((pool("ENDED", "4"),), "ENDED", False),
        ((pool("PAUSED", "5"), pool("ACTIVE", "1")), "ACTIVE", True),
        ((pool("PENDING", "3"),), "PENDING", True),
        ((pool("RENEWING", "3"), pool("PAUSED", "1")), "RENEWING", True),
        ((pool("SUSPENDED", "3"),), "SUSPENDED", True),
    ],
)
def test_snapshot_summary(pools: tuple[PoolBalance, ...], status: str, has_plan: bool) -> None:
    snapshot = BalanceSnapshot(member_id="m", pools=pools, fetched_at=0.0, source="s")
    assert snapshot.status == status
    assert snapshot.has_plan is has_plan


YOGA_ONLY = (Benefit(YOGA_SET, Decimal(1)),)


@pytest.mark.parametrize(
    ("pools", "service", "can_book", "cost", "available", "sessions"),
    [
        ((pool("ACTIVE", "3"),), YOGA, True, "1", "3", "3"),
        ((pool("ACTIVE", "3"),), PILATES, True, "2", "3", "1"),
        ((pool("ACTIVE", "0"),), YOGA, False, "1", "0", "0"),
        # One pool pays for a session: two halves never make a whole.
        ((pool("ACTIVE", "0.5"), pool("ACTIVE", "0.5")), YOGA, False, "1", "1", "0"),
        ((pool("ACTIVE", "3", benefits=YOGA_ONLY),), PILATES, False, "0", "0", "0"),
        ((pool("ACTIVE", "1.5"),), PILATES, False, "2", "1.5", "0"),
        # A debt in one pool does not eat another pool's credits.
        ((pool("ACTIVE", "-1"), pool("ACTIVE", "1")), YOGA, True, "1", "1", "1"),
        ((pool("ACTIVE", "0", benefits=YOGA_ONLY), pool("ACTIVE", "1")), YOGA,
         True, "1", "1", "1"),
        ((pool("ENDED", "5"),), YOGA, False, "0", "0", "0"),
        ((pool("PAUSED", "5"),), YOGA, False, "0", "0", "0"),
        ((pool("PENDING", "5"),), YOGA, False, "0", "0", "0"),
        ((pool("RENEWING", "5"),), YOGA, True, "1", "5", "5"),
        ((pool("PROVISIONING", "5"),), YOGA, True, "1", "5", "5"),
        ((pool("SUSPENDED", "5"),), YOGA, False, "0", "0", "0"),
        ((pool("ACTIVE", "5", namespace="@acme/loyalty"),), YOGA, False, "0", "0", "0"),
        # A service no item knows is never priced, whatever the member holds.
        ((pool("ACTIVE", "5"),), ServiceInfo("x", known=False), False, "0", "0", "0"),
        # A free benefit: unlimited sessions.
        ((pool("ACTIVE", "0", benefits=(Benefit(YOGA_SET, Decimal(0)),)),), YOGA,
         True, "0", "0", "Infinity"),
        # A fixed cost (static sources): any spendable pool pays it.
        ((pool("ACTIVE", "2", benefits=None),),
         ServiceInfo("s", known=True, fixed_cost=Decimal(2)), True, "2", "2", "1"),
        ((pool("ACTIVE", "2", benefits=None),), YOGA, False, "0", "0", "0"),
    ],
)
def test_credits_for_one_session(
    pools: tuple[PoolBalance, ...], service: ServiceInfo, can_book: bool, cost: str,
    available: str, sessions: str,
) -> None:
    snapshot = BalanceSnapshot(member_id="m", pools=pools, fetched_at=0.0, source="s")
    credits = credits_for(snapshot, service)
    assert (credits.can_book, credits.cost, credits.available, credits.sessions_left) == (
        can_book, Decimal(cost), Decimal(available), Decimal(sessions))
    assert all(isinstance(v, Decimal) for v in (credits.cost, credits.available))


def test_the_cheapest_pool_that_can_pay_pays() -> None:
    cheap = PoolBalance("cheap", Decimal(1), Decimal(0), "ACTIVE", benefits=YOGA_ONLY)
    dear = PoolBalance("dear", Decimal(5), Decimal(0), "ACTIVE",
                       benefits=(Benefit(YOGA_SET, Decimal(2)),))
    credits = credits_for(BalanceSnapshot("m", (dear, cheap), 0.0, "s"), YOGA)
    assert (credits.paying_pool, credits.cost, credits.sessions_left) == (
        "cheap", Decimal(1), Decimal(3))


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


@pytest.mark.parametrize(("bad", "message"), [
    ("0.12345", "'0.12345' has 5 decimal places; credit amounts have at most 4 decimal places"),
    ("0.99999999999999999", "at most 4 decimal places"),
    ("123456789012", "at most 11 digits before the decimal point"),
    ("1e9", "is not a plain decimal amount"),
])
def test_a_bad_amount_is_refused_with_the_limit_it_broke(bad: str, message: str) -> None:
    # Too many decimals is a limit, not "not a decimal": the message says which one it broke.
    with pytest.raises(ValidationError, match=re.escape(message)):
        BalanceAmount.model_validate({"available": bad, "reserved": "0"})


class CountingSource:
    key = "counting"

    def __init__(self, clock: Callable[[], float] = lambda: 0.0) -> None:
        self.calls = 0
        self.clock = clock
        self.release = asyncio.Event()

    async def fetch(self, member_id: str) -> BalanceSnapshot:
        self.calls += 1
        await self.release.wait()
        return BalanceSnapshot(member_id, (pool("ACTIVE", str(self.calls)),), self.clock(),
                               self.key)

    async def fetch_many(self, member_ids: Sequence[str]) -> dict[str, BalanceSnapshot]:
        return {m: await self.fetch(m) for m in member_ids}

    async def service(self, service_id: str) -> ServiceInfo:
        return ServiceInfo(service_id, known=False)

    def forget(self, member_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


def test_cache_expires_on_the_injected_clock() -> None:
    clock = FakeClock()
    source = CountingSource(clock)
    source.release.set()
    loader = BalanceLoader(source, MemoryBalanceCache(ttl=30, timer=clock), fresh_for=30,
                           revalidate_for=0, clock=clock)

    async def run() -> list[Decimal]:
        first = await loader.get("m")
        clock.advance(29.9)
        second = await loader.get("m")
        clock.advance(0.2)
        third = await loader.get("m")
        return [first.pools[0].available, second.pools[0].available,
                third.pools[0].available]

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
        return (await second).pools[0].available

    assert asyncio.run(run()) == Decimal(1)
    assert source.calls == 1
