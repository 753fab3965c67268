"""Wiring: from options (or ``GateSettings``) to a decision core and the resolvers around it.

The middleware and ``booking-gate serve`` are assembled by the same code, so a setting means
the same thing in both, and neither builds a cache, a client or a fail mode of its own.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from opentelemetry.trace import TracerProvider
from pydantic import SecretStr

from gate.adapters.routes import CheckoutRoute
from gate.config.settings import GateSettings
from gate.config.wix import WixSettings
from gate.data.cache import BalanceCache, MemoryBalanceCache
from gate.data.loader import BalanceLoader
from gate.data.sources.base import BalanceSource
from gate.data.sources.wix import WixBalanceSource
from gate.decision.core import DecisionCore, utcnow
from gate.decision.holds import HoldBook
from gate.errors import ConfigError
from gate.identity.base import MemberResolver
from gate.identity.signed_cookie import SignedCookieResolver
from gate.identity.wix_token import WIX_TOKEN_PATTERN, WixTokenResolver
from gate.observe.decision_log import DecisionLog
from gate.observe.events import DecisionObserver, DecisionTracer
from gate.observe.metrics import ALREADY_BOUND, GateMetrics
from gate.observe.tracing import GateTracer, make_tracer
from gate.policy.compiler import load_policies
from gate.policy.policyset import PolicySet
from gate.policy.reload import PolicyReloader, warn_if_fails_open
from gate.state import SharedState, fleet_budget, open_shared
from gate.upstream import CircuitBreaker, UpstreamBudget
from gate.wix.client import WixClient

__all__ = ["Parts", "PolicySource", "assemble", "checkouts_from_settings", "options_from_settings"]

#: Where policies come from: a folder or file, several of them, or an already loaded set.
PolicySource = str | Path | Sequence[str | Path] | PolicySet


@dataclass(frozen=True, slots=True)
class Parts:
    """What an adapter needs: the core, how to learn who is asking, and the raw token check."""

    core: DecisionCore
    resolvers: tuple[MemberResolver, ...]
    #: Verifies a Wix member token handed over directly (the decision API's ``memberToken``);
    #: None when the gate does not read Wix tokens.
    tokens: WixTokenResolver | None
    #: The Wix client the gate opened, for readiness; None with a custom source and resolvers.
    client: WixClient | None
    #: The decision log the gate opened (``decision_log=``), if any. ``close()``/``aclose()``
    #: it when the gate stops; at interpreter exit it closes itself.
    decision_log: DecisionLog | None = None
    #: The metrics this gate counts into (``metrics=``), bound to its core and Wix client.
    metrics: GateMetrics | None = None
    #: The OpenTelemetry tracer, when an SDK was configured at start-up (``tracing=``).
    tracing: GateTracer | None = None
    #: The state shared with the fleet through Redis (``redis_url=``): readiness, redis_up.
    shared: SharedState | None = None

    async def start(self) -> None:
        """At lifespan start-up: watch the policies, and open what the first request needs."""
        self.core.reloader.start()
        if self.client is not None:
            await self.client.open()


def assemble(
    *,
    policies: PolicySource = "policies",
    source: BalanceSource | None = None,
    resolvers: Sequence[MemberResolver] | None = None,
    wix: WixSettings | None = None,
    token_header: str | None = "authorization",
    token_cookie: str | None = None,
    token_pattern: str | re.Pattern[str] = WIX_TOKEN_PATTERN,
    cache: BalanceCache | None = None,
    cache_ttl: float = 30.0,
    cache_maxsize: int = 10_000,
    service_costs: Mapping[str, Decimal | str | int] | None = None,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], dt.datetime] = utcnow,
    http_client: httpx.AsyncClient | None = None,
    reload_interval: float | None = 2.0,
    session_secret: str | None = None,
    session_cookie: str = "gate_session",
    stale_while_revalidate: float = 30.0,
    stale_if_error: float = 300.0,
    decision_deadline: float = 3.0,
    hold_seconds: float = 600.0,
    budget: UpstreamBudget | None = None,
    token_lookups_per_client: int | None = None,
    observers: Sequence[DecisionObserver] = (),
    tracer: DecisionTracer | None = None,
    decision_log: str | Path | DecisionLog | None = None,
    metrics: GateMetrics | None = None,
    tracing: bool | TracerProvider = True,
    redis_url: str | SecretStr | None = None,
    redis_timeout: float = 0.25,
    redis_local_share: float = 0.5,
) -> Parts:
    """Build the parts; raises ConfigError or PolicyError with one clear message.

    ``metrics`` counts every decision and Wix call (see ``docs/observability.md``).
    ``tracing``: True traces with the global OpenTelemetry provider when an SDK configured
    one before this call (else nothing is traced, at no cost); a provider traces with that
    one; False never traces. A ``tracer`` given explicitly wins over both.

    ``redis_url`` shares the balance cache, the Wix call budget, the last-credit holds and
    webhook invalidations with every instance using that Redis (see ``docs/redis.md``).
    """
    if metrics is not None and metrics.bound:
        raise ConfigError(ALREADY_BOUND)
    spans = None
    if tracer is None and tracing is not False:
        spans = make_tracer(None if tracing is True else tracing)
    if isinstance(policies, PolicySet):
        reloader = PolicyReloader((), policies, interval=None)
    else:
        paths = [policies] if isinstance(policies, str | Path) else list(policies)
        reloader = PolicyReloader(paths, load_policies(paths), interval=reload_interval)
    warn_if_fails_open(reloader.current)
    tokens: WixTokenResolver | None = None
    client: WixClient | None = None
    shared = open_shared(redis_url, wix=wix, source=source, cache=cache, timeout=redis_timeout,
                         local_share=redis_local_share, clock=clock)
    if source is None or resolvers is None:
        settings = wix or WixSettings.from_env()
        settings.require_credentials(for_source=source is None)
        client = WixClient(
            http=http_client, api_key=settings.api_key, site_id=settings.site_id,
            base_url=settings.base_url, timeout=settings.timeout, retries=settings.retries,
            budget=fleet_budget(shared, budget or UpstreamBudget(clock=clock)),
            breaker=CircuitBreaker(clock=clock),
            on_response=metrics.count_upstream if metrics is not None else None,
            upstream_span=spans.upstream_span if spans is not None else None,
        )
        if source is None:
            source = WixBalanceSource(client, site_id=settings.site_id or "", clock=clock)
        if resolvers is None:
            tokens = WixTokenResolver(client, site_id=settings.site_id or "",
                                      header=token_header, cookie=token_cookie, timer=clock,
                                      token_pattern=token_pattern,
                                      per_client=token_lookups_per_client)
            # A session cookie from the site's own login comes first: it needs no Wix call.
            resolvers = (tokens,) if session_secret is None else (
                SignedCookieResolver(secret=session_secret, cookie=session_cookie), tokens)
    if tokens is None:
        tokens = next((r for r in resolvers if isinstance(r, WixTokenResolver)), None)
    if not resolvers:
        raise ConfigError("at least one member resolver is needed")
    costs = {k: _credits(v, f"cost of service {k!r}") for k, v in (service_costs or {}).items()}
    # Entries are kept as long as any use of them is allowed; the loader judges their age.
    keep = cache_ttl + max(stale_while_revalidate, stale_if_error)
    # Shared: a cold member waits for another instance's read at most half the deadline.
    cache, flight = shared.balances(ttl=keep, maxsize=cache_maxsize, wait_for=decision_deadline
                                    / 2) if shared is not None else (cache, None)
    loader = BalanceLoader(
        # "is None", not "or": an empty cache has len() 0 and is falsy, yet it is the one given.
        source, cache if cache is not None else MemoryBalanceCache(ttl=keep, maxsize=cache_maxsize,
                                                                   timer=clock),
        fresh_for=cache_ttl, revalidate_for=stale_while_revalidate, fallback_for=stale_if_error,
        clock=clock, pace=client.transport.budget.pace if client is not None else None,
        flight=flight,
    )
    # Opened as late as possible: a configuration error above leaves no file open.
    log = decision_log if isinstance(decision_log, DecisionLog) or decision_log is None \
        else DecisionLog(decision_log, clock=clock, now=now)
    if log is not None:
        observers = (*observers, log)
    observers = (*observers, *(o for o in (metrics, spans) if o is not None))
    core = DecisionCore(reloader=reloader, source=source, loader=loader, service_costs=costs,
                        clock=clock, now=now, client=client, deadline=decision_deadline,
                        holds=shared.holds(ttl=hold_seconds, lock_ttl=decision_deadline + 2)
                        if shared is not None else HoldBook(ttl=hold_seconds, clock=clock),
                        observers=observers, tracer=tracer or spans)
    if shared is not None:
        shared.follow(core.invalidate)  # another instance's webhook: forget here too
    if metrics is not None:
        metrics.bind(core, transport=client.transport if client is not None else None,
                     redis_up=shared.redis_up if shared is not None else None)
    return Parts(core, tuple(resolvers), tokens, client, log, metrics=metrics, tracing=spans,
                 shared=shared)


def options_from_settings(settings: GateSettings) -> dict[str, object]:
    """The keyword options of ``BookingGate``/``assemble`` that ``settings`` describe."""
    wix = WixSettings(
        api_key=settings.wix_api_key.get_secret_value() if settings.wix_api_key else None,
        site_id=settings.wix_site_id, base_url=settings.wix_base_url,
        timeout=settings.wix_timeout, retries=settings.wix_retries,
    )
    options: dict[str, object] = {
        "policies": list(settings.policies),
        "wix": wix,
        "token_header": settings.token_header,
        "token_cookie": settings.token_cookie,
        "cache_ttl": settings.cache_ttl,
        "cache_maxsize": settings.cache_maxsize,
        "service_costs": dict(settings.service_costs),
        "reload_interval": settings.reload_interval,
        "stale_while_revalidate": settings.stale_while_revalidate,
        "stale_if_error": settings.stale_if_error,
        "decision_deadline": settings.decision_deadline,
        "hold_seconds": settings.hold_seconds,
        **({"decision_log": settings.decision_log} if settings.decision_log else {}),
        "budget": UpstreamBudget(limit=settings.wix_rate_limit),
        "token_lookups_per_client": settings.token_lookups_per_client,
        **({"token_pattern": settings.token_pattern} if settings.token_pattern else {}),
        **({"redis_url": settings.redis_url, "redis_timeout": settings.redis_timeout,
            "redis_local_share": settings.redis_local_share} if settings.redis_url else {}),
    }
    if settings.session_secret is not None:
        options["session_secret"] = settings.session_secret.get_secret_value()
        options["session_cookie"] = settings.session_cookie
    return options


def checkouts_from_settings(settings: GateSettings) -> tuple[CheckoutRoute, ...]:
    return tuple(CheckoutRoute(path, service_param=settings.service_param)
                 for path in settings.checkout_paths)


def _credits(value: Decimal | str | int, what: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise ConfigError(f"{what} must be a number of credits, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{what} must be zero or more credits, got {value!r}")
    return amount
