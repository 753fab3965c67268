"""Type traps in conditions: each one either works as staff expect, or is refused at load.

Numbers are declared as decimals, so the checker refuses a number compared with text, a
list compared with one value and the like, each with the fix in the message. Whole numbers
written next to decimals (``available - 1 < 0``, ``available == 0``) are read as decimals,
and conditions about whole numbers (``size(pools) > 0``) keep working.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gate.policy.compiler import check_policies
from gate.policy.context import VARIABLES
from gate.policy.engine import CelEngine, CompileFailure, Condition
from gate.policy.messages import condition_message

_DEFAULTS: dict[str, Any] = {
    "number": 0.0,
    "text": "",
    "yes/no": False,
    "time": dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC),
    "list of text": [],
    "list of pools": [],
}


def _pool(available: float, status: str = "ACTIVE") -> dict[str, Any]:
    return {"id": "pool", "status": status, "available": available, "reserved": 0.0,
            "plan": "gold"}


@dataclass(frozen=True)
class Works:
    """A condition that loads, and what it gives for each set of values."""

    when: str
    results: list[tuple[dict[str, Any], bool]] = field(default_factory=list)


@dataclass(frozen=True)
class Refused:
    """A condition refused at load: where (line:column inside it) and a piece of the message."""

    when: str
    line: int
    column: int
    message: str


WORKS = [
    # Whole numbers next to credits, in sums and comparisons.
    Works("available - 1 < 0", [({"available": 0.5}, True), ({"available": 2.5}, False)]),
    Works("available == 0", [({"available": 0.0}, True), ({"available": 0.5}, False)]),
    Works("available <= 0", [({"available": -0.5}, True), ({"available": 2.5}, False)]),
    Works("available < 2", [({"available": 1.5}, True), ({"available": 2.0}, False)]),
    Works("available - 1 - 1 > 0", [({"available": 2.5}, True), ({"available": 2.0}, False)]),
    Works("-1 < available", [({"available": -0.5}, True), ({"available": -1.0}, False)]),
    Works("available - -1 > 0", [({"available": -0.5}, True), ({"available": -1.5}, False)]),
    Works("1 + 2 - available < 0", [({"available": 3.5}, True), ({"available": 3.0}, False)]),
    Works("available * 2 >= cost", [({"available": 0.5, "cost": 1.0}, True),
                                    ({"available": 0.25, "cost": 1.0}, False)]),
    Works("available / 2 < 1", [({"available": 1.5}, True), ({"available": 2.0}, False)]),
    # 3 / 2 is 1.5, not the 1 of whole-number division.
    Works("available < 3 / 2", [({"available": 1.25}, True), ({"available": 1.5}, False)]),
    Works("available in [1, 2]", [({"available": 2.0}, True), ({"available": 2.5}, False)]),
    Works("(has_plan ? available : 0) <= 0", [({"has_plan": False, "available": 3.0}, True),
                                               ({"has_plan": True, "available": 3.0}, False)]),
    Works("balance_age > 300", [({"balance_age": 300.5}, True), ({"balance_age": 12.0}, False)]),
    Works("available - 0x10 > 0", [({"available": 16.5}, True), ({"available": 16.0}, False)]),
    Works("available == 0.5", [({"available": 0.5}, True), ({"available": 0.0}, False)]),
    # A pool's fields are not typed for the checker; whole numbers beside them work too.
    Works("pools.exists(p, p.available - 1 > 0)",
          [({"pools": [_pool(1.5)]}, True), ({"pools": [_pool(0.5)]}, False)]),
    Works('pools.exists(p, p.available > 0 && p.status == "ACTIVE")',
          [({"pools": [_pool(0.5)]}, True), ({"pools": [_pool(0.5, "PAUSED")]}, False)]),
    # Whole-number conditions are left as they are.
    Works("size(pools) > 0", [({"pools": [_pool(1.0)]}, True), ({"pools": []}, False)]),
    Works("[1, 2][0] == 1", [({}, True)]),
    Works('now.getHours("Europe/Lisbon") >= 22',
          [({"now": dt.datetime(2026, 7, 1, 21, 30, tzinfo=dt.UTC)}, True),
           ({"now": dt.datetime(2026, 7, 1, 20, 30, tzinfo=dt.UTC)}, False)]),
    Works('today in ["2026-12-25"]', [({"today": "2026-12-25"}, True),
                                      ({"today": "2026-12-24"}, False)]),
    Works("plans.size() == 0", [({"plans": []}, True), ({"plans": ["gold"]}, False)]),
    Works('"gold" in plans', [({"plans": ["gold"]}, True), ({"plans": ["silver"]}, False)]),
    Works('status == "PAUSED"', [({"status": "PAUSED"}, True), ({"status": "ACTIVE"}, False)]),
    # What the refusals below tell staff to write instead.
    Works("available - double(size(pools)) > 0",
          [({"available": 1.5, "pools": [_pool(1.5)]}, True),
           ({"available": 0.5, "pools": [_pool(0.5)]}, False)]),
    Works("int(available) % 2 == 0", [({"available": 4.5}, True), ({"available": 3.5}, False)]),
    Works("!has_plan", [({"has_plan": False}, True), ({"has_plan": True}, False)]),
    Works("double(size(pools)) > 0.5", [({"pools": [_pool(0.0)]}, True), ({"pools": []}, False)]),
]

REFUSED = [
    # number vs text
    Refused('available == "0"', 1, 11, '`available` is a number, but "0" is text: write '
            "available == 0"),
    Refused('available <= "zero"', 1, 11, "compare it with a number, written without quotes, "
            "like available <= 0"),
    Refused('"2.5" < available', 1, 7, "write 2.5 < available"),
    Refused('available + "1" > 0', 1, 11, "write available + 1"),
    Refused("available == status", 1, 11, "`available` is a number and `status` is text"),
    # yes/no vs text or numbers
    Refused('has_plan == "no"', 1, 10, '`has_plan` is true or false, but "no" is text: write '
            "!has_plan"),
    Refused('signed_in != "yes"', 1, 11, "write !signed_in"),
    Refused("signed_in == 1", 1, 11, "write signed_in"),
    # lists vs one value
    Refused('plans == "gold"', 1, 7, 'write "gold" in plans'),
    Refused('"gold" == plans', 1, 8, 'write "gold" in plans'),
    Refused('plans != "gold"', 1, 7, 'write !("gold" in plans)'),
    Refused("pools > 0", 1, 7, "`pools` is a list, not a number: to count its items, write "
            "size(pools) > 0"),
    Refused("plans == 0", 1, 7, "write size(plans) == 0"),
    Refused('available in ["1", "2"]', 1, 11, "write available in [1, 2]"),
    # text vs numbers
    Refused("status == 1", 1, 8, '`status` is text, but 1 is a number, so they can never be '
            'equal: put the value in quotes, like status == "1"'),
    Refused("service == 42", 1, 9, 'like service == "42"'),
    Refused("today >= 2026", 1, 7, "so they cannot be compared with >="),
    Refused("status < 5", 1, 8, "so they cannot be compared with <"),
    Refused('member == null', 1, 8, 'write member == ""'),
    # times
    Refused('now < "2026-12-25"', 1, 5, 'use today (the date as text), like today < '
            '"2026-12-25"'),
    Refused("now > 22", 1, 5, 'write now.getHours("Europe/Lisbon") > 22'),
    # whole numbers that are not written out: the fix is double()
    Refused("available - size(pools) > 0", 1, 11, "write double(size(pools)) instead of "
            "size(pools)"),
    Refused("available >= size(plans)", 1, 11, "write double(size(plans))"),
    Refused("pools.exists(p, p.available - size(plans) > 0)", 1, 29,
            "`p.available` can have decimals, but `size(plans)` is a whole number"),
    Refused("available % 2 == 0", 1, 11, "write int(available) % 2"),
    # positions stay those of the text as written, after whole numbers were rewritten
    Refused('available - 1 > 0 && has_plan == "no"', 1, 31, "write !has_plan"),
    Refused('available - 1 > 0 &&\n  100 - available < 5 && status == 1', 2, 33,
            'like status == "1"'),
    Refused("available", 1, 1, "this condition gives a number, not true or false"),
]


@pytest.fixture(scope="module")
def engine() -> CelEngine:
    return CelEngine()


def _activation(engine: CelEngine, values: dict[str, Any]) -> Any:
    data = {v.name: _DEFAULTS.get(v.kind, "") for v in VARIABLES}
    unknown = set(values) - set(data)
    assert not unknown, f"not variables: {unknown}"
    return engine.activation({**data, **values})


def test_the_table_is_big_enough() -> None:
    assert len(WORKS) + len(REFUSED) >= 25
    assert all(case.results for case in WORKS)


@pytest.mark.parametrize("case", WORKS, ids=[c.when for c in WORKS])
def test_works(engine: CelEngine, case: Works) -> None:
    condition = engine.compile(case.when)
    assert isinstance(condition, Condition), condition
    assert condition.source == case.when  # shown to staff as they wrote it
    for values, expected in case.results:
        assert condition.evaluate(_activation(engine, values)) is expected, values


@pytest.mark.parametrize("case", REFUSED, ids=[c.when for c in REFUSED])
def test_refused(engine: CelEngine, case: Refused) -> None:
    failure = engine.compile(case.when)
    assert isinstance(failure, CompileFailure), f"{case.when!r} was accepted"
    assert (failure.line, failure.column) == (case.line, case.column), failure
    message = condition_message(failure.message, case.when, failure.operands)
    assert case.message in message
    for jargon in ("overload", "int64", "double,", "(double", "dyn"):
        assert jargon not in message


def test_whole_numbers_are_rewritten_only_where_needed(engine: CelEngine) -> None:
    condition = engine.compile("available - 1 < 0 && size(pools) > 0 && [1, 2][0] == 1")
    assert isinstance(condition, Condition)
    assert condition.rewritten == "available - 1.0 < 0.0 && size(pools) > 0 && [1, 2][0] == 1"
    untouched = engine.compile('status == "PAUSED"')
    assert isinstance(untouched, Condition)
    assert untouched.rewritten == untouched.source


def test_a_number_bound_to_a_python_int_is_a_decimal(engine: CelEngine) -> None:
    condition = engine.compile("available - 1 < 0.5")
    assert isinstance(condition, Condition)
    assert condition.evaluate(_activation(engine, {"available": 1})) is True
    assert condition.evaluate(_activation(engine, {"available": 2})) is False


def test_text_bound_to_a_number_is_an_error_not_a_mismatch(engine: CelEngine) -> None:
    condition = engine.compile("available <= 0")
    assert isinstance(condition, Condition)
    assert condition.evaluate(_activation(engine, {"available": "0"})) is not False
    assert condition.evaluate(_activation(engine, {"available": "0"})) is not True


def test_a_long_chain_of_whole_numbers_still_compiles(engine: CelEngine) -> None:
    chain = "available" + " - 1" * 20 + " > 0"
    condition = engine.compile(chain)
    assert isinstance(condition, Condition)
    assert condition.evaluate(_activation(engine, {"available": 20.5})) is True
    assert condition.evaluate(_activation(engine, {"available": 20.0})) is False


def test_whole_number_arithmetic_loads_from_a_file(tmp_path: Path) -> None:
    # This policy used to be refused with "write 1.0 instead of 1".
    path = tmp_path / "last-credit.yaml"
    path.write_text(
        "apiVersion: booking-gate/v1\n"
        "rules:\n"
        "  - name: last-credit\n"
        "    when: available - 1 > 0\n"
        "    action: allow\n"
    )
    policy_set, problems = check_policies([path])
    assert problems == []
    assert policy_set is not None
    rule = policy_set.rule("last-credit")
    assert rule is not None
    assert rule.condition.source == "available - 1 > 0"
    engine = policy_set.engine
    assert rule.condition.evaluate(_activation(engine, {"available": 1.5})) is True
    assert rule.condition.evaluate(_activation(engine, {"available": 0.5})) is False
