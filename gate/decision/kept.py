"""A decision kept for the same request: what lets the core give it again in a few lookups.

A cached checkout still costs the token's digest and caches, the credits' cache, the price, the
memo and the log line. The same request again (same credentials, method, path and query)
gets the same decision for as long as nothing it was made from has changed, so an adapter may
keep it, under a digest of the request's credential headers (``gate.adapters.lane``), and ask
``DecisionCore.recall`` each time. The core gives it again only if, at that moment:

- the policy set serving is the one that made it, its rules do not read the clock
  (``PolicySet.repeatable``), and, if they read the date, it is still the same day;
- the member's cached snapshot is the very one it was made from, still fresh enough (a
  refresh, a webhook's invalidation or an eviction replaces or drops it), and the member
  holds no credits (``HoldBook``);
- the service's price is the one the catalog holds now;
- each identity resolver says its answer stands (``StillTrue``: the token still cached as the
  same member, the session cookie not yet ``max_age`` old).

Anything else: ``recall`` says None, and the adapter asks the usual way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gate.credits.balances import BalanceSnapshot, ServiceInfo
from gate.identity.base import StillTrue
from gate.policy.decision import Decision
from gate.policy.policyset import PolicySet

__all__ = ["Kept"]


@dataclass(frozen=True, slots=True)
class Kept:
    decision: Decision
    service_id: str
    path: str
    method: str
    policies: PolicySet
    service: ServiceInfo
    #: The member's snapshot as cached (before holds) and its cache key; None for a visitor.
    snapshot: BalanceSnapshot | None
    cache_key: str | None
    identity: tuple[StillTrue, ...]
    #: When the day its rules read (``today``) ends; None when they read no date.
    day_ends: dt.datetime | None = None
