"""The decision log line: one record per decision, pre-formatted, each with its own time."""

from __future__ import annotations

import logging

import pytest

from gate.observe.lines import DecisionLines
from gate.policy.decision import Decision, Outcome

ALLOW = Decision(Outcome("allow", 200), "(default)", "v1", member_id="m-1", data="fresh")
FAILED = Decision(Outcome("redirect", 303, location="/plans"), "(on_error)", "v1",
                  error="upstream_timeout: Wix did not answer", cause="upstream")


class Keeper(logging.Handler):
    """Keeps every record it is given, as MemoryHandler and QueueHandler do."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def kept() -> tuple[logging.Logger, Keeper]:
    logger = logging.getLogger("booking_gate.decision.test_lines")
    keeper = Keeper()
    logger.handlers[:] = [keeper]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, keeper


def test_each_line_is_its_own_record_with_its_own_time(
    kept: tuple[logging.Logger, Keeper], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, keeper = kept
    lines = DecisionLines(logger)
    times = iter([1000.25, 2000.5, 3000.75])
    monkeypatch.setattr("gate.observe.lines.time.time", lambda: next(times))
    for _ in range(3):
        lines.add(ALLOW, "svc-1", "/book/yoga")
    monkeypatch.undo()
    lines.close()
    first, second, third = keeper.records
    assert len({id(first), id(second), id(third)}) == 3
    assert [r.created for r in keeper.records] == [1000.25, 2000.5, 3000.75]
    assert [round(r.msecs) for r in keeper.records] == [250, 500, 750]
    assert first.getMessage() == third.getMessage() == (
        "decision action=allow rule=(default) policy=v1 status=200 data=fresh member='m-1' "
        "service='svc-1' path='/book/yoga'")
    assert first.levelno == logging.INFO
    assert first.booking_gate["member"] == "m-1"  # type: ignore[attr-defined]
    assert first.booking_gate["data"] == "fresh"  # type: ignore[attr-defined]


def test_what_a_visitor_sent_cannot_forge_a_line(kept: tuple[logging.Logger, Keeper]) -> None:
    logger, keeper = kept
    lines = DecisionLines(logger)
    lines.add(ALLOW, "svc\n1", "/book\ndecision action=allow rule=forged")
    lines.close()
    (record,) = keeper.records
    assert "\n" not in record.getMessage()
    assert "path='/book\\ndecision action=allow rule=forged'" in record.getMessage()


def written(kept: tuple[logging.Logger, Keeper],
            *lines: tuple[Decision, str, str]) -> list[logging.LogRecord]:
    """The records a handler receives for these (decision, service, path) lines."""
    logger, keeper = kept
    queue = DecisionLines(logger)
    for decision, service_id, path in lines:
        queue.add(decision, service_id, path)
    queue.close()
    return keeper.records


def test_a_decision_the_fail_mode_made_is_a_warning_with_its_cause(
    kept: tuple[logging.Logger, Keeper]
) -> None:
    failed, allowed = written(kept, (FAILED, "svc-1", "/book"), (ALLOW, "svc-1", "/book"))
    assert failed.levelno == logging.WARNING
    assert failed.getMessage().endswith(
        "error='upstream_timeout: Wix did not answer' cause=upstream")
    assert failed.booking_gate["error_kind"] == "upstream_timeout"  # type: ignore[attr-defined]
    assert allowed.levelno == logging.INFO


def test_nothing_is_queued_when_the_level_is_off(kept: tuple[logging.Logger, Keeper]) -> None:
    logger, keeper = kept
    logger.setLevel(logging.ERROR)
    lines = DecisionLines(logger)
    lines.add(ALLOW, "svc-1", "/book")
    lines.add(FAILED, "svc-1", "/book")
    assert not lines._pending
    lines.close()
    assert keeper.records == []


def test_many_different_lines_keep_a_bounded_set_of_templates(
    kept: tuple[logging.Logger, Keeper]
) -> None:
    logger, keeper = kept
    lines = DecisionLines(logger)
    for n in range(5000):
        lines.add(ALLOW, "svc-1", f"/book/{n}")
    lines.close()
    assert len(keeper.records) == 5000
    assert keeper.records[-1].getMessage().endswith("path='/book/4999'")
    assert len(lines._templates) <= 4096


def test_a_filter_that_rewrites_a_field_rewrites_only_its_own_line(
    kept: tuple[logging.Logger, Keeper]
) -> None:
    logger, keeper = kept

    class Redact(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            fields = record.booking_gate  # type: ignore[attr-defined]
            fields["member"] = f"h({fields['member']})"
            fields["shadow"].append("seen")
            return True

    logger.addFilter(Redact())
    lines = DecisionLines(logger)
    for _ in range(3):
        lines.add(ALLOW, "svc-1", "/book")
    lines.close()
    assert [r.booking_gate["member"] for r in keeper.records] == ["h(m-1)"] * 3  # type: ignore[attr-defined]
    assert [r.booking_gate["shadow"] for r in keeper.records] == [["seen"]] * 3  # type: ignore[attr-defined]


def test_lines_keep_one_template_with_their_values_apart(
    kept: tuple[logging.Logger, Keeper]
) -> None:
    """Tools that group log lines by message (Sentry) see one kind of decision line."""
    first, second = written(kept, (ALLOW, "svc-1", "/book"), (ALLOW, "svc-2", "/other"))
    assert first.msg == second.msg
    assert first.msg.startswith("decision action=%s rule=%s")
    assert first.args != second.args
    assert second.getMessage().endswith("service='svc-2' path='/other'")


def test_long_paths_are_written_but_not_kept(kept: tuple[logging.Logger, Keeper]) -> None:
    logger, keeper = kept
    lines = DecisionLines(logger)
    long_path = "/book/" + "x" * 2000
    lines.add(ALLOW, "svc-1", long_path)
    lines.add(ALLOW, "svc-1", "/book")
    lines.close()
    assert keeper.records[0].getMessage().endswith(f"path={long_path!r}")
    assert [key[3] for key in lines._templates] == ["/book"]
