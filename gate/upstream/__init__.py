"""Everything between the gate and Wix's budget: the shared call budget and the circuit breaker.

Wix allows an app instance 200 API calls a minute, everything included (reference §5). Every
call the gate makes goes through one ``UpstreamBudget``; checkouts are served before
background refreshes and before lookups of tokens nobody has seen yet.
"""

from gate.upstream.breaker import CircuitBreaker
from gate.upstream.budget import Priority, UpstreamBudget

__all__ = ["CircuitBreaker", "Priority", "UpstreamBudget"]
