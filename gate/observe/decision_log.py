"""The decision log: one JSON line per decision, with the inputs the rules saw, for replay.

``DecisionLog`` is a ``DecisionObserver``. On the event loop it only puts the event on a
bounded queue: no formatting, no I/O, no lock held for long. A writer thread takes events off
the queue in batches, turns each into a record (``gate.observe.records``), and appends the
lines to a file (or hands them to a ``logging.Handler``). When the queue is full, because the
disk is slow or stuck, the decision is not logged: it is counted in ``dropped`` and a warning
says so, at most once a minute. A checkout never waits for the log.

Each batch goes to the file in one unbuffered write, so a crash loses at most the batch being
written.
``close()`` (or ``aclose()``) writes what is queued and stops the thread; at interpreter exit
this happens by itself. Logging again after ``close()`` starts a new writer, so a gate that
is shut down and started again (ASGI lifespan) keeps logging.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Final, Protocol

from gate.errors import ConfigError
from gate.observe.events import DecisionEvent
from gate.observe.records import record_from_event

__all__ = ["DEFAULT_CAPACITY", "DecisionLog"]

logger = logging.getLogger("booking_gate.decision_log")

#: Decisions waiting to be written before new ones are dropped: a few seconds of a busy gate.
DEFAULT_CAPACITY = 10_000
#: The most records written in one go: bounds the memory of one batch and the loss on a crash.
_BATCH = 512


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Stop:
    """Put on the queue by ``close``: everything before it is written, then the thread ends."""


_STOP: Final = _Stop()
_Item = tuple[DecisionEvent, dt.datetime] | _Stop


class _Sink(Protocol):
    def write(self, lines: list[str]) -> None: ...

    def close(self) -> None: ...


class _FileSink:
    """Appends lines to a file; reopens it when it was moved or deleted (logrotate)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = self._open()

    def _open(self) -> int:
        # 0o600: the log names members and their credits; only the gate's user reads it.
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, lines: list[str]) -> None:
        self._follow_rotation()
        data = "".join(lines).encode("utf-8")
        # O_APPEND: each write lands at the end, whoever else appends to the file.
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def _follow_rotation(self) -> None:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            on_disk = None
        mine = os.fstat(self._fd)
        if on_disk is None or (on_disk.st_dev, on_disk.st_ino) != (mine.st_dev, mine.st_ino):
            os.close(self._fd)
            self._fd = self._open()

    def close(self) -> None:
        os.close(self._fd)


class _HandlerSink:
    """Hands each line to a logging handler, as the message of a record of its own."""

    def __init__(self, handler: logging.Handler) -> None:
        self.handler = handler

    def write(self, lines: list[str]) -> None:
        for line in lines:
            self.handler.handle(logging.LogRecord(
                logger.name, logging.INFO, __file__, 0, line.rstrip("\n"), None, None))
        self.handler.flush()

    def close(self) -> None:
        self.handler.flush()


class DecisionLog:
    """Writes one JSON line per decision to ``target``, off the event loop.

    ``target`` is a file path (appended to, created 0600) or a ``logging.Handler`` (each line
    becomes the message of one record; give it a ``%(message)s`` formatter to keep lines
    replayable). ``capacity`` is how many decisions may wait for the writer; beyond it they are
    dropped and counted. ``warn_every`` is the least number of seconds between two warnings
    about dropped records, on ``clock``. ``now`` dates records whose decision failed before its
    time was taken.
    """

    #: Tells the core to gather the rules' inputs for every decision, even one it remembers:
    #: a record without them could not be replayed.
    wants_facts: ClassVar[bool] = True

    def __init__(
        self,
        target: str | os.PathLike[str] | logging.Handler,
        *,
        capacity: int = DEFAULT_CAPACITY,
        warn_every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        if capacity < 1:
            raise ConfigError("the decision log needs room for at least one record")
        self._target = target
        self._sink: _Sink | None = None
        if not isinstance(target, logging.Handler):
            self._sink = self._open_file(Path(target))  # fails here, at start-up, if it can't
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=capacity)
        self._clock = clock
        self._now = now
        self._warn_every = warn_every
        self._warned_at = float("-inf")
        self._thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []  # every writer started, for the finalizer
        # Starts and stops the writer. observe() takes it only when no writer runs.
        self._lock = threading.Lock()
        #: Decisions not logged because the queue was full (since this log was made).
        self.dropped = 0
        #: Decisions that could not be written (a failing disk, an unencodable record).
        self.failed = 0
        #: Decisions written.
        self.written = 0
        # Written out at interpreter exit even when nobody calls close(); holds no reference
        # to self, so a log nobody uses any more can still be collected (and closed) early.
        self._finalizer = weakref.finalize(self, _shutdown, self._queue, self._threads)

    def __repr__(self) -> str:
        return f"DecisionLog({self._describe()!r})"

    def _describe(self) -> str:
        target = self._target
        return repr(target) if isinstance(target, logging.Handler) else str(target)

    @staticmethod
    def _open_file(path: Path) -> _FileSink:
        try:
            return _FileSink(path)
        except OSError as exc:
            raise ConfigError(f"cannot write the decision log {path}: {exc.strerror}") from None

    # -- the hot path ------------------------------------------------------------------------

    def observe(self, event: DecisionEvent) -> None:
        """Queue ``event`` for the writer; never waits. A full queue drops it and counts it."""
        at = event.facts.now if event.facts is not None else self._now()
        if self._thread is None and not self._start():
            self._drop()
            return
        try:
            self._queue.put_nowait((event, at))
        except queue.Full:
            self._drop()

    def _drop(self) -> None:
        self.dropped += 1
        now = self._clock()
        if now - self._warned_at >= self._warn_every:
            self._warned_at = now
            logger.warning(
                "decision log %s is behind: %d decision(s) not logged so far (%d waiting; is "
                "the disk slow or gone?)", self._describe(), self.dropped, self._queue.qsize())

    # -- the writer --------------------------------------------------------------------------

    def _start(self) -> bool:
        """Start the writer (the first decision, or the first after ``close``); False when
        the file cannot be opened again."""
        with self._lock:
            if self._thread is not None:
                return True
            if self._sink is None:
                target = self._target
                try:
                    self._sink = (_HandlerSink(target) if isinstance(target, logging.Handler)
                                  else self._open_file(Path(target)))
                except ConfigError:
                    return False
            # A daemon: a stuck disk must not keep the process alive. Exit still writes the
            # queue out, through the finalizer, which runs before daemon threads are stopped.
            thread = threading.Thread(target=self._run, args=(self._sink,),
                                      name="booking-gate-decision-records", daemon=True)
            self._threads[:] = [t for t in self._threads if t.is_alive()] + [thread]
            self._thread = thread
            thread.start()
            return True

    def _run(self, sink: _Sink) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = self._write(sink, batch)
            for _ in batch:
                self._queue.task_done()
            if stop:
                return

    def _write(self, sink: _Sink, batch: list[_Item]) -> bool:
        lines: list[str] = []
        stop = False
        for item in batch:
            if isinstance(item, _Stop):
                stop = True
                continue
            try:
                # allow_nan=False: NaN is not JSON, and other readers of the log would choke.
                lines.append(json.dumps(record_from_event(*item), separators=(",", ":"),
                                        allow_nan=False) + "\n")
            except Exception:
                self.failed += 1
                logger.exception("decision log: a decision could not be written as JSON")
        if lines:
            try:
                sink.write(lines)
                self.written += len(lines)
            except Exception as exc:
                # The checkout already went on; say what the log lost, and keep going.
                self.failed += len(lines)
                logger.error("decision log %s: %d decision(s) not written: %s",
                             self._describe(), len(lines), exc)
        return stop

    # -- closing -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Wait until every queued decision is written (blocks: not for the event loop)."""
        if self._thread is not None:
            self._queue.join()

    def close(self, timeout: float | None = 10.0) -> None:
        """Write what is queued, stop the writer and close the file.

        Blocks until done, or ``timeout`` seconds at most: a stuck disk must not hang the
        shutdown. Then the writer is left to finish on its own, and a warning says so.
        """
        with self._lock:
            thread = self._thread
            if thread is not None:
                waiting = self._queue.qsize()
                if not _stop_writer(self._queue, thread, timeout):
                    logger.warning("decision log %s: not everything was written within %g s; "
                                   "%d decision(s) were waiting", self._describe(),
                                   timeout or 0, waiting)
                    return  # the writer still holds the file: leave it open
                # Only now: until here observe() keeps queueing without touching the lock, and
                # what it queued after the stop is written by the next writer, if one starts.
                self._thread = None
            if self._sink is not None:
                self._sink.close()
                self._sink = None

    async def aclose(self) -> None:
        """``close()`` without blocking the event loop."""
        await asyncio.to_thread(self.close)


#: Seconds the interpreter's exit waits for the log to be written, at most.
_EXIT_TIMEOUT = 10.0


def _stop_writer(pending: queue.Queue[_Item], thread: threading.Thread,
                 timeout: float | None) -> bool:
    """Queue the stop after everything waiting and wait for the writer; False on timeout."""
    if not thread.is_alive():
        return True  # it already stopped (a close that timed out): no second stop to queue
    try:
        pending.put(_STOP, timeout=timeout)  # waits for room: nothing queued is dropped
    except queue.Full:
        return False
    thread.join(timeout)
    return not thread.is_alive()


def _shutdown(pending: queue.Queue[_Item], threads: list[threading.Thread]) -> None:
    """At exit (or when the log is collected): let a running writer finish the queue."""
    for thread in threads:
        if thread.is_alive():
            _stop_writer(pending, thread, _EXIT_TIMEOUT)
