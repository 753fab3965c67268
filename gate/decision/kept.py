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

Most of these are ``Held`` reads (``gate.data.expiring``): a table that still holds the very
entry it held. ``keep`` unpacks those whose expiry is on the core's clock into ``watches`` and
one ``until``, so ``recall`` checks them with dict lookups and one clock read, calling nothing;
any other check stays a call (``checks``).

Anything else: ``recall`` says None, and the adapter asks the usual way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gate.data.expiring import Held, StillTrue
from gate.observe.lines import Line
from gate.policy.decision import Decision
from gate.policy.policyset import PolicySet

__all__ = ["Kept", "keep"]

#: ``table.get(key) is entry``: one ``Held`` without its expiry (see ``Kept.until``).
Watch = tuple[Mapping[Any, Any], Hashable, object]


@dataclass(frozen=True, slots=True)
class Kept:
    decision: Decision
    service_id: str
    path: str
    method: str
    policies: PolicySet
    #: Each must still hold its entry (``Held``), until ``until`` on the core's clock.
    watches: tuple[Watch, ...]
    until: float
    #: Checks that are not such reads: each must still say True.
    checks: tuple[StillTrue, ...]
    #: When the day its rules read (``today``) ends, as a POSIX time; None when they read no
    #: date.
    day_ends: float | None
    #: Its log line, ready to queue (``DecisionLines.add_line``).
    line: Line


def keep(
    decision: Decision, service_id: str, path: str, method: str, policies: PolicySet,
    stills: Iterable[StillTrue], clock: Callable[[], float], day_ends: float | None,
    line: Line,
) -> Kept:
    """``decision`` kept on ``stills``: the ``Held`` ones on ``clock`` unpacked."""
    watches: list[Watch] = []
    checks: list[StillTrue] = []
    until = math.inf
    for still in stills:
        if isinstance(still, Held) and still.clock is clock:
            watches.append((still.table, still.key, still.entry))
            until = min(until, still.expires)
        else:
            checks.append(still)
    return Kept(decision, service_id, path, method, policies, tuple(watches), until,
                tuple(checks), day_ends, line)
