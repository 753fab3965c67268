"""A circuit breaker: stop calling an upstream that keeps failing, then probe it again."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Closed → (``threshold`` failures in a row) → open for ``cooldown`` s → one probe.

    While open, calls fail at once instead of each waiting for a timeout: members get the
    fail mode (or data the gate already has) in microseconds, and Wix is not hammered while
    it recovers. After the cool-down one call is let through; its success closes the circuit,
    its failure opens it again.
    """

    def __init__(
        self, threshold: int = 5, cooldown: float = 15.0, *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        #: How many times the circuit has opened (again after a failed probe included): a
        #: metric can show an outage shorter than the interval between two scrapes.
        self.opened = 0

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._probing or self._clock() - self._opened_at >= self._cooldown:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """May a call go out now?"""
        if self._opened_at is None:
            return True
        if self._probing or self._clock() - self._opened_at < self._cooldown:
            return False
        self._probing = True  # exactly one probe until it reports back
        return True

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            if self._opened_at is None or self._probing:
                self.opened += 1
            self._opened_at = self._clock()
            self._probing = False
