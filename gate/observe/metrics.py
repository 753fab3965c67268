"""Prometheus metrics for one gate: counted on the hot path as plain ints, exported at scrape.

A decision must cost a few microseconds, so ``GateMetrics.observe`` does no label lookups, no
locking and no string work: it finds one dict entry, keyed by the decision's few
low-cardinality fields, that holds a latency histogram for that kind of decision, and adds one
to a bucket and the latency to the sum. At scrape time the collector folds those into the
exported series and reads the gauges (call budget, circuit breaker, policy reloads, shadow
counts, Redis) straight from the gate's own objects.

Every series and label is listed in ``docs/observability.md``. Labels are bounded: rule names
come from the policy files, error kinds and statuses from fixed sets, endpoints from fixed
templates. Member ids, paths, service ids and tokens are never labels.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from gate.errors import ConfigError
from gate.observe.events import DecisionEvent

if TYPE_CHECKING:  # only read at scrape time: importing the core here would be a cycle
    from gate.decision.core import DecisionCore
    from gate.wix.transport import WixTransport

__all__ = ["ALREADY_BOUND", "DEFAULT_BUCKETS", "ERROR_KINDS", "GateMetrics"]

ALREADY_BOUND = ("this GateMetrics already serves another gate: give each gate its own "
                 "GateMetrics()")

#: Decision latency buckets, in seconds: from a decision made from memory (microseconds) to
#: one that waited on Wix up to the deadline.
DEFAULT_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                   0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: The error kinds a fail-mode decision can carry (``Decision.error_kind``); any other, which
#: would be a bug, is counted as ``other`` so a label can never take unbounded values.
ERROR_KINDS = frozenset({
    "source_error", "upstream_unavailable", "upstream_budget", "upstream_auth",
    "upstream_not_found", "upstream_rejected", "upstream_bad_data", "deadline_exceeded",
    "internal_error", "rule_error", "config_error",
})
_DATA = ("fresh", "stale", "fallback", "none")
_BREAKER_STATES = ("closed", "open", "half-open")
_RELOAD_RESULTS = ("applied", "unchanged", "refused", "error")

#: (action, rule, data, cached) → that kind of decision's latency histogram: a count per
#: bucket (not cumulative; the last is +Inf), then the sum. The bucket counts add up to the
#: number of decisions, so one update per decision serves every decision series.
_Decisions = dict[tuple[str, str, str, bool], list[float]]
#: (cause, kind) → the count of fail-mode decisions.
_Errors = dict[tuple[str, str], list[int]]


class GateMetrics(Collector):
    """The metrics of one gate, in a registry of its own; a ``DecisionObserver``.

    Pass it to the gate (``BookingGate(app, ..., metrics=metrics)``, ``assemble(metrics=)``),
    which binds it to its decision core and Wix client, and serve ``registry`` with
    ``gate.metrics_app(metrics, token=...)`` or any prometheus-client exposition. Nothing is
    registered globally: two gates in one process keep two sets of numbers.

    ``redis_up``, when given, is called at each scrape for ``booking_gate_redis_up``: it must
    answer at once from what the caller already knows (no network round trip).

    Scrape it on the gate's event loop (the endpoints here do): the gauges read the call
    budget and the breaker, which are not made for other threads.
    """

    def __init__(
        self, *, buckets: Sequence[float] = DEFAULT_BUCKETS,
        redis_up: Callable[[], bool] | None = None,
    ) -> None:
        bounds = sorted(float(b) for b in buckets)
        if not bounds or any(not math.isfinite(b) or b <= 0 for b in bounds) \
                or len(set(bounds)) != len(bounds):
            raise ConfigError("metric buckets must be distinct positive numbers of seconds")
        self._bounds = tuple(bounds)
        self._first = self._bounds[0]
        self._cells = len(bounds) + 2  # the buckets, +Inf and the sum
        self._decisions: _Decisions = {}
        self._errors: _Errors = {}
        self._upstream: dict[tuple[str, str], int] = {}
        self._redis_up = redis_up
        self._core: DecisionCore | None = None
        self._transport: WixTransport | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        # The registry's only collector: every series is built from the counts at scrape.
        self.registry.register(self)

    def __repr__(self) -> str:
        return f"GateMetrics(bound={self._core is not None})"

    @property
    def bound(self) -> bool:
        """True once a gate counts into it (``bind``)."""
        return self._core is not None

    def bind(
        self, core: DecisionCore, *, transport: WixTransport | None = None,
        redis_up: Callable[[], bool] | None = None,
    ) -> None:
        """Read the gauges from this gate; one GateMetrics serves one gate."""
        if self._core is not None and self._core is not core:
            raise ConfigError(ALREADY_BOUND)
        self._core = core
        self._transport = transport
        if redis_up is not None:
            self._redis_up = redis_up

    def observe(self, event: DecisionEvent) -> None:
        """Count one decision: the hot path, one dict lookup and two list updates."""
        decision = event.decision
        key = (decision.outcome.action, decision.rule, decision.data, event.cached)
        histogram = self._decisions.get(key)
        if histogram is None:
            histogram = self._decisions[key] = [0] * (self._cells - 1) + [0.0]
        if decision.error is not None:  # rare: the fail mode decided
            self._count_error(decision.cause, decision.error_kind)
        elapsed = event.elapsed
        if elapsed <= self._first:  # most decisions made from memory: skip the search
            histogram[0] += 1
        else:
            histogram[bisect_left(self._bounds, elapsed)] += 1
        histogram[-1] += elapsed

    def _count_error(self, cause: str | None, kind: str | None) -> None:
        key = (cause or "upstream", kind if kind in ERROR_KINDS else "other")
        cell = self._errors.get(key)
        if cell is None:
            cell = self._errors[key] = [0]
        cell[0] += 1

    def count_upstream(self, endpoint: str, status: str) -> None:
        """One Wix attempt and how it ended (the Wix client's ``on_response`` hook)."""
        key = (endpoint, status)
        self._upstream[key] = self._upstream.get(key, 0) + 1

    def collect(self) -> Iterator[Metric]:
        """Every series, as of now: what the registry asks for at each scrape."""
        # Copies first, each one C-level step under the GIL: the scrape adds up numbers that
        # no decision changes under it, and a decision counted meanwhile shows next time.
        decisions = {key: list(cells) for key, cells in list(self._decisions.items())}
        yield from _decision_families(decisions, dict(self._errors))
        yield self._histogram(decisions)
        upstream = CounterMetricFamily(
            "booking_gate_upstream_requests", "Wix call attempts, by endpoint and how each "
            "ended: the HTTP status, or timeout, error, budget (not sent), breaker_open "
            "(not sent).", labels=["endpoint", "status"])
        for (endpoint, status), count in sorted(dict(self._upstream).items()):
            upstream.add_metric([endpoint, status], count)
        yield upstream
        yield from self._transport_families()
        yield from self._core_families()
        if self._redis_up is not None:
            yield GaugeMetricFamily("booking_gate_redis_up", "1 when the gate's Redis answers, "
                                    "0 when it does not.", value=_up(self._redis_up))

    def _histogram(self, decisions: _Decisions) -> HistogramMetricFamily:
        family = HistogramMetricFamily(
            "booking_gate_decision_seconds", "Seconds from the question to the decision; "
            'cached="true" for decisions made from memory without waiting on anything.',
            labels=["cached"])
        # repr() is the shortest text that reads back as the same float: what Prometheus
        # expects in ``le`` (0.005, 1e-05).
        edges = [*(repr(b) for b in self._bounds), "+Inf"]
        for cached in (False, True):
            merged = [0.0] * self._cells
            for key, cells in decisions.items():
                if key[3] == cached:
                    merged = [a + b for a, b in zip(merged, cells, strict=True)]
            running = 0
            buckets: list[tuple[str, float]] = []
            for edge, count in zip(edges, merged, strict=False):  # the sum is left over
                running += int(count)
                buckets.append((edge, running))
            family.add_metric(["true" if cached else "false"], buckets, merged[-1])
        return family

    def _transport_families(self) -> Iterator[Metric]:
        transport = self._transport
        if transport is None:  # a gate with a custom source: no Wix client to watch
            return
        budget, breaker = transport.budget, transport.breaker
        yield GaugeMetricFamily("booking_gate_budget_remaining", "Wix calls the gate may still "
                                "make in the current window.", value=budget.remaining())
        yield GaugeMetricFamily("booking_gate_budget_limit", "Wix calls the gate may make per "
                                "window.", value=budget.limit)
        state = breaker.state
        states = GaugeMetricFamily("booking_gate_breaker_state", "1 for the circuit breaker's "
                                   "current state (closed: Wix is called; open: it is not; "
                                   "half-open: one probe).", labels=["state"])
        for name in _BREAKER_STATES:
            states.add_metric([name], 1 if name == state else 0)
        yield states
        yield CounterMetricFamily("booking_gate_breaker_opens", "Times the circuit breaker "
                                  "opened because Wix kept failing.", value=breaker.opened)

    def _core_families(self) -> Iterator[Metric]:
        core = self._core
        reloads = CounterMetricFamily("booking_gate_reloads", "Policy reload attempts, by "
                                      "result.", labels=["result"])
        shadow = CounterMetricFamily("booking_gate_shadow", "Times each shadow rule would "
                                     "have acted.", labels=["rule"])
        if core is None:  # not bound yet (the middleware builds its gate on first use)
            yield reloads
            yield shadow
            return
        results = dict(core.reloader.results)
        for name in _RELOAD_RESULTS:
            reloads.add_metric([name], results.get(name, 0))
        yield reloads
        for rule, count in sorted(dict(core.shadow_counts).items()):
            shadow.add_metric([rule], count)
        yield shadow
        info = GaugeMetricFamily("booking_gate_policy_info", "1, labelled with the policy "
                                 "version serving now.", labels=["version"])
        info.add_metric([core.reloader.current.version], 1)
        yield info


def _decision_families(decisions: _Decisions, by_error: _Errors) -> Iterable[Metric]:
    by_rule: dict[tuple[str, str], int] = {}
    by_data = dict.fromkeys(_DATA, 0)
    for (action, rule, data, _cached), cells in decisions.items():
        count = int(sum(cells[:-1]))
        by_rule[action, rule] = by_rule.get((action, rule), 0) + count
        by_data[data] = by_data.get(data, 0) + count
    family = CounterMetricFamily("booking_gate_decisions", "Decisions, by outcome (allow, "
                                 "redirect, deny) and the rule that decided ((default), "
                                 "(on_error) or a rule's name).", labels=["outcome", "rule"])
    for (action, rule), count in sorted(by_rule.items()):
        family.add_metric([action, rule], count)
    yield family
    errors = CounterMetricFamily("booking_gate_decision_errors", "Decisions the fail mode "
                                 "made, by cause (upstream, identity, rule, config) and error "
                                 "kind.", labels=["cause", "kind"])
    for (cause, kind), (count,) in sorted(by_error.items()):
        errors.add_metric([cause, kind], count)
    yield errors
    cache = CounterMetricFamily("booking_gate_cache", "Decisions by the credits they used: "
                                "fresh, stale (refreshing), fallback (Wix failing), none.",
                                labels=["result"])
    for data, count in by_data.items():
        cache.add_metric([data], count)
    yield cache


def _up(probe: Callable[[], bool]) -> int:
    try:
        return 1 if probe() else 0
    except Exception:
        return 0  # a probe that fails says exactly that: not up
