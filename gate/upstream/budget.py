"""One budget for every Wix call: a sliding window, with room kept for checkouts."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Protocol, runtime_checkable

__all__ = ["CallBudget", "Priority", "UpstreamBudget"]


class Priority(Enum):
    """Who is asking for a call. Checkouts come first; the others only use what they leave."""

    CHECKOUT = "checkout"
    #: Refreshing data that is still usable (stale-while-revalidate).
    BACKGROUND = "background"
    #: Looking up a token the gate has never seen: junk costs this share, never more.
    NEW_TOKEN = "new_token"
    #: Looking up a service id the catalog does not hold: made-up ids cost this share.
    NEW_SERVICE = "new_service"


@runtime_checkable
class CallBudget(Protocol):
    """What the Wix transport, the batcher and the metrics need of a budget.

    ``take`` is async so that a budget shared by a fleet (``gate.state.SharedBudget``, in
    Redis) can implement it. It has a name of its own rather than making ``try_take`` a
    coroutine: a caller left calling ``try_take`` without ``await`` would get a coroutine,
    which is truthy, and every call would pass. ``remaining`` and ``pace`` answer at once from
    what the budget already knows.
    """

    limit: int
    window: float

    async def take(self, priority: Priority = Priority.CHECKOUT) -> bool: ...

    def remaining(self) -> int: ...

    def pace(self) -> float: ...


class UpstreamBudget:
    """At most ``limit`` calls in any rolling ``window`` seconds (Wix: 200 a minute).

    Checkout calls may use the whole budget. Background refreshes stop when less than
    ``reserve`` of it is left, so they never starve a checkout. Lookups of unseen tokens may
    use at most ``new_token_share`` of it in a window, so a flood of junk tokens cannot spend
    the budget members need.
    """

    def __init__(
        self,
        limit: int = 200,
        window: float = 60.0,
        *,
        reserve: float = 0.25,
        new_token_share: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the budget needs a positive limit and window")
        self.limit = limit
        self.window = window
        #: The shares as given, so a budget of another kind (shared, or a local share of
        #: this one) can be built with the same rules.
        self.reserve_share = reserve
        self.new_token_share = new_token_share
        self._clock = clock
        #: Calls left below which only checkouts may call; at most this many per window for
        #: unseen tokens (and, apart, for unknown services).
        self.reserve = int(limit * reserve)
        self.token_cap = max(1, int(limit * new_token_share))
        self._calls: deque[float] = deque()
        self._token_calls: deque[float] = deque()
        self._service_calls: deque[float] = deque()

    def __repr__(self) -> str:
        return f"UpstreamBudget({self.remaining()}/{self.limit} per {self.window:g} s)"

    def remaining(self) -> int:
        self._expire(self._clock())
        return self.limit - len(self._calls)

    def pace(self) -> float:
        """How long the next batch of reads should wait to gather more members: nothing while
        less than half the budget is spent, then the spacing that spreads the rest evenly
        (see ``pace_for``)."""
        self._expire(self._clock())
        return pace_for(len(self._calls), self.limit, self.window)

    async def take(self, priority: Priority = Priority.CHECKOUT) -> bool:
        """``try_take`` for callers that may be handed any ``CallBudget``."""
        return self.try_take(priority)

    def try_take(self, priority: Priority = Priority.CHECKOUT) -> bool:
        """Spend one call if this priority may; False means: do without it."""
        now = self._clock()
        self._expire(now)
        left = self.limit - len(self._calls)
        if left <= 0:
            return False
        if priority is Priority.BACKGROUND and left <= self.reserve:
            return False
        if priority is Priority.NEW_TOKEN or priority is Priority.NEW_SERVICE:
            capped = self._token_calls if priority is Priority.NEW_TOKEN else self._service_calls
            if len(capped) >= self.token_cap or left <= self.reserve:
                return False
            capped.append(now)
        self._calls.append(now)
        return True

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        for calls in (self._calls, self._token_calls, self._service_calls):
            while calls and calls[0] <= horizon:
                calls.popleft()


#: The longest a batch is held back: a decision waits for its batch, and has 3 s by default.
MAX_PACE = 1.0


def pace_for(used: int, limit: int, window: float) -> float:
    """The batch spacing for ``used`` calls of ``limit`` spent: the rule both budgets follow.

    At most ``MAX_PACE``: with a small budget (10 a minute: 6 s apart) every held batch would
    outlive the decisions waiting for it. Nothing once the budget is spent: no call can go
    out, so the batch fails at once and the decisions fall back to older credits now, not
    after a wait.
    """
    if used < limit // 2 or used >= limit:
        return 0.0
    return min(window / limit, MAX_PACE)
