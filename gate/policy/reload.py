"""Hot reload: watch the policy files, validate a new set whole, and swap it in atomically.

The running set is one attribute. A reload builds a complete new PolicySet off to the side
(in a worker thread: YAML and CEL compilation take milliseconds) and replaces the attribute
in one assignment, so a request sees either the old set or the new one, never a mixture. An
invalid new set is refused whole; the last good set keeps serving and the failure is logged
with positions and reported by ``status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gate.errors import PolicyProblem
from gate.policy.compiler import check_policies
from gate.policy.policyset import PolicySet

__all__ = ["RELOAD_RESULTS", "PolicyReloader", "ReloadResult", "warn_if_fails_open"]

logger = logging.getLogger("booking_gate.reload")

Fingerprint = tuple[tuple[str, int, int], ...]

#: How a reload attempt can end: a new version serves; the files changed but the rules did not;
#: the new set was invalid and refused (the old one serves); the attempt itself failed.
RELOAD_RESULTS = ("applied", "unchanged", "refused", "error")


def warn_if_fails_open(policies: PolicySet) -> None:
    """Log, at WARNING, each cause for which ``policies`` lets people in without a check."""
    for warning in policies.warnings:
        if warning.code == "fails-open":
            logger.warning("policy version %s fails open: %s", policies.version, warning)


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What the last reload attempt did."""

    ok: bool
    changed: bool
    version: str
    at: str
    problems: tuple[PolicyProblem, ...] = field(default=())


class PolicyReloader:
    """Owns the current PolicySet for one gate and replaces it when the files change."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        initial: PolicySet,
        *,
        interval: float | None,
        wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.paths = tuple(Path(p) for p in paths)
        self.current = initial
        self.interval = interval
        self._wall_clock = wall_clock
        self._fingerprint = self._scan()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.loaded_at = wall_clock().isoformat()
        self.last = ReloadResult(ok=True, changed=True, version=initial.version,
                                 at=self.loaded_at)
        #: Reload attempts since start-up, by result (``RELOAD_RESULTS``); a check that found
        #: the files untouched is not an attempt. For metrics.
        self.results: Counter[str] = Counter()

    def _scan(self) -> Fingerprint:
        """Names, sizes and modification times of the policy files: cheap to compare."""
        entries: list[tuple[str, int, int]] = []
        for path in self.paths:
            files = sorted(path.iterdir()) if path.is_dir() else [path]
            for file in files:
                try:
                    stat = file.stat()
                except OSError:
                    continue
                entries.append((str(file), stat.st_mtime_ns, stat.st_size))
        return tuple(entries)

    async def reload(self, *, force: bool = False) -> ReloadResult:
        """Load the files now if they changed (or always, with ``force``); swap if valid."""
        try:
            return await self._reload(force)
        except Exception:
            self.results["error"] += 1
            raise

    async def _reload(self, force: bool) -> ReloadResult:
        async with self._lock:  # two reloads at once would race to assign `current`
            fingerprint = self._scan()
            if not force and fingerprint == self._fingerprint:
                return self.last
            self._fingerprint = fingerprint
            started = time.perf_counter()
            # A fresh engine per load: the compile runs in a thread, and the serving set's
            # engine is busy evaluating on the event loop.
            candidate, problems = await asyncio.to_thread(check_policies, list(self.paths))
            at = self._wall_clock().isoformat()
            if candidate is None:
                self.results["refused"] += 1
                self.last = ReloadResult(False, False, self.current.version, at, tuple(problems))
                logger.error(
                    "policy reload refused; still serving version %s. %d problem(s):\n%s",
                    self.current.version, len(problems), "\n".join(str(p) for p in problems),
                )
                return self.last
            changed = candidate.version != self.current.version
            self.results["applied" if changed else "unchanged"] += 1
            if changed:
                self.current = candidate  # the one atomic step
                self.loaded_at = at
                logger.info("policies reloaded: version %s, %d rules, in %.1f ms",
                            candidate.version, len(candidate.rules),
                            (time.perf_counter() - started) * 1000)
                warn_if_fails_open(candidate)
            self.last = ReloadResult(True, changed, candidate.version, at)
            return self.last

    @property
    def idle(self) -> bool:
        """True while watching is wanted but not started yet."""
        return self.interval is not None and self._task is None

    def start(self) -> None:
        """Begin watching, on the running event loop; a no-op when already watching or off."""
        if self.interval is None or self._task is not None:
            return
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        assert self.interval is not None
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.reload()
            except Exception:  # the watcher must outlive any one bad reload
                logger.exception("policy reload failed unexpectedly; still serving version %s",
                                 self.current.version)
