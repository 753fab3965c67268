"""Watching the gate: what each decision was, for metrics, traces and the decision log.

The decision core calls every ``DecisionObserver`` once per decision, after it is made, with
one ``DecisionEvent``. Observers run on the event loop, on the hot path: they must be cheap
(no I/O, no formatting they can defer) and must not raise.
"""

from gate.observe.events import DecisionEvent, DecisionObserver, DecisionTracer

__all__ = ["DecisionEvent", "DecisionObserver", "DecisionTracer"]
