"""``booking-gate replay``: what a candidate policy set would have decided for logged checkouts.

Each record of the decision log (``gate.observe.decision_log``) holds the inputs the rules saw.
Replay rebuilds those ``Facts`` and asks the candidate set through the same call the decision
core makes (``PolicySet.decide(facts.as_cel(), member_id, data_age)``), so a rule means the same
thing here as at the checkout. A decision that failed before its inputs were known (Wix down,
an identity that could not be checked) is asked again through ``PolicySet.failed`` with the
logged cause, as the core does: it shows what a changed ``on_error`` would have done.

What replay cannot know (docs/decision-log.md): it uses the logged credits, not today's; a
decision changed early in the log does not change the credits later records saw (a checkout the
candidate refuses would have held no credits); a new ``max_age`` makes old records fail it,
where the gate would have read Wix again first.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.observe.records import (
    DecisionRecord,
    RecordError,
    decision_from_record,
    facts_from_record,
    parse_record,
)
from gate.policy.cases import describe
from gate.policy.decision import Decision
from gate.policy.policyset import PolicySet

__all__ = ["Change", "Example", "ReplayReport", "open_log", "replay"]

#: Why a line was not replayed, as reported (``RecordError.kind`` and "no_inputs").
SKIP_REASONS = {
    "unreadable": "not a decision record (not JSON, or no schema field)",
    "schema": "written in another record format (schema)",
    "invalid": "a decision record with missing or malformed fields",
    "no_inputs": "failed before its inputs were known, with no cause to replay",
}


def _verdict(decision: Decision) -> tuple[str, int, str | None, str | None, bool, str]:
    """What a member got, for comparing two decisions: the outcome and the rule that gave it.

    The deny message is not in the log, so a changed message alone is not a change here.
    """
    out = decision.outcome
    return (out.action, out.status, out.location, out.reason, out.return_to, decision.rule)


def _as_dict(decision: Decision) -> dict[str, Any]:
    out = decision.outcome
    return {"action": out.action, "status": out.status, "location": out.location,
            "reason": out.reason, "rule": decision.rule, "describe": describe(decision)}


@dataclass(frozen=True, slots=True)
class Example:
    """One changed decision, to look at: where it is in the log and what changed."""

    line: int
    at: str
    member: str | None
    service: str
    path: str
    method: str
    old: Decision
    new: Decision

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "at": self.at, "member": self.member,
                "service": self.service, "path": self.path, "method": self.method,
                "old": _as_dict(self.old), "new": _as_dict(self.new)}


@dataclass(slots=True)
class Change:
    """Every record whose decision went from ``old`` to ``new`` (as ``_verdict`` compares)."""

    old: Decision
    new: Decision
    count: int = 0
    examples: list[Example] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"from": _as_dict(self.old), "to": _as_dict(self.new), "count": self.count}


@dataclass(slots=True)
class ReplayReport:
    """What replaying a log against one candidate set found."""

    candidate: str
    #: Non-blank lines read.
    total: int = 0
    #: Records the candidate decided again (``total - skipped``).
    replayed: int = 0
    #: Of those, records that failed before their inputs were known: judged by ``on_error``.
    without_inputs: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    #: The first line skipped for each reason, with what was wrong with it.
    first_skipped: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: The policy versions that made the logged decisions, and how many each made.
    logged_versions: Counter[str] = field(default_factory=Counter)
    #: How often each of the candidate's shadow rules would have acted.
    shadow: Counter[str] = field(default_factory=Counter)
    _changes: dict[tuple[Any, ...], Change] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(c.count for c in self._changes.values())

    @property
    def changes(self) -> list[Change]:
        """Most frequent first; ties in the order they first appeared."""
        return sorted(self._changes.values(), key=lambda c: -c.count)

    @property
    def examples(self) -> list[Example]:
        return [e for c in self.changes for e in c.examples]

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "total": self.total,
            "replayed": self.replayed,
            "changed": self.changed,
            "unchanged": self.replayed - self.changed,
            "without_inputs": self.without_inputs,
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": {
                reason: {"count": n, "first_line": self.first_skipped[reason][0],
                         "problem": self.first_skipped[reason][1]}
                for reason, n in sorted(self.skipped.items())
            },
            "logged_versions": dict(self.logged_versions.most_common()),
            "changes": [c.as_dict() for c in self.changes],
            "examples": [e.as_dict() for e in self.examples],
            "shadow": dict(self.shadow.most_common()),
        }

    def skip(self, line: int, reason: str, problem: str) -> None:
        """Count a line the candidate cannot judge, keeping the first of each reason."""
        self.skipped[reason] += 1
        self.first_skipped.setdefault(reason, (line, problem))

    def add(self, line: int, record: DecisionRecord, new: Decision, examples: int,
            on_change: Callable[[Example], None] | None = None) -> None:
        """Count one replayed record; keep it as an example if its decision changed."""
        self.replayed += 1
        self.without_inputs += record.inputs is None
        self.logged_versions[record.policy] += 1
        self.shadow.update(new.shadow)
        old = decision_from_record(record)
        key = (_verdict(old), _verdict(new))
        if key[0] == key[1]:
            return
        change = self._changes.get(key)
        if change is None:
            change = self._changes[key] = Change(old, new)
        change.count += 1
        if len(change.examples) >= examples and on_change is None:
            return
        example = Example(line, record.at.isoformat(), record.member, record.service,
                          record.path, record.method, old, new)
        if len(change.examples) < examples:
            change.examples.append(example)
        if on_change is not None:
            on_change(example)


def open_log(path: Path | str) -> Iterator[str]:
    """The lines of a decision log; ``.gz`` files (rotated logs) are read as they are, and
    ``-`` is standard input.

    Lines that are not UTF-8 come through with replacement characters and then fail as
    unreadable records, one by one, instead of ending the replay.
    """
    if str(path) == "-":
        raw_stdin = getattr(sys.stdin, "buffer", None)
        if raw_stdin is None:  # already text (a StringIO in tests, an embedding app)
            yield from sys.stdin
            return
        yield from io.TextIOWrapper(raw_stdin, encoding="utf-8", errors="replace",
                                    newline="\n")
        return
    path = Path(path)
    with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as raw, \
            io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="\n") as text:
        yield from text


def replay(
    lines: Iterable[str],
    candidate: PolicySet,
    *,
    examples: int = 3,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 10_000,
    on_change: Callable[[Example], None] | None = None,
) -> ReplayReport:
    """Decide every record of ``lines`` again with ``candidate`` and count what changes.

    ``examples`` is how many changed records to keep for each kind of change. ``progress`` is
    called with the number of lines read, every ``progress_every`` lines. ``on_change`` is
    called with every changed record, not only the examples kept.
    """
    report = ReplayReport(candidate=candidate.version)
    for number, line in enumerate(lines, start=1):
        if progress is not None and number % progress_every == 0:
            progress(number)
        if not line.strip():
            continue
        report.total += 1
        try:
            record = parse_record(line)
        except RecordError as exc:
            report.skip(number, exc.kind, str(exc))
            continue
        new = _decide(record, candidate)
        if new is None:
            report.skip(number, "no_inputs", "no inputs and no cause")
        else:
            report.add(number, record, new, examples, on_change)
    return report


def _decide(record: DecisionRecord, candidate: PolicySet) -> Decision | None:
    """The candidate's decision, by the calls the decision core makes; None: cannot say."""
    facts = facts_from_record(record, candidate.today)
    if facts is None:
        cause = record.outcome.cause
        if cause is None:
            return None
        return candidate.failed(record.outcome.error_kind or "unknown", record.member,
                                cause=cause)
    data_age = facts.balance_age if facts.balance is not None else None
    return candidate.decide(facts.as_cel(), facts.identity.member_id, data_age)


def render_text(report: ReplayReport, source: str) -> str:
    """The report as people read it."""
    out = [f"replayed {report.replayed} of {report.total} decision(s) from {source} against "
           f"policy version {report.candidate}"]
    if report.logged_versions:
        versions = ", ".join(f"{v} ({n})" for v, n in report.logged_versions.most_common())
        out.append(f"  logged under policy version(s): {versions}")
    if report.without_inputs:
        out.append(f"  {report.without_inputs} of them failed before their inputs were known "
                   "(Wix down, identity unchecked): judged by on_error alone")
    changed = report.changed
    out.append(f"{changed} would change, {report.replayed - changed} would stay the same")
    for change in report.changes:
        out.append(f"  {change.count:>7}  {describe(change.old)}  ->  {describe(change.new)}")
        for ex in change.examples:
            who = _shown(ex.member) if ex.member is not None else "(signed out)"
            out.append(f"             e.g. line {ex.line}: {ex.at} member {who} service "
                       f"{_shown(ex.service)} {_shown(ex.method)} {_shown(ex.path)}")
    if report.shadow:
        out.append("shadow rules of the candidate would have acted: " + ", ".join(
            f"{name} ({n})" for name, n in report.shadow.most_common()))
    skipped = sum(report.skipped.values())
    if skipped:
        out.append(f"{skipped} line(s) skipped, not replayed:")
        for reason, n in sorted(report.skipped.items()):
            line, problem = report.first_skipped[reason]
            out.append(f"  {n:>7}  {SKIP_REASONS[reason]} (first at line {line}: {problem})")
    return "\n".join(out)


def _shown(text: str) -> str:
    # Paths and ids come from visitors: a control character must not reach the terminal.
    return text if text.isprintable() and text else repr(text)
