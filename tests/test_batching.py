"""Batching across members: a burst of cold members costs a handful of Wix calls, all correct."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from gate.adapters.service import create_service
from gate.config.settings import GateSettings
from gate.data.batching import Batcher
from gate.policy.shipped import shipped_policies
from gate.tooling.emulator import create_emulator, load_seed
from gate.tooling.testing import run_server
from tests.conftest import SITE_ID, YOGA

API_KEY = "batch-key-0123456789"
SECRET = "batch-api-secret-0123456789abcdef"
ITEM_SET = "5b3a6f0e-1f0a-4b8e-9d51-0c1e7d2b9a10"
MEMBERS = 150


def member_id(index: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"booking-gate-test-member-{index}"))


def write_seed(path: Path, count: int) -> Path:
    """``count`` members; every fourth has 0 credits, the others 3 (one yoga pool each)."""
    lines = ["members:"]
    for i in range(count):
        lines += [f"  - name: m{i}", f'    id: "{member_id(i)}"', f"    email: m{i}@example.com"]
    lines.append("balances:")
    for i in range(count):
        credits = "0" if i % 4 == 0 else "3"
        lines += [
            f'  - id: "{uuid.uuid5(uuid.NAMESPACE_URL, f"pool-{i}")}"',
            f"    member: m{i}", f'    available: "{credits}"',
            '    createdDate: "2026-01-05T10:00:00.000Z"',
            "    benefits:", f'      - itemSetId: "{ITEM_SET}"', '        price: "1"',
        ]
    lines += ["items:", f'  - service: "{YOGA}"', f'    itemSetId: "{ITEM_SET}"']
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client, str]]:
    seed = write_seed(tmp_path_factory.mktemp("seed") / "seed.yaml", MEMBERS)
    emulator = create_emulator(load_seed(seed), api_key=API_KEY, site_id=SITE_ID)
    with run_server(emulator) as wix, httpx.Client(base_url=wix) as admin:
        settings = GateSettings(wix_api_key=API_KEY, wix_site_id=SITE_ID, wix_base_url=wix,
                                api_secret=SECRET, policies=[shipped_policies()])
        with run_server(create_service(settings)) as gate:
            yield wix, admin, gate


def test_a_burst_of_cold_members_is_batched_and_right(
    setup: tuple[str, httpx.Client, str]
) -> None:
    _, admin, gate = setup
    admin.post("/_emulator/latency", json={"seconds": 0.05}).raise_for_status()
    admin.post("/_emulator/calls/reset").raise_for_status()

    async def burst() -> list[tuple[int, str]]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=gate, limits=limits, timeout=30) as client:
            answers = await asyncio.gather(*(
                client.post("/v1/decisions", json={"memberId": member_id(i), "serviceId": YOGA},
                            headers={"Authorization": f"Bearer {SECRET}"})
                for i in range(MEMBERS)))
        return [(i, a.json()["rule"]) for i, a in enumerate(answers)]

    results = asyncio.run(burst())
    assert all(rule == ("no-credits" if i % 4 == 0 else "(default)") for i, rule in results)
    calls = admin.get("/_emulator/calls").json()["calls"]
    # One balances and one pools query per batch of up to 100 members, one items query.
    assert calls.get("POST /benefit-programs/v1/items/query") == 1
    assert calls["POST /benefit-programs/v1/balances/query"] <= 6
    assert calls["POST /benefit-programs/v1/pools/query"] <= 6
    assert sum(calls.values()) <= 13, calls
    admin.post("/_emulator/latency", json={"seconds": 0})


def test_batcher_joins_waiters_and_queues_latecomers() -> None:
    """Keys asked for while a batch is out leave together in the next one; one key, one ask."""
    batches: list[list[str]] = []
    gate = asyncio.Event()

    async def fetch_many(keys: Sequence[str]) -> dict[str, str]:
        batches.append(list(keys))
        await gate.wait()
        return {k: k.upper() for k in keys if k != "missing"}

    async def run() -> list[object]:
        batcher: Batcher[str, str] = Batcher(fetch_many, max_batch=3)
        first = [asyncio.ensure_future(batcher.get(k)) for k in ("a", "b", "a")]
        await asyncio.sleep(0.01)  # the first batch is out
        later = [asyncio.ensure_future(batcher.get(k)) for k in ("c", "d", "e", "f", "missing")]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*first, *later, return_exceptions=True)

    results = asyncio.run(run())
    assert results[:7] == ["A", "B", "A", "C", "D", "E", "F"]
    assert isinstance(results[7], KeyError)
    assert batches == [["a", "b"], ["c", "d", "e"], ["f", "missing"]]


def test_a_failed_batch_fails_its_waiters_and_is_not_remembered() -> None:
    attempts: list[list[str]] = []

    async def fetch_many(keys: Sequence[str]) -> dict[str, int]:
        attempts.append(list(keys))
        if len(attempts) == 1:
            raise RuntimeError("upstream down")
        return {k: 1 for k in keys}

    async def run() -> tuple[object, int]:
        batcher: Batcher[str, int] = Batcher(fetch_many)
        failed = await asyncio.gather(batcher.get("a"), return_exceptions=True)
        return failed[0], await batcher.get("a")

    error, value = asyncio.run(run())
    assert isinstance(error, RuntimeError)
    assert value == 1


class HeldUpstream:
    """A ``fetch_many`` that records each batch and answers (upper-cased) only when told."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.answer = asyncio.Event()

    async def __call__(self, keys: Sequence[str]) -> dict[str, str]:
        self.batches.append(list(keys))
        await self.answer.wait()
        return {k: k.upper() for k in keys}

    def seen(self) -> list[list[str]]:
        return [list(b) for b in self.batches]


def test_with_overlap_the_next_batch_leaves_while_one_is_still_out() -> None:
    """A burst's next batch does not wait for the answer (and every decision it wakes) when the
    batch out has been out ``overlap`` seconds; never more than ``max_in_flight`` out."""
    upstream = HeldUpstream()

    async def run() -> tuple[list[list[str]], list[str]]:
        batcher: Batcher[str, str] = Batcher(upstream, overlap=0.001, max_in_flight=2)
        asked = [asyncio.ensure_future(batcher.get("a"))]
        await asyncio.sleep(0.02)  # "a" is out, unanswered, for longer than the overlap
        asked.append(asyncio.ensure_future(batcher.get("b")))
        await asyncio.sleep(0.02)  # "b" left without waiting for "a"'s answer
        asked += [asyncio.ensure_future(batcher.get(k)) for k in ("c", "d", "b")]
        await asyncio.sleep(0.02)  # two are out: "c" and "d" wait, together
        seen = upstream.seen()
        upstream.answer.set()
        return seen, list(await asyncio.gather(*asked))

    seen, results = asyncio.run(run())
    assert seen == [["a"], ["b"]]
    assert results == ["A", "B", "C", "D", "B"]
    assert upstream.batches == [["a"], ["b"], ["c", "d"]]


def test_a_trickle_waits_for_the_answer_a_crowd_leaves_early() -> None:
    """Leaving early costs a call: only worth it when ``overlap_keys`` keys are waiting."""
    upstream = HeldUpstream()

    async def run() -> tuple[list[list[str]], list[list[str]]]:
        batcher: Batcher[str, str] = Batcher(upstream, overlap=0.001, overlap_keys=3)
        asked = [asyncio.ensure_future(batcher.get("a"))]
        await asyncio.sleep(0.02)
        asked += [asyncio.ensure_future(batcher.get(k)) for k in ("b", "c")]
        await asyncio.sleep(0.02)  # two wait: not enough to leave before "a" is answered
        trickle = upstream.seen()
        asked.append(asyncio.ensure_future(batcher.get("d")))
        await asyncio.sleep(0.02)  # three wait: they leave
        crowd = upstream.seen()
        upstream.answer.set()
        await asyncio.gather(*asked)
        return trickle, crowd

    trickle, crowd = asyncio.run(run())
    assert trickle == [["a"]]
    assert crowd == [["a"], ["b", "c", "d"]]


def test_without_overlap_one_batch_is_out_at_a_time() -> None:
    upstream = HeldUpstream()

    async def run() -> list[list[str]]:
        batcher: Batcher[str, str] = Batcher(upstream)
        asked = [asyncio.ensure_future(batcher.get("a"))]
        await asyncio.sleep(0.02)
        asked.append(asyncio.ensure_future(batcher.get("b")))
        await asyncio.sleep(0.02)
        seen = upstream.seen()
        upstream.answer.set()
        await asyncio.gather(*asked)
        return seen

    assert asyncio.run(run()) == [["a"]]
    assert upstream.batches == [["a"], ["b"]]


@pytest.mark.parametrize("overlap, max_in_flight", [(0.0, 2), (-1.0, 2), (0.05, 1)])
def test_an_overlap_that_cannot_work_is_refused(overlap: float, max_in_flight: int) -> None:
    async def fetch_many(keys: Sequence[str]) -> dict[str, str]:
        return {}

    with pytest.raises(ValueError, match="overlap"):
        Batcher(fetch_many, overlap=overlap, max_in_flight=max_in_flight)


def test_a_runner_started_while_a_batch_is_out_keeps_the_trickle_rule() -> None:
    """A later batch answered first ends the round while an older one is still out; a key
    asked for then must still wait for that answer (a trickle), not leave at once."""
    sent: list[list[str]] = []
    slow, quick = asyncio.Event(), asyncio.Event()

    async def fetch_many(keys: Sequence[str]) -> dict[str, str]:
        sent.append(list(keys))
        await (slow if keys == ["a"] else quick).wait()
        return {k: k for k in keys}

    async def run() -> list[list[str]]:
        batcher: Batcher[str, str] = Batcher(fetch_many, overlap=0.001, overlap_keys=2)
        asked = [asyncio.ensure_future(batcher.get("a"))]
        await asyncio.sleep(0.01)
        asked += [asyncio.ensure_future(batcher.get(k)) for k in ("b", "c")]
        await asyncio.sleep(0.01)  # "b" and "c" left early beside "a"
        quick.set()
        await asyncio.gather(*asked[1:])  # answered; "a" is still out
        asked.append(asyncio.ensure_future(batcher.get("d")))
        await asyncio.sleep(0.02)
        seen = [list(b) for b in sent]
        slow.set()
        await asyncio.gather(*asked)
        return seen

    assert asyncio.run(run()) == [["a"], ["b", "c"]]
    assert sent == [["a"], ["b", "c"], ["d"]]


def test_closing_cancels_the_batches_out_and_their_waiters() -> None:
    upstream = HeldUpstream()

    async def run() -> tuple[bool, bool]:
        batcher: Batcher[str, str] = Batcher(upstream, overlap=0.001)
        waiter = asyncio.ensure_future(batcher.get("a"))
        await asyncio.sleep(0.01)
        await batcher.aclose()
        await asyncio.sleep(0)
        return waiter.cancelled(), len(batcher) == 0

    assert asyncio.run(run()) == (True, True)
