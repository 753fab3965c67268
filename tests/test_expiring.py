"""ExpiringDict, the hot path's bounded map with an expiry per entry, and remember()."""

from __future__ import annotations

import pytest

from gate.data.expiring import ExpiringDict, remember
from tests.conftest import FakeClock


def test_entries_expire_on_the_injected_clock() -> None:
    clock = FakeClock()
    cache: ExpiringDict[str, int] = ExpiringDict(10, 30.0, timer=clock)
    cache.set("a", 1)
    cache.set("b", 2, ttl=5.0)  # its own lifetime, shorter than the default
    clock.advance(4.9)
    assert (cache.get("a"), cache.get("b")) == (1, 2)
    clock.advance(0.2)
    assert (cache.get("a"), cache.get("b")) == (1, None)
    clock.advance(25.0)
    assert cache.get("a") is None
    assert len(cache) == 0  # an expired entry is dropped when read


def test_full_drops_the_oldest_stored_and_restoring_counts_as_new() -> None:
    cache: ExpiringDict[int, int] = ExpiringDict(3, 60.0, timer=FakeClock())
    for key in (1, 2, 3):
        cache.set(key, key)
    cache.set(1, 10)  # stored again: now the newest
    cache.set(4, 4)
    assert len(cache) == 3
    assert [cache.get(k) for k in (1, 2, 3, 4)] == [10, None, 3, 4]
    assert cache.pop(3) == 3 and cache.get(3) is None
    cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize(("maxsize", "ttl"), [(0, 1.0), (1, 0.0), (1, float("nan"))])
def test_refuses_a_bound_that_would_keep_nothing(maxsize: int, ttl: float) -> None:
    with pytest.raises(ValueError):
        ExpiringDict(maxsize, ttl)


def test_remember_starts_over_when_full_but_not_to_store_a_key_it_holds() -> None:
    table: dict[str, int] = {}
    for index in range(3):
        remember(table, f"k{index}", index, 3)
    remember(table, "k1", 10, 3)  # full, but k1 is there: replaced, nothing else goes
    assert table == {"k0": 0, "k1": 10, "k2": 2}
    remember(table, "k3", 3, 3)  # a new key in a full table: it starts over
    assert table == {"k3": 3}


def test_held_stays_true_while_the_same_entry_is_stored() -> None:
    clock = FakeClock()
    cache: ExpiringDict[str, int] = ExpiringDict(10, 30.0, timer=clock)
    cache.set("a", 1)
    held, missing = cache.held("a"), cache.held("b")
    assert held() and missing()
    clock.advance(29.9)
    assert held()
    clock.advance(0.1)
    assert not held()  # expired with its entry (get() gives None too)
    cache.set("a", 1)
    again = cache.held("a")
    assert again() and not held()  # the same value stored again is another entry
    cache.set("a", 1)
    assert not again()
    cache.set("b", 2)
    assert not missing()  # something is stored now where nothing was
    last = cache.held("b")
    cache.pop("b")
    assert not last()
    kept = cache.held("a")
    cache.clear()
    assert not kept()
