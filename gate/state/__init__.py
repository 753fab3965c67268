"""State shared by every instance of the gate, through one Redis (see docs/redis.md).

    SharedState(url, site=...)          one per gate instance: the connection and the parts
    ├── cache(ttl=, maxsize=)           SharedBalanceCache: balances, memory then Redis
    ├── flight(cache, wait_for=)        FleetFlight: a cold member is read from Wix once
    ├── budget(like)                    SharedBudget: one Wix call budget for the fleet
    ├── holds(ttl=, lock_ttl=)          SharedHoldBook: the last-credit guard, fleet-wide
    ├── dedupe                          FleetDedupe: webhook event ids, fleet-wide
    └── follow(core.invalidate)         apply the other instances' invalidations here

``gate.config.assemble`` builds all of it from ``redis_url=`` (``BOOKING_GATE_REDIS_URL``). Redis
being down is never a reason to fail or to allow: each part falls back to this instance's own
memory and a local share of the budget, and the link recovers by itself.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from pydantic import SecretStr

from gate.config.wix import WixSettings
from gate.data.sources.base import BalanceSource
from gate.errors import ConfigError
from gate.state.budget import SharedBudget
from gate.state.cache import SharedBalanceCache
from gate.state.codec import Clocks
from gate.state.dedupe import FleetDedupe
from gate.state.flight import FleetFlight
from gate.state.holds import SharedHoldBook
from gate.state.invalidation import Invalidations
from gate.state.keys import Keys
from gate.state.link import RedisLink
from gate.upstream.budget import CallBudget, UpstreamBudget

__all__ = ["DOWN", "FleetDedupe", "FleetFlight", "SharedBalanceCache", "SharedBudget",
           "SharedHoldBook", "SharedState", "fleet_budget", "open_shared"]

#: What /readyz says while Redis does not answer (the gate still serves: 200).
DOWN = "down: using this instance's memory and a local share of the budget"


class SharedState:
    """The Redis link of one gate instance and the shared parts built on it, for one site.

    ``timeout`` bounds each Redis command (seconds); ``local_share`` is the share of the Wix
    budget this instance may spend alone while Redis is down. ``clock`` is the monotonic
    clock the gate measures ages with, ``wall`` the Unix clock stored times are on.
    """

    def __init__(
        self, url: str | SecretStr, *, site: str, timeout: float = 0.25,
        local_share: float = 0.5, clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time, backoff: tuple[float, float] = (0.1, 2.0),
    ) -> None:
        if not 0 < local_share <= 1:
            raise ConfigError("the local share of the Wix budget (BOOKING_GATE_REDIS_LOCAL_"
                              "SHARE) must be more than 0 and at most 1")
        text = url.get_secret_value() if isinstance(url, SecretStr) else url
        self.keys = Keys(site)
        try:
            self.link = RedisLink(text, channel=self.keys.channel, timeout=timeout,
                                  backoff=backoff)
        except (ValueError, TypeError):
            # Never quote the URL: it may hold a password.
            raise ConfigError("BOOKING_GATE_REDIS_URL is not a Redis URL (redis://host:6379/0, "
                              "rediss:// for TLS, or unix:///path/to/socket)") from None
        self.clocks = Clocks(clock, wall)
        self.local_share = local_share
        self.invalidations = Invalidations(self.link, self.keys)
        self.dedupe = FleetDedupe(self.link, self.keys)

    def __repr__(self) -> str:
        return f"SharedState({self.link.where}, site={self.keys.site!r}, {self.link.state})"

    def cache(self, *, ttl: float, maxsize: int) -> SharedBalanceCache:
        return SharedBalanceCache(self.link, self.keys, self.invalidations, self.clocks,
                                  ttl=ttl, maxsize=maxsize)

    def flight(self, cache: SharedBalanceCache, *, wait_for: float,
               lock_ttl: float = 10.0) -> FleetFlight:
        return FleetFlight(self.link, self.keys, cache, lock_ttl=lock_ttl, wait_for=wait_for)

    def balances(
        self, *, ttl: float, maxsize: int, wait_for: float,
    ) -> tuple[SharedBalanceCache, FleetFlight]:
        """The loader's cache and flight: a cold member waits ``wait_for`` seconds at most for
        another instance's read before reading it itself."""
        cache = self.cache(ttl=ttl, maxsize=maxsize)
        return cache, self.flight(cache, wait_for=wait_for)

    def budget(self, like: UpstreamBudget) -> SharedBudget:
        return SharedBudget(self.link, self.keys, like, local_share=self.local_share,
                            wall=self.clocks.wall, clock=self.clocks.monotonic)

    def holds(self, *, ttl: float, lock_ttl: float) -> SharedHoldBook:
        return SharedHoldBook(self.link, self.keys, self.clocks, ttl=ttl, lock_ttl=lock_ttl)

    def follow(self, invalidate: Callable[[str], Awaitable[None]]) -> None:
        """Run ``invalidate(member)`` here when another instance invalidates a member."""
        self.invalidations.handle_with(invalidate)

    def redis_up(self) -> bool:
        """Does Redis answer (as of the last command or probe)? No round trip: for metrics."""
        return self.link.up

    def readiness(self) -> str:
        """``up``, ``connecting`` or ``DOWN``, for /readyz; starts watching Redis if this
        instance has not used it yet (call it on the gate's event loop)."""
        self.link.start()
        return DOWN if self.link.state == "down" else self.link.state

    async def aclose(self) -> None:
        await self.link.aclose()


def open_shared(
    url: str | SecretStr | None, *, wix: WixSettings | None, source: BalanceSource | None,
    cache: object | None, timeout: float, local_share: float, clock: Callable[[], float],
) -> SharedState | None:
    """The shared state ``gate.config.assemble`` builds for ``redis_url``; None without one.

    Keys are per Wix site (``wix``'s site id, else the environment's, else the ``source``'s
    key), so two sites can share one Redis.
    """
    if url is None:
        return None
    if cache is not None:
        raise ConfigError("give either cache= or redis_url= (BOOKING_GATE_REDIS_URL), not "
                          "both: with a Redis the cache is the one the fleet shares")
    site = (wix or WixSettings.from_env()).site_id or (source.key if source else None)
    if not site:
        raise ConfigError("sharing state through Redis needs the site id: set "
                          "BOOKING_GATE_WIX_SITE_ID")
    return SharedState(url, site=site, timeout=timeout, local_share=local_share, clock=clock)


def fleet_budget(shared: SharedState | None, budget: UpstreamBudget) -> CallBudget:
    """``budget``, or the fleet's budget with its rules when state is shared."""
    return budget if shared is None else shared.budget(budget)
