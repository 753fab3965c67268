"""booking-gate replay: a candidate policy set asked again about logged checkouts.

The log comes from the real decision core (``tests.test_decision_log.run_population``: 1,200
decisions of a varied population). Each candidate's changed decisions are compared with an
independent computation in plain Python over the logged JSON, never through the gate's code.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import math
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gate.cli.main import main
from gate.cli.replay import Example, open_log, replay
from gate.policy.compiler import load_policies
from tests.test_decision_log import POLICY, Population, run_population, write_policy

#: Wix Bookings, the one app whose benefits pay for sessions; written out, not imported.
BOOKINGS_APP = "13d21c63-b5ec-5912-8397-c3a5ddb27a97"

LOW_BALANCE = """\
  - name: low-balance
    when: sessions_left < 2
    action: redirect
    to: /top-up
    reason: low-balance

"""
OPEN_WHEN_WIX_IS_DOWN = "on_error:\n  upstream:\n    action: allow\n\n"
CLOSED_OVERNIGHT = """\
  - name: closed-overnight
    when: now.getHours("Europe/Lisbon") >= 22 || now.getHours("Europe/Lisbon") < 7
    action: deny
    message: Online booking opens at 7:00.
    reason: closed-overnight

"""
CLOSED_ON_KIRITIMATI_DAY = """\
  - name: closed-today
    when: today == "2026-03-04"
    action: deny
    message: Closed today.

"""


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Population:
    return run_population(tmp_path_factory.mktemp("replay"))


@pytest.fixture(scope="module")
def records(population: Population) -> list[dict[str, Any]]:
    return [json.loads(line) for line in population.log.read_text().splitlines()]


def candidate(folder: Path, *, before: str = "", rule: str = "", after_rule: str = "",
              settings: str = "") -> Path:
    """The tests' policy with ``rule`` inserted before the rule named ``before``."""
    text = POLICY
    if rule:
        anchor = f"  - name: {before}\n" if before else "  - name: unknown-service\n"
        assert anchor in text
        text = text.replace(anchor, rule + anchor)
    if settings:
        text = text.replace("\nrules:\n", "\n" + settings + "rules:\n")
    return write_policy(folder, text + after_rule)


# -- the independent computations: plain Python over the JSON --------------------------------

def sessions_left(record: dict[str, Any]) -> Decimal:
    """Sessions of the service the member's credits pay for, pool by pool (Wix's rules)."""
    inputs = record["inputs"]
    service, balance = inputs["service"], inputs["balance"]
    if balance is None or not service["known"]:
        return Decimal(0)
    total = Decimal(0)
    for pool in balance["pools"]:
        if pool["status"] not in ("ACTIVE", "RENEWING", "PROVISIONING"):
            continue
        if pool["namespace"] != "@wix/pricing-plans":
            continue
        if service["fixed_cost"] is not None:
            price = Decimal(service["fixed_cost"])
        else:
            prices = [Decimal(b["price"]) for b in pool["benefits"] or ()
                      if b["item_set"] in service["item_sets"] and b["provider"] == BOOKINGS_APP]
            if not prices:
                continue
            price = min(prices)
        credits = max(Decimal(pool["available"]), Decimal(0))
        if price >= 0 and credits >= price:
            total += Decimal("Infinity") if price == 0 else Decimal(math.floor(credits / price))
    return total


def expected_low_balance(line: int, record: dict[str, Any]) -> bool:
    inputs = record["inputs"]
    return (inputs is not None and inputs["service"]["known"]  # else unknown-service first
            and inputs["identity"]["member"] is not None  # else sign-in-first first
            and sessions_left(record) < 2)


def expected_open_when_down(line: int, record: dict[str, Any]) -> bool:
    return bool(record["outcome"]["cause"] == "upstream")  # identity failures never open


def expected_overnight(line: int, record: dict[str, Any]) -> bool:
    if record["inputs"] is None:
        return False
    hour = dt.datetime.fromisoformat(record["inputs"]["now"]).astimezone(
        ZoneInfo("Europe/Lisbon")).hour
    return hour >= 22 or hour < 7


def expected_kiritimati_day(line: int, record: dict[str, Any]) -> bool:
    if record["inputs"] is None:
        return False
    day = dt.datetime.fromisoformat(record["inputs"]["now"]).astimezone(
        ZoneInfo("Pacific/Kiritimati")).date()
    return day == dt.date(2026, 3, 4)


CANDIDATES = {
    "low-balance": ({"before": "plan-paused", "rule": LOW_BALANCE}, expected_low_balance),
    "open-when-wix-is-down": ({"settings": OPEN_WHEN_WIX_IS_DOWN}, expected_open_when_down),
    "closed-overnight": ({"rule": CLOSED_OVERNIGHT}, expected_overnight),
    # The candidate's own time zone makes `today`: not the UTC date the log was written with.
    "closed-today": ({"rule": CLOSED_ON_KIRITIMATI_DAY,
                      "settings": "timezone: Pacific/Kiritimati\n\n"}, expected_kiritimati_day),
}


@pytest.mark.parametrize("name", CANDIDATES)
def test_the_changed_decisions_are_exactly_the_independent_ones(
    name: str, population: Population, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    options, expected = CANDIDATES[name]
    policies = load_policies([candidate(tmp_path / name, **options)])
    changed: list[Example] = []
    report = replay(open_log(population.log), policies, on_change=changed.append)
    want = {n for n, r in enumerate(records, start=1) if expected(n, r)}
    assert want, "the population must give this candidate something to change"
    assert len(want) < len(records), "and something to leave alone"
    assert {e.line for e in changed} == want
    assert report.changed == len(want)
    assert (report.total, report.replayed, sum(report.skipped.values())) == (1200, 1200, 0)
    assert report.without_inputs == sum(r["inputs"] is None for r in records)
    # Counted per (old → new) as the independent computation counts them.
    by_kind = Counter((records[n - 1]["outcome"]["rule"], e.new.rule)
                      for n, e in zip(sorted(want), sorted(changed, key=lambda e: e.line),
                                      strict=True))
    assert {(c.old.rule, c.new.rule): c.count for c in report.changes} == dict(by_kind)


def test_the_policies_that_decided_change_nothing(population: Population) -> None:
    report = replay(open_log(population.log), load_policies([population.policies]))
    assert (report.total, report.replayed, report.changed) == (1200, 1200, 0)
    assert report.logged_versions == Counter({load_policies([population.policies]).version: 1200})


def test_the_low_balance_candidate_sends_them_to_top_up(
    population: Population, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    folder = candidate(tmp_path / "c", before="plan-paused", rule=LOW_BALANCE)
    report = replay(open_log(population.log), load_policies([folder]))
    for change in report.changes:
        assert change.new.outcome.location == "/top-up?reason=low-balance"
        assert change.new.rule == "low-balance"
        assert change.old.rule != "low-balance"
    # Members booking their last session were let through before and are not now.
    last_session = sum(1 for r in records if r["outcome"]["rule"] == "(default)"
                       and r["inputs"]["identity"]["member"] is not None
                       and sessions_left(r) == 1)
    assert last_session > 0
    assert next(c.count for c in report.changes if c.old.rule == "(default)") == last_session


# -- the command -----------------------------------------------------------------------------

def test_json_report_shape(
    population: Population, records: list[dict[str, Any]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = candidate(tmp_path / "c", before="plan-paused", rule=LOW_BALANCE)
    assert main(["replay", str(population.log), "--policies", str(folder),
                 "--format", "json", "--examples", "2"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert {"total", "replayed", "changed", "unchanged", "changes", "examples", "skipped",
            "skipped_by_reason", "without_inputs", "logged_versions", "candidate",
            "shadow"} <= body.keys()
    want = sum(expected_low_balance(n, r) for n, r in enumerate(records, start=1))
    assert (body["total"], body["changed"], body["skipped"]) == (1200, want, 0)
    assert body["unchanged"] == 1200 - want
    assert sum(c["count"] for c in body["changes"]) == want
    counts = [c["count"] for c in body["changes"]]
    assert counts == sorted(counts, reverse=True)
    change = body["changes"][0]
    assert set(change) == {"from", "to", "count"}
    assert {"action", "status", "location", "reason", "rule", "describe"} <= change["to"].keys()
    assert len(body["examples"]) <= 2 * len(body["changes"])
    example = body["examples"][0]
    assert {"line", "at", "member", "service", "path", "method", "old", "new"} <= example.keys()
    assert records[example["line"] - 1]["member"] == example["member"]
    assert example["new"]["rule"] == "low-balance"


def test_text_report(population: Population, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = candidate(tmp_path / "c", before="plan-paused", rule=LOW_BALANCE)
    assert main(["replay", str(population.log), "--policies", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"replayed 1200 of 1200 decision(s) from {population.log}")
    assert re.search(r"^\s+\d+  allow \(rule \(default\)\)  ->  redirect "
                     r"/top-up\?reason=low-balance \(rule low-balance\)$", out, re.M)
    assert re.search(r"e\.g\. line \d+: 2026-03-\d\dT[\d:.+]+ member \S+ service \S+ "
                     r"(GET|POST) /", out)


def test_fail_on_change_for_ci(population: Population, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = candidate(tmp_path / "c", before="plan-paused", rule=LOW_BALANCE)
    assert main(["replay", str(population.log), "--policies", str(folder),
                 "--fail-on-change"]) == 1
    assert main(["replay", str(population.log), "--policies", str(population.policies),
                 "--fail-on-change"]) == 0


def test_a_policy_error_names_file_line_and_column(
    population: Population, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_policy(tmp_path / "broken",
                          POLICY.replace('status == "PAUSED"', "status == PAUSED"))
    assert main(["replay", str(population.log), "--policies", str(folder)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no report: nothing was replayed
    assert re.search(rf"^{re.escape(str(folder / '10-checkout.yaml'))}:\d+:\d+: .*PAUSED",
                     captured.err, re.M)
    assert main(["replay", str(population.log), "--policies", str(folder),
                 "--format", "json"]) == 2
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert problems and {"file", "line", "column", "message"} <= problems[0].keys()


def test_a_missing_log_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "nope.jsonl"), "--policies",
                 str(write_policy(tmp_path / "p"))]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_lines_it_cannot_judge_are_counted_not_dropped(
    population: Population, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = population.log.read_text().splitlines(keepends=True)
    newer = json.loads(lines[0])
    newer["schema"] = 2
    broken = json.loads(lines[1])
    broken["inputs"] = {"now": "yesterday"}
    mixed = [
        "this is not json\n", "\n", lines[0], json.dumps(newer) + "\n", "[1, 2]\n",
        json.dumps(broken) + "\n", lines[2][: len(lines[2]) // 2] + "\n",  # cut short
        "\xff\xfe garbage\n", *lines[3:],
    ]
    mixed_log = tmp_path / "mixed.jsonl"
    mixed_log.write_text("".join(mixed))
    assert main(["replay", str(mixed_log), "--policies", str(population.policies),
                 "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["skipped"] == 6
    assert {k: v["count"] for k, v in body["skipped_by_reason"].items()} == {
        "unreadable": 4, "schema": 1, "invalid": 1}
    assert body["skipped_by_reason"]["unreadable"]["first_line"] == 1
    assert body["skipped_by_reason"]["schema"]["first_line"] == 4
    assert "inputs" in body["skipped_by_reason"]["invalid"]["problem"]
    assert (body["total"], body["replayed"]) == (1198 + 6, 1198)
    assert main(["replay", str(mixed_log), "--policies", str(population.policies)]) == 0
    out = capsys.readouterr().out
    assert "6 line(s) skipped, not replayed:" in out
    assert "first at line 1" in out


def test_a_file_of_nothing_replayable_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "access.log"
    junk.write_text('127.0.0.1 - - "GET / HTTP/1.1" 200\n' * 3)
    assert main(["replay", str(junk), "--policies", str(write_policy(tmp_path / "p"))]) == 2
    assert "none of the 3 line(s)" in capsys.readouterr().err


def test_rotated_gzip_logs_and_progress(
    population: Population, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rotated = tmp_path / "decisions.jsonl.1.gz"
    text = population.log.read_bytes()
    with gzip.open(rotated, "wb") as out:
        out.write(text * 9)  # 10,800 lines: one progress line at 10,000
    assert main(["replay", str(rotated), "--policies", str(population.policies),
                 "--format", "json", "--progress"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["replayed"] == 10_800
    assert captured.err.splitlines() == ["booking-gate replay: 10000 lines read"]
    # Without --progress, and stderr not a terminal: quiet.
    assert main(["replay", str(population.log), "--policies", str(population.policies),
                 "--format", "json"]) == 0
    assert capsys.readouterr().err == ""


def test_progress_is_reported_by_the_library_too(population: Population) -> None:
    seen: list[int] = []
    replay(open_log(population.log), load_policies([population.policies]),
           progress=seen.append, progress_every=500)
    assert seen == [500, 1000]


def test_standard_input_for_several_days_at_once(
    population: Population, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    days = population.log.read_text() * 2  # `zcat day1.gz day2.gz | booking-gate replay -`
    monkeypatch.setattr("sys.stdin", io.StringIO(days))
    assert main(["replay", "-", "--policies", str(population.policies), "--format",
                 "json"]) == 0
    assert json.loads(capsys.readouterr().out)["replayed"] == 2400
