"""The decision log line: one record per decision, pre-formatted, each with its own time."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from gate.observe.lines import DecisionLines, show_decision_lines
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
    assert [key[2] for key in lines._templates] == ["/book"]


# The fast path: plain stream handlers with a format that shows no time get each record's
# text once and one write per batch. The output must be the bytes the records would give.

SERVE_FORMAT = "%(levelname)s %(name)s: %(message)s"  # `booking-gate serve`, the demo, stderr
SHADOW = Decision(Outcome("deny", 403), "members-only", "v1", shadow=("new-rule", "beta"),
                  member_id="m-2", data="stale")
LONG_PATH = "/book/" + "x" * 600
LINES = [
    (ALLOW, "svc-1", "/book/yoga"),
    (FAILED, "svc-1", "/book"),
    (SHADOW, "svc-2", "/book/pilates"),
    (ALLOW, "svc-1", LONG_PATH),
    (ALLOW, "svc-1", "/book/yoga"),
    (FAILED, "svc-1", "/book"),
    (ALLOW, "svc\n1", "/book\ndecision action=allow rule=forged"),
]


def chain(*handlers: logging.Handler, on_root: bool = False) -> logging.Logger:
    """``booking_gate.decision`` under ``booking_gate`` under a root of its own (pytest's
    capture handlers are on the real root): the handlers on ``booking_gate``, as
    ``show_decision_lines`` puts them, or on the root, as ``basicConfig`` does."""
    root = logging.RootLogger(logging.INFO)
    gate = logging.Logger("booking_gate")
    gate.parent = root
    decision = logging.Logger("booking_gate.decision")
    decision.parent = gate
    for handler in handlers:
        (root if on_root else gate).addHandler(handler)
    return decision


def stream_handler(
    formatter: logging.Formatter | None = None,
) -> logging.StreamHandler[io.StringIO]:
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(formatter)  # None: logging's default, %(message)s
    return handler


def through(logger: logging.Logger, monkeypatch: pytest.MonkeyPatch,
            lines: list[tuple[Decision, str, str]] = LINES) -> int:
    """Writes ``lines`` through ``logger``; how many records logging handled for them (none
    when the fast path wrote them)."""
    handled: list[logging.LogRecord] = []
    handle = logging.Logger.handle

    def counted(self: logging.Logger, record: logging.LogRecord) -> None:
        handled.append(record)
        handle(self, record)

    with monkeypatch.context() as patch:
        patch.setattr(logging.Logger, "handle", counted)
        queue = DecisionLines(logger, interval=60)  # close() writes them all, in one batch
        for decision, service_id, path in lines:
            queue.add(decision, service_id, path)
        queue.close()
    return len(handled)


@pytest.mark.parametrize("filtered", [False, True], ids=["fast-path", "records"])
def test_a_line_queued_by_reference_writes_what_add_writes(filtered: bool) -> None:
    """A kept decision queues its ``Line`` (``add_line``): the same bytes as ``add``, and the
    level (WARNING for the fail mode) goes with it."""
    def write(by_reference: bool) -> str:
        handler = stream_handler(logging.Formatter(SERVE_FORMAT))
        if filtered:
            handler.addFilter(lambda record: True)
        handler.setLevel(logging.WARNING if filtered else logging.INFO)
        queue = DecisionLines(chain(handler), interval=60)
        for decision, service_id, path in LINES:
            if by_reference:
                queue.add_line(queue.line(decision, service_id, path))
            else:
                queue.add(decision, service_id, path)
        queue.close()
        return handler.stream.getvalue()

    written = write(by_reference=True)
    assert written == write(by_reference=False)
    assert written.count("\n") == (2 if filtered else len(LINES))
    assert written.startswith("WARNING booking_gate.decision: decision action=redirect" if filtered
                              else "INFO booking_gate.decision: decision action=allow")


def test_equal_decisions_share_one_line_and_long_paths_get_their_own() -> None:
    queue = DecisionLines(chain(stream_handler()))
    allow = Decision(Outcome("allow", 200), "(default)", "v1", member_id="m-1", data="fresh")
    assert queue.line(ALLOW, "svc-1", "/book") is queue.line(allow, "svc-1", "/book")
    assert queue.line(ALLOW, "svc-1", "/book") is not queue.line(ALLOW, "svc-2", "/book")
    assert queue.line(ALLOW, "svc-1", LONG_PATH) is not queue.line(ALLOW, "svc-1", LONG_PATH)
    assert queue.line(FAILED, "svc-1", "/book").level == logging.WARNING


@pytest.mark.parametrize("formatter", [
    logging.Formatter(SERVE_FORMAT),
    None,
    logging.Formatter("{levelname} {name}: {message} {booking_gate[shadow]}", style="{"),
    logging.Formatter("$levelname $name: $message", style="$"),
], ids=["percent", "default", "braces", "dollar"])
def test_the_fast_path_writes_the_bytes_the_records_would(
    formatter: logging.Formatter | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = stream_handler(formatter)
    assert through(chain(fast), monkeypatch) == 0
    slow = stream_handler(formatter)
    slow.addFilter(lambda record: True)  # a filter: records, one by one
    assert through(chain(slow), monkeypatch) == len(LINES)
    written = fast.stream.getvalue()
    assert written == slow.stream.getvalue()
    assert written.count("\n") == len(LINES)
    assert f"path={LONG_PATH!r}" in written
    assert "shadow=new-rule,beta" in written
    assert "error='upstream_timeout: Wix did not answer' cause=upstream" in written
    if formatter is not None and formatter._style._fmt == SERVE_FORMAT:
        assert written.startswith(
            "INFO booking_gate.decision: decision action=allow rule=(default) policy=v1 "
            "status=200 data=fresh member='m-1' service='svc-1' path='/book/yoga'\n"
            "WARNING booking_gate.decision: decision action=redirect rule=(on_error)")


def test_the_fast_path_serves_the_projects_own_set_ups(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    basic = stream_handler(logging.Formatter(SERVE_FORMAT))
    assert through(chain(basic, on_root=True), monkeypatch) == 0  # serve's basicConfig
    assert basic.stream.getvalue().count("\n") == len(LINES)
    # show_decision_lines itself, on the real booking_gate logger, under a root with no
    # handler (as when nothing is configured: the only time it adds one).
    gate_logger = logging.getLogger("booking_gate")
    before = list(gate_logger.handlers), gate_logger.level
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    try:
        assert show_decision_lines(logging.Logger("bare-root"))
        added = gate_logger.handlers[-1]
        assert isinstance(added, logging.StreamHandler)
        added.setStream(io.StringIO())
        logger = logging.getLogger("booking_gate.test_decision_lines_fast")
        assert through(logger, monkeypatch) == 0
        assert added.stream.getvalue().startswith(
            "INFO booking_gate.test_decision_lines_fast: decision action=allow")
    finally:
        gate_logger.handlers[:] = before[0]
        gate_logger.setLevel(before[1])


class Tee(logging.StreamHandler[io.StringIO]):
    """A stream handler of the application's own: it may write as it likes."""


class Stamped(logging.Formatter):
    """A formatter of the application's own: it may add what it likes."""


def slow_set_up(name: str, tmp_path: Path) -> tuple[logging.Logger, logging.Handler]:
    """A set-up where lines must go through records, and the handler that shows them."""
    if name == "file":
        file = logging.FileHandler(tmp_path / "lines.log", encoding="utf-8")
        return chain(file), file
    if name == "handler subclass":
        tee = Tee(io.StringIO())
        return chain(tee), tee
    if name == "shared stream":
        one, two = stream_handler(), stream_handler()
        two.setStream(one.stream)  # records interleave their lines; one write each would not
        return chain(one, two), one
    formatters = {"asctime": logging.Formatter("%(asctime)s " + SERVE_FORMAT),
                  "msecs": logging.Formatter("{msecs} {message}", style="{"),
                  "formatter subclass": Stamped(SERVE_FORMAT)}
    handler = stream_handler(formatters.get(name, logging.Formatter(SERVE_FORMAT)))
    logger = chain(handler)
    if name == "handler filter":
        handler.addFilter(lambda record: True)
    elif name == "logger filter":
        assert logger.parent is not None
        logger.parent.addFilter(lambda record: True)
    else:
        assert name in formatters
    return logger, handler


@pytest.mark.parametrize("set_up", ["handler filter", "logger filter", "asctime", "msecs",
                                    "formatter subclass", "handler subclass", "file",
                                    "shared stream"])
def test_other_set_ups_get_records_as_before(
    set_up: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, handler = slow_set_up(set_up, tmp_path)
    assert through(logger, monkeypatch) == len(LINES)
    if isinstance(handler, logging.FileHandler):
        handler.close()
        written = (tmp_path / "lines.log").read_text(encoding="utf-8")
    else:
        assert isinstance(handler, logging.StreamHandler)
        written = handler.stream.getvalue()
    per_line = 2 if set_up == "shared stream" else 1
    assert written.count("\n") == len(LINES) * per_line
    assert f"path={LONG_PATH!r}" in written
    if set_up == "shared stream":  # each line twice in a row, as logging writes it
        rows = written.splitlines()
        assert rows[0::2] == rows[1::2]


def test_with_no_handler_logging_falls_back_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert through(chain(), monkeypatch) == len(LINES)
    assert capsys.readouterr().err.count("cause=upstream\n") == 2  # lastResort: warnings only


def test_a_handler_on_two_loggers_gets_each_line_twice_as_logging_does(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = stream_handler(logging.Formatter(SERVE_FORMAT))
    logger = chain(handler)
    logger.addHandler(handler)
    assert through(logger, monkeypatch) == 0
    rows = handler.stream.getvalue().splitlines()
    assert len(rows) == 2 * len(LINES)
    assert rows[0::2] == rows[1::2]


def test_the_fast_path_keeps_each_handlers_level(monkeypatch: pytest.MonkeyPatch) -> None:
    everything = stream_handler(logging.Formatter(SERVE_FORMAT))
    warnings = stream_handler(logging.Formatter(SERVE_FORMAT))
    warnings.setLevel(logging.WARNING)
    assert through(chain(everything, warnings), monkeypatch) == 0
    assert everything.stream.getvalue().count("\n") == len(LINES)
    rows = warnings.stream.getvalue().splitlines()
    assert len(rows) == 2
    assert all(row.startswith("WARNING booking_gate.decision: ") for row in rows)


class Flaky(io.StringIO):
    """A stream that fails while ``failing``, as a full disk or a closed pipe does."""

    failing = True

    def write(self, text: str) -> int:
        if self.failing:
            raise OSError("no space left on device")
        return super().write(text)


def test_a_failing_stream_goes_to_handle_error_and_later_lines_still_go_out(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = Flaky()
    handler: logging.StreamHandler[Flaky] = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(SERVE_FORMAT))
    errors: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", errors.append)  # still a plain StreamHandler
    lines = DecisionLines(chain(handler), interval=60)
    lines.add(ALLOW, "svc-1", "/book/yoga")
    lines.add(FAILED, "svc-1", "/book")
    lines.flush()  # raises nothing
    assert [record.msg for record in errors] == [errors[0].msg]
    assert errors[0].msg.startswith("decision action=%s")
    stream.failing = False
    lines.add(ALLOW, "svc-2", "/later")
    lines.flush()
    assert lines._writer is not None and lines._writer.is_alive()
    lines.close()
    assert stream.getvalue().endswith("service='svc-2' path='/later'\n")
    assert stream.getvalue().count("\n") == 1


def test_a_format_that_fails_goes_to_handle_error_once_a_line(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = stream_handler(logging.Formatter("%(missing)s %(message)s"))
    errors: list[logging.LogRecord] = []
    monkeypatch.setattr(broken, "handleError", errors.append)
    working = stream_handler(logging.Formatter(SERVE_FORMAT))
    assert through(chain(broken, working), monkeypatch) == 0
    assert len(errors) == len(LINES)
    assert broken.stream.getvalue() == ""
    assert working.stream.getvalue().count("\n") == len(LINES)


def test_a_new_formatter_changes_the_lines_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = stream_handler(logging.Formatter(SERVE_FORMAT))
    logger = chain(handler)
    lines = DecisionLines(logger, interval=60)
    lines.add(ALLOW, "svc-1", "/book/yoga")
    lines.flush()
    handler.setFormatter(logging.Formatter("[{levelname}] {message}", style="{"))
    lines.add(ALLOW, "svc-1", "/book/yoga")
    lines.flush()
    handler.terminator = "\r\n"
    lines.add(ALLOW, "svc-1", "/book/yoga")
    lines.close()
    first, second, third = handler.stream.getvalue().split("\n")[:3]
    assert first.startswith("INFO booking_gate.decision: decision action=allow")
    assert second.startswith("[INFO] decision action=allow")
    assert third.startswith("[INFO] decision action=allow") and third.endswith("\r")
    assert len(lines._templates) == 1  # one record, its texts kept with it


class Writes(io.StringIO):
    """Counts the writes it is given."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_a_backlog_is_written_in_bounded_writes_and_in_order(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = Writes()
    handler: logging.StreamHandler[Writes] = logging.StreamHandler(stream)
    many = [(ALLOW, "svc-1", f"/book/{n}") for n in range(2500)]
    assert through(chain(handler), monkeypatch, many) == 0
    assert stream.writes == 3  # 1024 lines a write at most: no string as large as a backlog
    rows = stream.getvalue().splitlines()
    assert [row.rsplit("/", 1)[1] for row in rows] == [f"{n}'" for n in range(2500)]
