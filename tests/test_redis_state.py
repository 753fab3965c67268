"""Shared state in one process: two "instances" (each its own Redis connection, cache, loader,
budget and holds) against a real redis-server. The fleet tests in separate processes are in
tests/test_redis_fleet.py; these pin the parts down one at a time, with injected clocks."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import redis

from gate.adapters.webhooks import WebhookReceiver
from gate.config.settings import GateSettings
from gate.credits.balances import BalanceSnapshot, Benefit, PoolBalance, ServiceInfo
from gate.data.loader import BalanceLoader
from gate.errors import ConfigError
from gate.state import DOWN, SharedBudget, SharedHoldBook, SharedState
from gate.state.codec import Clocks, decode_snapshot, encode_snapshot
from gate.state.link import as_bytes
from gate.upstream import Priority, UpstreamBudget
from tests.conftest import CHECKOUT, SITE_ID, Emulator, FakeClock
from tests.redis_server import RedisServer
from tests.serving import free_port
from tests.test_webhooks import WIX_PEM, Harness, sign

SITE = "site-under-test"
SOURCE = f"wix:{SITE}"
EPOCH = 1_700_000_000.0
T = TypeVar("T")


def snapshot(member: str, available: str, fetched_at: float,
             benefits: tuple[Benefit, ...] | None = None) -> BalanceSnapshot:
    pool = PoolBalance("pool-1", Decimal(available), Decimal("0.5"), "ACTIVE", plan_id="plan-1",
                       benefits=benefits)
    return BalanceSnapshot(member, (pool,), fetched_at, SOURCE)


class Source:
    """A balance source that counts what it is asked, and can be held until released."""

    key = SOURCE

    def __init__(self, clock: Callable[[], float], available: str = "3") -> None:
        self.clock = clock
        self.available = available
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.delay = 0.0  # seconds each read takes, as Wix does

    def reads(self, member: str) -> int:
        return sum(batch.count(member) for batch in self.batches)

    async def fetch(self, member_id: str) -> BalanceSnapshot:
        return (await self.fetch_many([member_id]))[member_id]

    async def fetch_many(self, member_ids: Sequence[str]) -> dict[str, BalanceSnapshot]:
        self.batches.append(list(member_ids))
        await self.release.wait()
        await asyncio.sleep(self.delay)
        return {m: snapshot(m, self.available, self.clock()) for m in member_ids}

    async def service(self, service_id: str) -> ServiceInfo:
        return ServiceInfo(service_id, known=False)

    def cached_service(self, service_id: str) -> ServiceInfo | None:
        return None

    def forget(self, member_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


@dataclass
class Instance:
    """What assemble builds for one gate instance, minus Wix: state, loader, holds."""

    state: SharedState
    source: Source
    loader: BalanceLoader
    holds: SharedHoldBook
    forgotten: list[str] = field(default_factory=list)

    async def forget(self, member: str) -> None:  # DecisionCore.invalidate, in short
        self.forgotten.append(member)
        self.holds.release(member)
        await self.loader.invalidate(member)


def instance(url: str, clock: FakeClock, *, wait_for: float = 2.0, **state: Any) -> Instance:
    # The wall clock moves with the monotonic one, as real clocks do.
    state.setdefault("wall", lambda: EPOCH + clock())
    shared = SharedState(url, site=SITE, clock=clock, **state)
    cache, flight = shared.balances(ttl=330, maxsize=100, wait_for=wait_for)
    source = Source(clock)
    loader = BalanceLoader(source, cache, fresh_for=30, revalidate_for=0, clock=clock,
                           flight=flight)
    made = Instance(shared, source, loader, shared.holds(ttl=600, lock_ttl=8))
    shared.follow(made.forget)
    return made


@asynccontextmanager
async def fleet(url: str, clock: FakeClock, count: int = 2,
                **options: Any) -> AsyncIterator[list[Instance]]:
    made = [instance(url, clock, **options) for _ in range(count)]
    try:
        yield made
    finally:
        for one in made:
            await one.loader.aclose()


async def eventually(check: Callable[[], Awaitable[T] | T], what: str,
                     seconds: float = 10.0) -> T:
    """Poll ``check`` until it is truthy: across connections, messages take a moment."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        result = await value if asyncio.iscoroutine(value) else value
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.02)


def command(url: str, *args: str | bytes) -> object:
    """One command on a connection of the test's own, closed after it."""
    with redis.Redis.from_url(url) as client:
        return client.execute_command(*args)


def stored(url: str, member: str, site: str = SITE) -> bytes | None:
    """The balance entry of ``member`` as Redis holds it."""
    return as_bytes(command(url, "GET", f"booking-gate:{{{site}}}:balance:{member}"))


# -- the format ---------------------------------------------------------------------------------

def test_a_snapshot_crosses_processes_with_exact_credits_and_its_age() -> None:
    wall = FakeClock(1_700_000_000.0)
    writer = Clocks(FakeClock(500.0), wall)
    reader = Clocks(FakeClock(90_000.0), wall)  # another process: another monotonic origin
    benefits = (Benefit("set-1", Decimal("0.1")), Benefit("set-2", Decimal("2")))
    raw = encode_snapshot(snapshot("m-1", "2.5", fetched_at=493.0, benefits=benefits), writer)
    pools = json.loads(raw)["pools"]
    assert (pools[0]["available"], pools[0]["benefits"][0]["price"]) == ("2.5", "0.1")
    read = decode_snapshot(raw, reader, member_id="m-1", source=SOURCE)
    assert read.pools[0].available == Decimal("2.5")
    assert isinstance(read.pools[0].available, Decimal)
    assert read.pools[0].benefits == benefits
    assert read.fetched_at == 90_000.0 - 7.0  # fetched 7 s ago, whoever's clock says so
    wall.now -= 60  # the reader's wall clock is behind the writer's: never a negative age
    assert decode_snapshot(raw, reader, member_id="m-1", source=SOURCE).fetched_at == 90_000.0


@pytest.mark.parametrize("junk", [
    pytest.param(b"not json at all", id="not-json"),
    pytest.param(b'{"v": 99, "member": "m-1"}', id="other-version"),
    pytest.param(json.dumps({"v": 1, "member": "m-1", "source": SOURCE, "fetched": 1.0,
                             "pools": [{"id": "p", "available": 2.5, "reserved": "0",
                                        "status": "ACTIVE"}]}).encode(), id="float-credits"),
    pytest.param(json.dumps({"v": 1, "member": "m-other", "source": SOURCE, "fetched": 1.0,
                             "pools": []}).encode(), id="someone-else"),
    pytest.param(json.dumps({"v": 1, "member": "m-1", "source": SOURCE, "fetched": "soon",
                             "pools": []}).encode(), id="bad-time"),
])
def test_an_unreadable_entry_is_a_logged_miss_then_overwritten(
    redis_url: str, clock: FakeClock, junk: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    key = f"booking-gate:{{{SITE}}}:balance:m-1"
    command(redis_url, "SET", key, junk)

    async def run() -> Decimal:
        async with fleet(redis_url, clock, count=1) as (one,):
            return (await one.loader.get("m-1")).pools[0].available

    assert asyncio.run(run()) == Decimal(3)  # read from the source instead
    assert "ignoring the shared balance entry of member 'm-1'" in caplog.text
    entry = json.loads(stored(redis_url, "m-1") or b"{}")
    assert entry["pools"][0]["available"] == "3"


# -- the cache, single-flight and invalidation --------------------------------------------------

def test_a_member_read_on_one_instance_costs_the_other_no_read(
    redis_url: str, clock: FakeClock
) -> None:
    async def run() -> tuple[int, int, bool]:
        async with fleet(redis_url, clock) as (one, two):
            first = await one.loader.load("m-1")
            clock.advance(12)
            second = await two.loader.load("m-1")
            # Its age counts from the read on instance one, not from when two got it.
            young = clock() - second.snapshot.fetched_at == pytest.approx(12, abs=0.5)
            assert (first.data, second.data) == ("fresh", "fresh")
            return one.source.reads("m-1"), two.source.reads("m-1"), young

    assert asyncio.run(run()) == (1, 0, True)


def test_cold_members_read_together_are_read_once_by_the_fleet_in_batches(
    redis_url: str, clock: FakeClock
) -> None:
    async def run() -> tuple[list[list[str]], list[str], list[Decimal]]:
        async with fleet(redis_url, clock) as (one, two):
            one.source.delay = 0.3  # well within instance two's wait (2 s)
            first = asyncio.gather(*(one.loader.get(m) for m in ("a", "b", "c")))
            await eventually(lambda: one.source.batches, "instance one reading")
            second = asyncio.gather(*(two.loader.get(m) for m in ("b", "c", "d")))
            got = [*await first, *await second]
            read_by_two = [m for batch in two.source.batches for m in batch]
            return one.source.batches, read_by_two, [s.pools[0].available for s in got]

    batches_one, read_by_two, credits = asyncio.run(run())
    assert batches_one == [["a", "b", "c"]]  # one batch, as without Redis
    assert read_by_two == ["d"]  # b and c came from instance one through Redis
    assert credits == [Decimal(3)] * 6


def test_an_instance_waits_a_bounded_time_then_reads_itself(
    redis_url: str, clock: FakeClock
) -> None:
    async def run() -> tuple[int, int]:
        async with fleet(redis_url, clock, wait_for=0.3) as (one, two):
            one.source.release.clear()  # instance one hangs on its read, holding the claim
            stuck = asyncio.ensure_future(one.loader.get("m-1"))
            await eventually(lambda: one.source.batches, "instance one reading")
            got = await two.loader.get("m-1")
            assert got.pools[0].available == Decimal(3)
            one.source.release.set()
            await stuck
            return one.source.reads("m-1"), two.source.reads("m-1")

    assert asyncio.run(run()) == (1, 1)


def test_a_read_that_began_before_an_invalidation_cannot_store_its_answer(
    redis_url: str, clock: FakeClock
) -> None:
    async def run() -> tuple[bytes | None, BalanceSnapshot | None]:
        async with fleet(redis_url, clock) as (one, two):
            one.source.release.clear()
            late = asyncio.ensure_future(one.loader.get("m-1"))
            await eventually(lambda: one.source.batches, "instance one reading")
            await two.forget("m-1")  # a webhook on instance two, while one still reads
            one.source.release.set()
            await late
            return (stored(redis_url, "m-1"),
                    await two.loader.cache.get(two.loader.key("m-1")))

    assert asyncio.run(run()) == (None, None)


def test_an_invalidation_on_one_instance_reaches_the_other(
    redis_url: str, clock: FakeClock
) -> None:
    async def run() -> tuple[list[str], list[str], int]:
        async with fleet(redis_url, clock) as (one, two):
            await one.loader.get("m-1")
            await two.loader.get("m-1")
            assert two.loader.peek("m-1") is not None
            await eventually(lambda: one.state.redis_up() and two.state.redis_up(), "up")
            await one.forget("m-1")
            # The next read anywhere asks again at once: Redis's copy is gone...
            assert await two.loader.cache.get(two.loader.key("m-1")) is None
            # ...and the hot path's copy on instance two goes when the message arrives.
            await eventually(lambda: two.loader.peek("m-1") is None, "peek forgets")
            await two.loader.get("m-1")
            return one.forgotten, two.forgotten, two.source.reads("m-1")

    # Instance one does not hear its own message; instance two forgets once, as a peer.
    assert asyncio.run(run()) == (["m-1"], ["m-1"], 1)


# -- the budget ----------------------------------------------------------------------------------

@asynccontextmanager
async def budgets(url: str, rules: UpstreamBudget, clock: FakeClock,
                  wall: FakeClock) -> AsyncIterator[list[SharedBudget]]:
    states = [SharedState(url, site=SITE, clock=clock, wall=wall) for _ in range(2)]
    try:
        yield [state.budget(rules) for state in states]
    finally:
        for state in states:
            await state.aclose()


def test_two_instances_spend_one_budget(redis_url: str, clock: FakeClock) -> None:
    wall = FakeClock(1_700_000_000.0)

    async def run() -> tuple[int, int]:
        async with budgets(redis_url, UpstreamBudget(limit=10, window=60), clock,
                           wall) as (one, two):
            taken = await asyncio.gather(*(b.take() for b in [one, two] * 15))
            wall.advance(61)  # the window slides on the wall clock all instances share
            again = await asyncio.gather(*(b.take() for b in [one, two] * 3))
            return sum(taken), sum(again)

    assert asyncio.run(run()) == (10, 6)
    assert command(redis_url, "ZCARD", f"booking-gate:{{{SITE}}}:budget:calls") == 6


def test_the_shared_budget_keeps_the_rules_of_priorities(
    redis_url: str, clock: FakeClock
) -> None:
    # 20 calls: 5 kept for checkouts; unseen tokens and unknown services 5 each at most.
    rules = UpstreamBudget(limit=20, window=60)

    async def run() -> list[int]:
        async with budgets(redis_url, rules, clock, FakeClock(1_700_000_000.0)) as (one, two):
            async def spend(priority: Priority, times: int) -> int:
                return sum(await asyncio.gather(
                    *((one if i % 2 else two).take(priority) for i in range(times))))

            return [await spend(Priority.NEW_TOKEN, 8), await spend(Priority.NEW_SERVICE, 8),
                    await spend(Priority.BACKGROUND, 20), await spend(Priority.CHECKOUT, 20)]

    assert asyncio.run(run()) == [5, 5, 5, 5]


# -- the last-credit guard -----------------------------------------------------------------------

async def submit(one: Instance, member: str) -> bool:
    """What the core does with a submission: in turn, credits minus holds, hold if allowed."""
    async with one.holds.turn(member):
        balance = one.holds.apply(await one.loader.get(member))
        pool = balance.pools[0]
        await asyncio.sleep(0.05)  # a slow decision: the other tab arrives meanwhile
        if pool.available < 1:
            return False
        one.holds.hold(member, pool.pool_id, Decimal(1), baseline=pool.available)
        return True


def test_two_tabs_on_two_instances_with_one_credit_one_passes(
    redis_url: str, clock: FakeClock
) -> None:
    async def run() -> list[bool]:
        async with fleet(redis_url, clock) as (one, two):
            one.source.available = two.source.available = "1"
            return list(await asyncio.gather(submit(one, "m-1"), submit(two, "m-1"),
                                             submit(one, "m-1"), submit(two, "m-1")))

    assert sorted(asyncio.run(run())) == [False, False, False, True]


def test_a_hold_taken_before_the_decision_was_cancelled_still_reaches_the_fleet(
    redis_url: str, clock: FakeClock
) -> None:
    async def run() -> bool:
        async with fleet(redis_url, clock) as (one, two):
            one.source.available = two.source.available = "1"
            held = asyncio.Event()

            async def cancelled_after_holding() -> None:
                async with one.holds.turn("m-1"):
                    one.holds.hold("m-1", "pool-1", Decimal(1), baseline=Decimal(1))
                    held.set()
                    await asyncio.sleep(30)

            task = asyncio.ensure_future(cancelled_after_holding())
            await held.wait()
            task.cancel()  # the core's deadline, say
            with pytest.raises(asyncio.CancelledError):
                await task
            return await submit(two, "m-1")

    assert asyncio.run(run()) is False


# -- webhooks ------------------------------------------------------------------------------------

def test_a_webhook_redelivered_to_another_instance_is_a_duplicate_there(
    redis_url: str, clock: FakeClock
) -> None:
    body = sign()

    async def run() -> list[str]:
        harnesses = [Harness(), Harness()]
        states = [SharedState(redis_url, site=SITE, clock=clock) for _ in harnesses]
        receivers = [WebhookReceiver(public_key=WIX_PEM, on_member=h.on_member, clock=h.clock,
                                     timer=h.timer, dedupe=s.dedupe)
                     for h, s in zip(harnesses, states, strict=True)]
        harnesses[0].fail_for.add("m-booker")  # the first instance fails to act...
        outcomes: list[str] = [(await receivers[0].handle(body)).outcome]
        outcomes += [(await r.handle(body)).outcome for r in receivers[::-1]]
        for state in states:
            await state.aclose()
        return outcomes

    # ...so the redelivery to the second acts; then it is a duplicate everywhere.
    assert asyncio.run(run()) == ["failed", "invalidated", "duplicate"]


# -- Redis down and back -------------------------------------------------------------------------

def test_with_redis_unreachable_each_instance_decides_alone(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://:hunter2-never-logged@127.0.0.1:{free_port()}/0"  # nobody listens there

    async def run() -> tuple[list[bool], int, int, str, bool]:
        async with fleet(url, clock, count=1) as (one,):
            one.source.available = "1"
            await one.loader.get("m-1")
            await one.loader.get("m-1")  # from this instance's memory
            budget = one.state.budget(UpstreamBudget(limit=10, window=60))
            taken = sum(await asyncio.gather(*(budget.take() for _ in range(10))))
            tabs = [await submit(one, "m-1"), await submit(one, "m-1")]
            await one.forget("m-1")  # remembered for when Redis answers again
            return (tabs, taken, one.source.reads("m-1"), one.state.readiness(),
                    one.state.redis_up())

    tabs, taken, reads, readiness, up = asyncio.run(run())
    assert (tabs, taken, reads) == ([True, False], 5, 1)  # half the budget: local_share 0.5
    assert (readiness, up) == (DOWN, False)
    assert "hunter2" not in caplog.text and "127.0.0.1:" in caplog.text


def test_an_outage_ends_by_itself_and_what_was_invalidated_meanwhile_stays_gone(
    redis_server: RedisServer, redis_url: str, clock: FakeClock
) -> None:
    process = redis_server.process
    assert process is not None

    async def run() -> tuple[str, str, bytes | None, bytes | None]:
        async with fleet(redis_url, clock, count=1, backoff=(0.05, 0.2)) as (one,):
            await one.loader.get("m-1")
            await one.loader.get("m-2")
            await eventually(lambda: one.state.redis_up(), "up")
            process.send_signal(signal.SIGSTOP)  # Redis hangs: commands time out
            try:
                await one.loader.get("m-3")
                during = one.state.readiness()
                await one.forget("m-1")  # an invalidation nobody can hear yet
            finally:
                process.send_signal(signal.SIGCONT)
            await eventually(lambda: one.state.redis_up(), "recovered", seconds=15)
            return (during, one.state.readiness(), stored(redis_url, "m-1"),
                    stored(redis_url, "m-2"))

    during, after, gone, kept = asyncio.run(run())
    assert (during, after) == (DOWN, "up")
    assert gone is None  # replayed on recovery: the pre-outage balance cannot come back
    assert kept is not None


def test_a_redis_password_never_shows(caplog: pytest.LogCaptureFixture,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as bad:
        SharedState("redis://:hunter2-in-a-bad-url@127.0.0.1:notaport/0", site=SITE)
    assert "hunter2" not in str(bad.value)
    state = SharedState("redis://user:hunter2-secret@127.0.0.1:6390/0", site=SITE)
    assert "hunter2" not in repr(state) and "127.0.0.1:6390" in repr(state)
    monkeypatch.setenv("BOOKING_GATE_REDIS_URL", "redis://:hunter2-env@127.0.0.1:6390/0")
    assert "hunter2" not in repr(GateSettings())
    assert "hunter2" not in caplog.text


def test_the_middleware_shares_through_redis_url(
    gated: Callable[..., Any], emulator: Emulator, redis_url: str
) -> None:
    url, gate = gated(redis_url=redis_url)
    ana = emulator.members["ana"]
    response = httpx.get(url + CHECKOUT, headers={"Authorization": emulator.token("ana")})
    assert response.headers["x-demo-page"] == "checkout"
    # What the other instances will use, under the site's own keys.
    entry = json.loads(stored(redis_url, ana, site=SITE_ID) or b"{}")
    assert entry["member"] == ana and entry["pools"][0]["available"] == "3"
    assert gate.core.holds.__class__ is SharedHoldBook


def test_the_redis_url_is_a_secret_the_config_file_may_not_hold(tmp_path: Path) -> None:
    config = tmp_path / "gate.toml"
    config.write_text('redis_url = "redis://:hunter2-in-a-file@127.0.0.1:6379/0"\n')
    with pytest.raises(ConfigError) as refused:
        GateSettings.load(config)
    assert "BOOKING_GATE_REDIS_URL" in str(refused.value)
    assert "hunter2" not in str(refused.value)
