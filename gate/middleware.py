"""BookingGate: the pure ASGI middleware that stands in front of a booking checkout."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import httpx
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gate.admin import AdminEndpoints
from gate.balances import BalanceSnapshot
from gate.cache import BalanceCache, MemoryBalanceCache
from gate.config import WixSettings
from gate.errors import ConfigError, SourceError
from gate.identity.base import Identity, MemberResolver, resolve_chain
from gate.identity.wix_token import WixTokenResolver
from gate.loader import BalanceLoader
from gate.policy.compiler import load_policies
from gate.policy.context import Facts
from gate.policy.decision import Decision
from gate.policy.policyset import PolicySet
from gate.reload import PolicyReloader, ReloadResult
from gate.responses import render
from gate.routes import CheckoutMatch, CheckoutRoute, RouteMatcher, route_path
from gate.sources.base import BalanceSource
from gate.sources.wix import WixBalanceSource
from gate.wix.client import WixClient

__all__ = ["SCOPE_KEY", "BookingGate", "PolicySource"]

#: Where policies come from: a folder or file, several of them, or an already loaded set.
PolicySource = str | Path | Sequence[str | Path] | PolicySet

#: Where the downstream app finds the Decision: ``request.state.booking_gate``.
SCOPE_KEY = "booking_gate"

logger = logging.getLogger("booking_gate")
decision_logger = logging.getLogger("booking_gate.decision")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class BookingGate:
    """Checks checkout requests against the studio's policies before the app sees them.

    Every other request, and every non-HTTP scope, goes to ``app`` untouched. Everything is
    built here, once: route patterns, the policy set, the Wix client, the cache. A request
    only resolves the member, reads their (usually cached) balance and evaluates the rules.

    With no ``source`` and no ``resolvers``, the gate reads Wix: member tokens from the
    ``Authorization`` header (or ``token_cookie``), balances from Benefit Programs, with the
    API key and site id from BOOKING_GATE_WIX_API_KEY / BOOKING_GATE_WIX_SITE_ID.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        policies: PolicySource = "policies",
        checkouts: Sequence[CheckoutRoute] = (CheckoutRoute(),),
        source: BalanceSource | None = None,
        resolvers: Sequence[MemberResolver] | None = None,
        wix: WixSettings | None = None,
        token_header: str | None = "authorization",
        token_cookie: str | None = None,
        cache: BalanceCache | None = None,
        cache_ttl: float = 30.0,
        cache_maxsize: int = 10_000,
        service_costs: Mapping[str, Decimal | str | int] | None = None,
        default_cost: Decimal | str | int = 1,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = _utcnow,
        http_client: httpx.AsyncClient | None = None,
        reload_interval: float | None = 2.0,
        status_path: str | None = None,
        status_clients: Sequence[str] = ("127.0.0.1", "::1"),
        status_token: str | None = None,
    ) -> None:
        self.app = app
        self._routes = RouteMatcher(checkouts)
        if isinstance(policies, PolicySet):
            self._reloader = PolicyReloader((), policies, interval=None)
        else:
            paths = [policies] if isinstance(policies, str | Path) else list(policies)
            self._reloader = PolicyReloader(paths, load_policies(paths), interval=reload_interval)
        self._admin = (
            AdminEndpoints(self, status_path, status_clients, status_token) if status_path
            else None
        )
        #: How often each shadow rule would have acted, since start-up.
        self.shadow_counts: Counter[str] = Counter()
        self._clock = clock
        self._now = now
        self._costs = {k: _credits(v, f"cost of service {k!r}")
                       for k, v in (service_costs or {}).items()}
        self._default_cost = _credits(default_cost, "default_cost")
        self._owns_http = False
        self._http = http_client
        if source is None or resolvers is None:
            settings = wix or WixSettings.from_env()
            if source is None:
                settings.require_credentials()  # before opening a client that would leak
            client = self._wix_client(settings)
            if source is None:
                source = WixBalanceSource(client, site_id=settings.site_id or "", clock=clock)
            if resolvers is None:
                resolvers = (
                    WixTokenResolver(client, site_id=settings.site_id, header=token_header,
                                     cookie=token_cookie, timer=clock),
                )
        if not resolvers:
            raise ConfigError("at least one member resolver is needed")
        self._resolvers = tuple(resolvers)
        self._source = source
        self.loader = BalanceLoader(
            source, cache or MemoryBalanceCache(ttl=cache_ttl, maxsize=cache_maxsize, timer=clock)
        )

    def __repr__(self) -> str:
        return (f"BookingGate(policy={self.policies.version!r}, source={self._source!r}, "
                f"resolvers={[r.name for r in self._resolvers]!r})")

    @property
    def policies(self) -> PolicySet:
        """The policy set serving requests right now."""
        return self._reloader.current

    @property
    def reloader(self) -> PolicyReloader:
        return self._reloader

    async def reload(self) -> ReloadResult:
        """Reload the policy files now; the old set keeps serving if the new one is invalid."""
        return await self._reloader.reload(force=True)

    def _wix_client(self, settings: WixSettings) -> WixClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=settings.timeout)
            self._owns_http = True
        return WixClient(
            http=self._http,
            api_key=settings.api_key,
            site_id=settings.site_id,
            base_url=settings.base_url,
            retries=settings.retries,
        )

    async def invalidate(self, member_id: str) -> None:
        """Drop a member's cached balance, e.g. right after they booked or bought a plan."""
        await self.loader.invalidate(member_id)

    async def aclose(self) -> None:
        """Close the HTTP connections the gate opened. Called on lifespan shutdown too."""
        await self._reloader.stop()
        await self._source.aclose()
        if self._owns_http and self._http is not None:
            await self._http.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, self._lifespan_send(send))
            else:
                await self.app(scope, receive, send)
            return
        if self._reloader.idle:  # servers without lifespan: start watching on first request
            self._reloader.start()
        match = self._routes.match(scope["method"], route_path(scope), scope["query_string"])
        if match is None:
            if self._admin is not None and self._admin.handles(scope):
                await self._admin(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if match.ambiguous:
            await _ambiguous_service(match)(scope, receive, send)
            return
        decision = await self.decide(scope, match)
        scope.setdefault("state", {})[SCOPE_KEY] = decision
        if decision.allows:
            await self.app(scope, receive, _private(send))
            return
        await render(decision, scope)(scope, receive, send)

    async def decide(self, scope: Scope, match: CheckoutMatch) -> Decision:
        """The decision for one checkout request; never raises, always logs one line."""
        policies = self._reloader.current  # one read: a reload mid-request cannot mix sets
        identity: Identity | None = None
        member: str | None = None
        try:
            identity = await resolve_chain(self._resolvers, HTTPConnection(scope))
            member = identity.member_id
            balance = await self.loader.get(member) if member else None
            facts = self._facts(scope, match, identity, balance, policies)
            decision = policies.decide(facts, member)
        except SourceError as exc:
            decision = policies.failed(f"{exc.kind}: {exc}", member)
        except Exception as exc:
            # A bug must not open the gate or become a 500: take the declared fail mode, loudly.
            logger.exception("booking-gate failed while deciding; applying on_error")
            decision = policies.failed(f"internal_error: {type(exc).__name__}", member)
        if decision.shadow:
            self._count_shadow(decision, policies)
        self._log(scope, match, identity, decision)
        return decision

    def _count_shadow(self, decision: Decision, policies: PolicySet) -> None:
        for name in decision.shadow:
            self.shadow_counts[name] += 1
            rule = policies.rule(name)
            action = rule.outcome.action if rule else "act"
            verb = {"redirect": "redirected", "deny": "denied", "allow": "allowed"}.get(
                action, action)
            decision_logger.info("shadow rule=%s would have %s policy=%s member=%s", name, verb,
                                 decision.policy_version, decision.member_id or "-",
                                 extra={"booking_gate": {"shadow_rule": name, "would": action}})

    def _facts(
        self,
        scope: Scope,
        match: CheckoutMatch,
        identity: Identity,
        balance: BalanceSnapshot | None,
        policies: PolicySet,
    ) -> dict[str, object]:
        now = self._now()
        return Facts(
            identity=identity,
            balance=balance,
            service=match.service_id,
            cost=self._costs.get(match.service_id, self._default_cost),
            path=route_path(scope),
            method=scope["method"],
            now=now,
            today=policies.today(now),
            balance_age=max(0.0, self._clock() - balance.fetched_at) if balance else 0.0,
        ).as_cel()

    def _log(
        self, scope: Scope, match: CheckoutMatch, identity: Identity | None, decision: Decision
    ) -> None:
        level = logging.WARNING if decision.error else logging.INFO
        if not decision_logger.isEnabledFor(level):
            return
        decision_logger.log(
            level,
            # %r for what the visitor controls: a newline must not forge a second log line.
            "decision action=%s rule=%s policy=%s status=%s member=%r service=%r path=%r%s%s",
            decision.action,
            decision.rule,
            decision.policy_version,
            decision.outcome.status,
            identity.member_id if identity else None,
            match.service_id,
            scope["path"],
            f" shadow={','.join(decision.shadow)}" if decision.shadow else "",
            f" error={decision.error!r}" if decision.error else "",
            extra={"booking_gate": {
                "action": decision.action,
                "rule": decision.rule,
                "policy": decision.policy_version,
                "member": identity.member_id if identity else None,
                "service": match.service_id,
                "error": decision.error,
                "shadow": list(decision.shadow),
            }},
        )

    def _lifespan_send(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self._reloader.start()
            elif message["type"] == "lifespan.shutdown.complete":
                await self.aclose()
            await send(message)

        return wrapped


def _private(send: Send) -> Send:
    """Mark an allowed checkout private: a shared cache must never serve it to someone else."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            headers["Cache-Control"] = "private, no-store"
            headers.add_vary_header("Cookie")
            headers.add_vary_header("Authorization")
        await send(message)

    return wrapped


def _ambiguous_service(match: CheckoutMatch) -> PlainTextResponse:
    param = match.route.service_param
    return PlainTextResponse(
        f"Bad request: {param} is given more than once with different values.",
        status_code=400, headers={"Cache-Control": "no-store", "X-Gate-Rule": "(bad-request)"},
    )


def _credits(value: Decimal | str | int, what: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise ConfigError(f"{what} must be a number of credits, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{what} must be zero or more credits, got {value!r}")
    return amount
