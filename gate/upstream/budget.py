"""One budget for every Wix call: a sliding window, with room kept for checkouts."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum

__all__ = ["Priority", "UpstreamBudget"]


class Priority(Enum):
    """Who is asking for a call. Checkouts come first; the others only use what they leave."""

    CHECKOUT = "checkout"
    #: Refreshing data that is still usable (stale-while-revalidate).
    BACKGROUND = "background"
    #: Looking up a token the gate has never seen: junk costs this share, never more.
    NEW_TOKEN = "new_token"
    #: Looking up a service id the catalog does not hold: made-up ids cost this share.
    NEW_SERVICE = "new_service"


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
        self._clock = clock
        self._reserve = int(limit * reserve)
        self._token_cap = max(1, int(limit * new_token_share))
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
        less than half the budget is spent, then the spacing that spreads the rest evenly."""
        self._expire(self._clock())
        if len(self._calls) < self.limit // 2:
            return 0.0
        return self.window / self.limit

    def try_take(self, priority: Priority = Priority.CHECKOUT) -> bool:
        """Spend one call if this priority may; False means: do without it."""
        now = self._clock()
        self._expire(now)
        left = self.limit - len(self._calls)
        if left <= 0:
            return False
        if priority is Priority.BACKGROUND and left <= self._reserve:
            return False
        if priority is Priority.NEW_TOKEN or priority is Priority.NEW_SERVICE:
            capped = self._token_calls if priority is Priority.NEW_TOKEN else self._service_calls
            if len(capped) >= self._token_cap or left <= self._reserve:
                return False
            capped.append(now)
        self._calls.append(now)
        return True

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        for calls in (self._calls, self._token_calls, self._service_calls):
            while calls and calls[0] <= horizon:
                calls.popleft()
