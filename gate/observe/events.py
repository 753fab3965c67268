"""The one record of a decision that every observer receives."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from gate.policy.context import Facts
from gate.policy.decision import Decision

__all__ = ["DecisionEvent", "DecisionObserver", "DecisionTracer"]


@dataclass(frozen=True, slots=True)
class DecisionEvent:
    """One decision and what it was made from.

    ``facts`` are the inputs the rules saw (balance snapshot, service, path, method, time);
    None when the decision failed before they were gathered (identity or upstream failure).
    ``elapsed`` is seconds from the question to the answer. ``cached`` is true when every
    input came from memory without waiting on anything (no Wix call could have happened).
    """

    decision: Decision
    service_id: str
    path: str
    method: str
    facts: Facts | None
    elapsed: float
    cached: bool


class DecisionObserver(Protocol):
    """Sees every decision once. Runs on the hot path: cheap, non-blocking, never raises."""

    def observe(self, event: DecisionEvent) -> None: ...


class DecisionTracer(Protocol):
    """Wraps a decision that may call Wix, so upstream calls become its children.

    Only used when tracing is really on (an OpenTelemetry SDK is installed and configured);
    decisions made from memory are not wrapped and are recorded by the tracer's observer.
    """

    def decision_span(self, service_id: str, method: str) -> AbstractContextManager[object]: ...
