"""OpenTelemetry spans over real HTTP: a decision span, its Wix calls as children, no secrets.

The SDK's global tracer provider can be set once per process, so these tests hand a provider
to the gate (``tracing=provider``); the "no SDK, no tracer" detection runs in fresh
interpreters, where the global provider is really unset (or really set).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from gate.observe.events import DecisionEvent
from gate.observe.tracing import DECISION_SPAN, UPSTREAM_SPAN, GateTracer, make_tracer
from gate.policy.decision import Decision, Outcome
from tests.conftest import CHECKOUT, YOGA, Emulator

ROUTES = {
    "balances/query": "POST /benefit-programs/v1/balances/query",
    "pools/query": "POST /benefit-programs/v1/pools/query",
    "items/query": "POST /benefit-programs/v1/items/query",
    "token-info": "POST /oauth2/token-info",
}


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def test_a_cold_checkout_is_one_decision_span_with_its_wix_calls_as_children(
    gated: Callable[..., Any], emulator: Emulator, provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    url, gate = gated(tracing=provider)
    token = emulator.token("ana")
    response = httpx.get(url + CHECKOUT, headers={"Authorization": token})
    assert response.text == "checkout page"
    spans = exporter.get_finished_spans()

    (decision,) = named(spans, DECISION_SPAN)
    assert decision.kind is SpanKind.INTERNAL
    assert decision.attributes is not None
    assert dict(decision.attributes) == {
        "booking_gate.service": YOGA, "booking_gate.method": "GET",
        "booking_gate.outcome": "allow", "booking_gate.rule": "(default)",
        "booking_gate.status": 200, "booking_gate.data": "fresh",
        "booking_gate.cached": False, "booking_gate.policy_version": gate.policies.version,
    }
    assert decision.status.status_code is StatusCode.UNSET

    upstream = named(spans, UPSTREAM_SPAN)
    assert decision.context is not None
    for span in upstream:
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None
        assert span.parent.span_id == decision.context.span_id
        assert span.context is not None
        assert span.context.trace_id == decision.context.trace_id
        assert span.attributes is not None
        assert span.attributes["http.response.status_code"] == 200
        assert span.attributes["booking_gate.upstream_status"] == "200"
    # One child per request Wix received, endpoint by endpoint.
    endpoints = sorted(ROUTES[str(s.attributes["booking_gate.endpoint"])] for s in upstream
                       if s.attributes is not None)
    calls = emulator.admin.get("/_emulator/calls").json()["calls"]
    assert endpoints == sorted(r for r, n in calls.items() for _ in range(n))
    assert "POST /oauth2/token-info" in endpoints

    # Nothing that identifies the member, nor the token, is on any span.
    text = repr([dict(s.attributes or {}) for s in spans])
    assert emulator.members["ana"] not in text
    assert token not in text


def test_a_decision_from_memory_has_no_children(
    gated: Callable[..., Any], emulator: Emulator, provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    url, _ = gated(tracing=provider)
    headers = {"Authorization": emulator.token("ana")}
    httpx.get(url + CHECKOUT, headers=headers)
    exporter.clear()
    assert httpx.get(url + CHECKOUT, headers=headers).text == "checkout page"
    (span,) = exporter.get_finished_spans()
    assert span.name == DECISION_SPAN
    assert span.attributes is not None
    assert span.attributes["booking_gate.outcome"] == "allow"
    assert span.attributes["booking_gate.cached"] is True  # decided without awaiting
    assert span.start_time is not None and span.end_time is not None
    assert span.start_time <= span.end_time


def test_the_fail_mode_marks_both_spans_as_errors(
    gated: Callable[..., Any], emulator: Emulator, provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    url, _ = gated(tracing=provider)
    emulator.fault(ROUTES["balances/query"], status=503, times=1)
    response = httpx.get(url + CHECKOUT, headers={"Authorization": emulator.token("eve")})
    assert response.status_code == 503
    spans = exporter.get_finished_spans()
    (decision,) = named(spans, DECISION_SPAN)
    assert decision.attributes is not None
    assert decision.attributes["booking_gate.rule"] == "(on_error)"
    assert decision.attributes["booking_gate.error_kind"] == "upstream_unavailable"
    assert decision.attributes["booking_gate.cause"] == "upstream"
    assert decision.attributes["booking_gate.data"] == "none"
    assert decision.status.status_code is StatusCode.ERROR
    (failed,) = [s for s in named(spans, UPSTREAM_SPAN)
                 if s.attributes is not None and s.attributes["booking_gate.upstream_status"]
                 == "503"]
    assert failed.attributes is not None
    assert failed.attributes["booking_gate.endpoint"] == "balances/query"
    assert failed.attributes["http.response.status_code"] == 503
    assert failed.status.status_code is StatusCode.ERROR
    assert not failed.events  # the exception's text is not recorded


def _allow() -> Decision:
    return Decision(Outcome("allow", 200), "(default)", "v1", data="fresh")


def test_a_memory_decision_is_recorded_after_the_fact_with_its_start(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracer = make_tracer(provider)
    assert isinstance(tracer, GateTracer)
    tracer.observe(DecisionEvent(_allow(), "svc-" + "x" * 300, "/booking-form?token=abc",
                                 "GET", None, 0.0025, cached=True))
    (span,) = exporter.get_finished_spans()
    assert span.start_time is not None and span.end_time is not None
    assert span.end_time - span.start_time == 2_500_000
    assert span.attributes is not None
    assert span.attributes["booking_gate.cached"] is True
    assert len(str(span.attributes["booking_gate.service"])) == 128
    assert "token=abc" not in repr(dict(span.attributes))  # the path is never recorded


def test_observe_annotates_its_own_span_not_the_current_one(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """Outside a decision span (say, inside a web framework's), observe makes its own span."""
    tracer = make_tracer(provider)
    assert tracer is not None
    outer = provider.get_tracer("test")
    with outer.start_as_current_span("http request"):
        tracer.observe(DecisionEvent(_allow(), "svc", "/", "GET", None, 0.001, cached=True))
        with tracer.decision_span("svc", "GET"):
            tracer.observe(DecisionEvent(_allow(), "svc", "/", "GET", None, 0.001, False))
    spans: dict[str, list[ReadableSpan]] = defaultdict(list)
    for span in exporter.get_finished_spans():
        spans[span.name].append(span)
    (request,) = spans["http request"]
    assert "booking_gate.outcome" not in (request.attributes or {})
    first, second = spans[DECISION_SPAN]
    assert request.context is not None
    for span in (first, second):
        assert span.parent is not None
        assert span.parent.span_id == request.context.span_id
        assert span.attributes is not None
        assert span.attributes["booking_gate.rule"] == "(default)"
    assert [s.attributes["booking_gate.cached"] for s in (first, second)
            if s.attributes is not None] == [True, False]


def test_the_api_defaults_and_a_disabled_sdk_give_no_tracer() -> None:
    assert make_tracer(trace.NoOpTracerProvider()) is None
    assert make_tracer(trace.ProxyTracerProvider()) is None
    disabled = subprocess.run(
        [sys.executable, "-c", textwrap.dedent("""
            from opentelemetry.sdk.trace import TracerProvider
            from gate.observe.tracing import make_tracer
            assert make_tracer(TracerProvider()) is None
            """)],
        env={"OTEL_SDK_DISABLED": "true", "PATH": "", "PYTHONPATH": ":".join(sys.path)},
        capture_output=True, text=True, check=False)
    assert disabled.returncode == 0, disabled.stderr


_ASSEMBLE = """
import sys, time
from gate.config.assemble import assemble
from gate.identity import TrustedHeaderResolver
from gate.policy.shipped import shipped_policies
from gate.data.sources import StaticBalanceSource
from gate.observe.tracing import GateTracer
{setup}
parts = assemble(policies=shipped_policies(), reload_interval=None,
                 source=StaticBalanceSource(sys.argv[1], clock=time.monotonic),
                 resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])])
print(type(parts.tracing).__name__, len(parts.core.observers),
      parts.core._tracer is parts.tracing)
"""


@pytest.mark.parametrize(("setup", "printed"), [
    pytest.param("", "NoneType 0 True", id="no-sdk-no-tracer"),
    pytest.param("from opentelemetry import trace\n"
                 "from opentelemetry.sdk.trace import TracerProvider\n"
                 "trace.set_tracer_provider(TracerProvider())",
                 "GateTracer 1 True", id="sdk-configured-first"),
])
def test_assemble_traces_only_when_an_sdk_is_configured(
    setup: str, printed: str, tmp_path: Path
) -> None:
    """Checked in a fresh interpreter: the global provider can be set only once."""
    balances = tmp_path / "balances.yaml"
    balances.write_text("members:\n  m-1:\n    - {pool: p, available: '1'}\n")
    result = subprocess.run([sys.executable, "-c", _ASSEMBLE.format(setup=setup), balances],
                            capture_output=True, text=True, check=False,
                            env={"PATH": "", "PYTHONPATH": ":".join(sys.path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == printed
