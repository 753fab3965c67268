"""Watching the gate: what each decision was, for metrics, traces and the decision log.

The decision core calls every ``DecisionObserver`` once per decision, after it is made, with
one ``DecisionEvent``. Observers run on the event loop, on the hot path: they must be cheap
(no I/O, no formatting they can defer) and must not raise.

``GateMetrics`` (``gate.observe.metrics``) counts decisions and Wix calls for Prometheus;
``GateTracer`` (``gate.observe.tracing``) makes OpenTelemetry spans of them. Both are imported
from their modules: this package stays light, because the core imports it.

``DecisionLog`` (``gate.observe.decision_log``) writes one JSON line per decision with the
inputs the rules saw, for ``booking-gate replay``; ``gate.observe.records`` is its format.
Imported from its module too.
"""

from gate.observe.events import DecisionEvent, DecisionObserver, DecisionTracer

__all__ = ["DecisionEvent", "DecisionObserver", "DecisionTracer"]
