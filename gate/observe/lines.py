"""The decision log line (``booking_gate.decision``), written off the hot path.

Building a ``LogRecord``, formatting it and writing it costs tens of microseconds: more than
a cached decision itself. So a decision only appends what the line needs to a queue (no
record, no formatting, no I/O); a writer thread, started on the first line, turns the queue
into ordinary log records every ``interval`` seconds, with each record's time set to when the
decision was made. Handlers, filters and formatters configured for ``booking_gate.decision``
apply as usual (or, for plain stream handlers, the same bytes are written without records: see
below). When the level is off, nothing is queued or written.

The writer's CPU still shares the interpreter with the requests, so records are prepared once:
each kind of line, a (decision, service, path), is a ``Line``, kept (``line()``) and given
again to whoever holds it (a kept decision, ``gate.decision.kept``, queues its own with
``add_line``: no lookup at all). Its record is built once, values and fields included; each
line written is a shallow copy of it with its own time and its own fields. That saves about
30% of a line's cost; the handlers' own work (formatting, writing) is what remains.

That work is most of it (about 20 µs a line through a ``StreamHandler``), and in the usual
set-up it gives the same text for every line of one record: ``basicConfig`` or
``show_decision_lines`` with a format that shows no time. So, for a batch, when every handler a
line reaches (walking the loggers as ``Logger.callHandlers`` does) is a plain ``StreamHandler``
(not a subclass) without filters, whose formatter is a plain ``Formatter`` (or none) whose
format uses none of the fields that differ between lines (``asctime``, ``created``, ``msecs``,
``relativeCreated``), no logger on the way has filters or is disabled, and no two of the
handlers share a stream: each record's text for a (formatter, terminator) is made once and
kept with the record, and each handler gets one ``write`` of its lines (at most
``_WRITE_LINES``) and one ``flush``. The bytes written are the ones the records would give,
handler levels included; errors go to the handler's ``handleError`` as in ``emit``, a format's
once a line, a write's once a write. Otherwise (or with no handler at all, where logging falls
back to ``lastResort``) the batch goes through records as above. Measured on a null stream,
``flush()`` costs about 1.2 µs a line this way, against 15 to 22 µs through records.

Lines reach the handlers up to ``interval`` late; ``flush()`` (called when the gate closes)
writes whatever is waiting. Past ``max_pending`` waiting lines, new ones are dropped and
counted, and the count is logged: a stuck handler must not grow memory without bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TextIO

from gate.data.expiring import remember
from gate.policy.decision import Decision

__all__ = ["DecisionLines", "Line", "show_decision_lines"]

_Handler = logging.StreamHandler[TextIO]
#: What a record's text depends on in a plain ``StreamHandler``: its formatter and terminator.
_TextKey = tuple[logging.Formatter | None, str]
#: What ``relativeCreated`` counts from, as logging does (its own start is private).
_START = time.time()
#: Records kept ready, at most; past it the set starts again (made-up paths cannot grow it).
_TEMPLATES_MAX = 4096
#: Lines whose path and service id are longer than this together are built each time.
_TEMPLATE_TEXT_MAX = 512
#: Texts kept per record: one per formatter met, so a formatter replaced now and then cannot
#: grow them.
_TEXTS_MAX = 8
#: Lines joined into one write, at most: a backlog needs no string as large as itself.
_WRITE_LINES = 1024
#: The record fields that differ between the lines of one record (``thread`` and
#: ``threadName`` do not: each line's are the writer's).
_TIME_FIELDS = ("asctime", "created", "msecs", "relativeCreated")


def _level(decision: Decision) -> int:
    """A decision's line level: WARNING for the fail mode's, INFO for the others."""
    return logging.WARNING if decision.error else logging.INFO


class Line:
    """One kind of decision line: a decision, about a service, on a path. Its record and
    texts are built the first time one is written, and only under the writer's lock."""

    __slots__ = ("decision", "level", "path", "record", "service_id", "texts")

    def __init__(self, decision: Decision, service_id: str, path: str) -> None:
        self.level = _level(decision)
        self.decision = decision
        self.service_id = service_id
        self.path = path
        self.record: logging.LogRecord | None = None
        #: The record's text per plain handler's (formatter, terminator).
        self.texts: dict[_TextKey, str] = {}


_Pending = tuple[float, Line]


class DecisionLines:
    def __init__(
        self, logger: logging.Logger, *, interval: float = 0.05, max_pending: int = 100_000,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._max_pending = max_pending
        self._pending: deque[_Pending] = deque()
        self._writer: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one drain at a time keeps lines in order
        # Keyed by the decision's value (equal decisions give equal lines) and the question's
        # text.
        self._templates: dict[tuple[Decision, str, str], Line] = {}
        #: Lines not written because ``max_pending`` were already waiting.
        self.dropped = 0

    def add(self, decision: Decision, service_id: str, path: str) -> None:
        """Queue one decision's line."""
        if self._logger.isEnabledFor(_level(decision)):
            self.add_line(self.line(decision, service_id, path))

    def add_line(self, line: Line) -> None:
        """Queue one ``line`` (from ``line()``); the hot path's whole cost of logging it."""
        if not self._logger.isEnabledFor(line.level):
            return
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            return
        self._pending.append((time.time(), line))
        if self._writer is None:
            self._start()

    def line(self, decision: Decision, service_id: str, path: str) -> Line:
        """The ``Line`` for ``decision`` about ``service_id`` on ``path``, kept for the next."""
        key = (decision, service_id, path)
        line = self._templates.get(key)
        if line is None:
            line = Line(decision, service_id, path)
            # Paths and ids are the visitor's: long ones are not kept, so the set stays small.
            if len(path) + len(service_id) <= _TEMPLATE_TEXT_MAX:
                remember(self._templates, key, line, _TEMPLATES_MAX)
        return line

    def flush(self) -> None:
        """Write every waiting line now, in the calling thread."""
        with self._lock:
            pending = self._pending
            if pending:
                # Decided once a batch: handlers change rarely, and each line must not pay it.
                plain = _plain_handlers(self._logger)
                if plain is None:
                    while pending:
                        self._write(*pending.popleft())
                else:
                    while pending:
                        self._write_plain(pending, plain)
            if self.dropped:
                dropped, self.dropped = self.dropped, 0
                self._logger.warning("%d decision log lines were dropped: the log handlers "
                                     "could not keep up", dropped)

    def close(self) -> None:
        """Stop the writer and write what is left."""
        self._stop.set()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.join(timeout=5.0)
        self.flush()
        self._stop.clear()

    def _start(self) -> None:
        writer = threading.Thread(target=self._run, name="booking-gate-decision-log",
                                  daemon=True)
        self._writer = writer
        writer.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception:  # a broken handler must not end the writer
                logging.getLogger("booking_gate").exception("writing decision log lines failed")

    def _write(self, created: float, line: Line) -> None:
        self._logger.handle(_copy(self._record(line), created))

    def _record(self, line: Line) -> logging.LogRecord:
        """``line``'s record, built the first time it is written."""
        record = line.record
        if record is None:
            record = line.record = self._make_record(line)
        return record

    def _write_plain(self, pending: deque[_Pending], handlers: list[_Handler]) -> None:
        """Up to ``_WRITE_LINES`` waiting lines straight to plain stream handlers, each
        handler's lines in one write (see the module's docstring for when this applies)."""
        # A handler met twice on the way up gets each line twice, in order, as logging does.
        targets = [(handler, handler.level, (handler.formatter, handler.terminator))
                   for handler in handlers]
        texts: dict[_Handler, list[str]] = {handler: [] for handler in handlers}
        first: dict[_Handler, logging.LogRecord] = {}  # what handleError is shown
        # This loop runs once a line, on the requests' CPU: attribute reads, no lookups.
        for _ in range(min(len(pending), _WRITE_LINES)):
            created, line = pending.popleft()
            kept = line.texts
            for handler, handler_level, text_key in targets:
                if line.level < handler_level:
                    continue
                text = kept.get(text_key)
                if text is None:
                    record = self._record(line)
                    try:
                        # A copy: formatting sets fields (message) a kept record must not keep.
                        text = handler.format(_copy(record, created)) + handler.terminator
                    except RecursionError:  # as StreamHandler.emit: not the handler's error
                        raise
                    except Exception:
                        handler.handleError(record)
                        continue
                    remember(kept, text_key, text, _TEXTS_MAX)
                lines = texts[handler]
                if not lines:
                    first[handler] = self._record(line)
                lines.append(text)
        for handler, lines in texts.items():
            if lines:
                _write_lines(handler, "".join(lines), first[handler])

    def _make_record(self, line: Line) -> logging.LogRecord:
        decision, service_id, path = line.decision, line.service_id, line.path
        return self._logger.makeRecord(
            self._logger.name, line.level, "gate/decision/core.py", 0,
            # %r for what the visitor controls: a newline must not forge a second log line.
            # One template, its values apart (record.args): tools that group lines by message
            # (Sentry, for the fail mode's warnings) see one kind of line, not one per member.
            "decision action=%s rule=%s policy=%s status=%s data=%s member=%r service=%r "
            "path=%r%s%s",
            (decision.action, decision.rule, decision.policy_version, decision.outcome.status,
             decision.data, decision.member_id, service_id, path,
             f" shadow={','.join(decision.shadow)}" if decision.shadow else "",
             f" error={decision.error!r} cause={decision.cause}" if decision.error else ""),
            None, extra={"booking_gate": {
                "action": decision.action,
                "rule": decision.rule,
                "policy": decision.policy_version,
                "member": decision.member_id,
                "service": service_id,
                "error": decision.error,
                "error_kind": decision.error_kind,
                "cause": decision.cause,
                "shadow": list(decision.shadow),
                "data": decision.data,
            }})


def _copy(template: logging.LogRecord, created: float) -> logging.LogRecord:
    """A shallow copy of ``template`` made at ``created``."""
    # Not the template itself: a handler may keep records (MemoryHandler, QueueHandler), and
    # each line has its own time. The fields get their own dict too: a filter that rewrites one
    # (redaction) must not rewrite every later line.
    record = object.__new__(type(template))
    fields = template.__dict__
    record.__dict__.update(fields)
    record.booking_gate = {**fields["booking_gate"],
                           "shadow": list(fields["booking_gate"]["shadow"])}
    record.created = created
    record.msecs = (created - int(created)) * 1000
    record.relativeCreated = (created - _START) * 1000
    return record


def _plain_handlers(logger: logging.Logger) -> list[_Handler] | None:
    """The handlers ``logger``'s lines reach, in the order ``Logger.callHandlers`` calls them,
    when all of them would write the same text for every line of a record; else None."""
    found: list[_Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        # Stricter than logging (it applies only the first logger's filters and disabled):
        # whatever is not plain goes the records' way, which is always right.
        if current.filters or current.disabled:
            return None
        for handler in current.handlers:
            # A subclass may write, format or filter as it likes: only records show it all.
            if type(handler) is not logging.StreamHandler or handler.filters:
                return None
            if not _same_text_each_line(handler.formatter):
                return None
            found.append(handler)
        current = current.parent if current.propagate else None
    distinct = set(found)
    # No handler: logging writes to lastResort. Two on one stream: records interleave them
    # line by line, one write per handler would not.
    if not found or len({id(handler.stream) for handler in distinct}) < len(distinct):
        return None
    return found


def _same_text_each_line(formatter: logging.Formatter | None) -> bool:
    """Whether ``formatter`` gives every copy of a record the same text."""
    if formatter is None:  # logging's default: %(message)s
        return True
    if type(formatter) is not logging.Formatter or formatter.usesTime():
        return False
    fmt = formatter._style._fmt  # the format string, whichever the style (%, {, $)
    return not any(field in fmt for field in _TIME_FIELDS)


def _write_lines(handler: _Handler, text: str, record: logging.LogRecord) -> None:
    """``StreamHandler.emit`` for several lines' text at once."""
    handler.acquire()
    try:
        handler.stream.write(text)
        handler.flush()
    except RecursionError:  # as emit does
        raise
    except Exception:
        handler.handleError(record)
    finally:
        handler.release()


def show_decision_lines(root: logging.Logger) -> bool:
    """Under a server that configures no logging (plain uvicorn configures only its own
    loggers), decision lines would go nowhere: send ``booking_gate`` to stderr at INFO then,
    once, at start-up. Any handler on the root logger or on ``booking_gate`` means the
    application chose where logs go, and nothing is changed. True when a handler was added."""
    gate_logger = logging.getLogger("booking_gate")
    if root.handlers or gate_logger.handlers:
        return False
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    gate_logger.addHandler(handler)
    if gate_logger.level == logging.NOTSET:
        gate_logger.setLevel(logging.INFO)
    gate_logger.info("no logging is configured: booking-gate writes its decision lines to "
                     "stderr (configure the 'booking_gate' logger to change this)")
    return True
