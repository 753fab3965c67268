"""OpenTelemetry spans for decisions and the Wix calls they make, through the API only.

``make_tracer()`` looks at the tracer provider once, when the gate is built. Without an SDK
configured (the API's default proxy or no-op provider) it returns None and the gate has no
wrapper, no observer and no hook: tracing then costs nothing at all. With one, each decision
that may call Wix is a ``booking_gate.decision`` span, each Wix attempt inside it a
``booking_gate.upstream`` child span, and a decision made from memory is recorded after the
fact with its real start time.

Spans carry what decided and what the gate called, never who: no member id, no path (its
query may hold anything), no token, no secret. The service id is shortened to 128 characters,
since a visitor can make one up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider

from gate.observe.events import DecisionEvent

__all__ = ["DECISION_SPAN", "UPSTREAM_SPAN", "GateTracer", "make_tracer"]

DECISION_SPAN = "booking_gate.decision"
UPSTREAM_SPAN = "booking_gate.upstream"
_SERVICE_CHARS = 128


def make_tracer(provider: TracerProvider | None = None) -> GateTracer | None:
    """A GateTracer from ``provider`` (default: the global one), or None when it is the API's
    default (no SDK installed or configured) or gives no-op tracers (the SDK disabled)."""
    # Imported here: gate/__init__ sets __version__ after importing what imports this module.
    from gate import __version__

    provider = provider if provider is not None else trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    tracer = provider.get_tracer("booking_gate", __version__)
    if isinstance(tracer, trace.NoOpTracer | trace.ProxyTracer):
        return None
    return GateTracer(tracer)


class GateTracer:
    """A ``DecisionTracer`` and ``DecisionObserver``, and the Wix client's ``upstream_span``."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        # The decision span this task is inside, if any: ``observe`` annotates that one and
        # never whatever other span (a web framework's) happens to be current.
        self._decision: ContextVar[Span | None] = ContextVar(
            f"booking_gate_decision_span_{id(self):x}", default=None)

    def __repr__(self) -> str:
        return f"GateTracer({self._tracer!r})"

    @contextmanager
    def decision_span(self, service_id: str, method: str) -> Iterator[Span]:
        """The span of one decision that may call Wix; its Wix calls become its children."""
        with self._tracer.start_as_current_span(
            DECISION_SPAN, kind=SpanKind.INTERNAL,
            attributes={"booking_gate.service": service_id[:_SERVICE_CHARS],
                        "booking_gate.method": method},
        ) as span:
            token = self._decision.set(span)
            try:
                yield span
            finally:
                self._decision.reset(token)

    def observe(self, event: DecisionEvent) -> None:
        """Say how the decision came out, on its span; record one made from memory now."""
        span = self._decision.get()
        if span is not None:
            _annotate(span, event)
            return
        # Not wrapped (decided from memory, without awaiting): the span is made after the
        # fact, starting when the decision did.
        end = time.time_ns()
        span = self._tracer.start_span(
            DECISION_SPAN, kind=SpanKind.INTERNAL, start_time=end - int(event.elapsed * 1e9),
            attributes={"booking_gate.service": event.service_id[:_SERVICE_CHARS],
                        "booking_gate.method": event.method},
        )
        _annotate(span, event)
        span.end(end_time=end)

    @contextmanager
    def upstream_span(self, endpoint: str, method: str) -> Iterator[Callable[[str], None]]:
        """One Wix attempt; the transport calls what this yields with how it ended."""
        # The transport says how the attempt ended through the mark; its exception's text is
        # not recorded (it would add nothing the attributes do not say).
        with self._tracer.start_as_current_span(
            UPSTREAM_SPAN, kind=SpanKind.CLIENT, record_exception=False,
            set_status_on_exception=False,
            attributes={"booking_gate.endpoint": endpoint, "http.request.method": method},
        ) as span:
            yield partial(_mark_upstream, span)


def _annotate(span: Span, event: DecisionEvent) -> None:
    decision = event.decision
    span.set_attributes({
        "booking_gate.outcome": decision.outcome.action,
        "booking_gate.rule": decision.rule,
        "booking_gate.status": decision.outcome.status,
        "booking_gate.data": decision.data,
        "booking_gate.cached": event.cached,
        "booking_gate.policy_version": decision.policy_version,
    })
    if decision.shadow:
        span.set_attribute("booking_gate.shadow", list(decision.shadow))
    if decision.error is not None:
        # The kind only: the error text quotes Wix's own message.
        kind = decision.error_kind or "error"
        span.set_attributes({"booking_gate.cause": decision.cause or "upstream",
                             "booking_gate.error_kind": kind, "error.type": kind})
        span.set_status(Status(StatusCode.ERROR, kind))


def _mark_upstream(span: Span, status: str) -> None:
    span.set_attribute("booking_gate.upstream_status", status)
    if status.isdigit():
        code = int(status)
        span.set_attribute("http.response.status_code", code)
        if code >= 400:
            span.set_attribute("error.type", status)
            span.set_status(Status(StatusCode.ERROR))
    else:  # no answer: timeout, error, or not sent (budget, breaker_open)
        span.set_attribute("error.type", status)
        span.set_status(Status(StatusCode.ERROR, status))
