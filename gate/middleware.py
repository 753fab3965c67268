"""BookingGate: the pure ASGI middleware that stands in front of a booking checkout."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gate.admin import AdminEndpoints
from gate.assemble import PolicySource, assemble, checkouts_from_settings, options_from_settings
from gate.core import DecisionCore
from gate.errors import ConfigError, GateError, PolicyError
from gate.hosts import AllowedHosts
from gate.identity.base import MemberResolver, resolve_chain, strip_untrusted
from gate.loader import BalanceLoader
from gate.policy.decision import Decision
from gate.policy.policyset import DEFAULT_ON_ERROR, PolicySet
from gate.reload import PolicyReloader, ReloadResult
from gate.responses import ON_ERROR, ambiguous_service, bad_host, error_kind, render
from gate.routes import CheckoutRoute, RouteMatcher
from gate.settings import GateSettings
from gate.webhooks import WebhookReceiver
from gate.webhooks.http import receive_webhook

__all__ = ["SCOPE_KEY", "BookingGate", "PolicySource"]

#: Where the downstream app finds the Decision: ``request.state.booking_gate``.
SCOPE_KEY = "booking_gate"

logger = logging.getLogger("booking_gate")

class BookingGate:
    """Checks checkout requests against the studio's policies before the app sees them.

    Every other request, and every non-HTTP scope, goes to ``app`` untouched. Everything is
    built here, once: route patterns, the policy set, the Wix client, the cache. A request
    only resolves the member and asks the decision core (``gate.core``), which every other
    adapter shares.

    With no ``source`` and no ``resolvers``, the gate reads Wix: member tokens from the
    ``Authorization`` header (or ``token_cookie``), credits from Benefit Programs, with the
    API key and site id from BOOKING_GATE_WIX_API_KEY / BOOKING_GATE_WIX_SITE_ID.

    A configuration error never raises here: under ``Middleware(...)`` this runs inside the
    server's first request, where raising would turn every page of the site into a 500.
    Instead ``problem`` holds it, the server's lifespan startup fails with its message (the
    server refuses to start), and if it serves anyway, pages outside the checkout still work
    while checkouts get the 503 "try again" page.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        checkouts: Sequence[CheckoutRoute] = (CheckoutRoute(),),
        status_path: str | None = None,
        status_clients: Sequence[str] = ("127.0.0.1", "::1"),
        status_token: str | None = None,
        webhook_path: str | None = None,
        webhook_public_key: str | None = None,
        allowed_hosts: Sequence[str] | None = None,
        **options: Any,
    ) -> None:
        """``options`` are those of ``gate.assemble.assemble`` (policies, source, wix...).

        ``webhook_path`` with ``webhook_public_key`` (Wix's PEM) receives Wix's signed booking
        and plan events at that path, so a member who just bought a plan is let in at once.

        ``status_path`` needs ``status_token`` (BOOKING_GATE_STATUS_TOKEN): without one the gate
        refuses to start rather than serve an open status endpoint.

        ``allowed_hosts`` (host names, ``*.example.com`` for subdomains) is checked on the
        requests the gate answers or decides: checkouts and the webhook path get a 400 for
        any other ``Host``, the status endpoint a 404. Every other page goes to ``app``
        untouched, so the app's own host check (Django's ALLOWED_HOSTS...) still applies.
        """
        self.app = app
        #: Why the gate cannot work, when it cannot; None when all is well.
        self.problem: GateError | None = None
        self._routes: RouteMatcher | None = None
        self._admin: AdminEndpoints | None = None
        self._webhook_path = webhook_path
        self._webhooks: WebhookReceiver | None = None
        self._hosts: AllowedHosts | None = None
        try:
            self._routes = RouteMatcher(checkouts)
            if allowed_hosts is not None:
                self._hosts = AllowedHosts(allowed_hosts)
            if status_path and status_token is None:
                raise ConfigError(
                    "status_path is set but there is no status token: set "
                    "BOOKING_GATE_STATUS_TOKEN (or status_token=), or remove status_path. "
                    "Without a token the status endpoint would answer anyone on this host "
                    "(behind a local proxy: anyone)")
            self._parts = assemble(**options)
            if status_path:
                self._admin = AdminEndpoints(self._parts.core, status_path, status_clients,
                                             status_token, self._hosts)
            if webhook_path is not None or webhook_public_key is not None:
                if not webhook_path or not webhook_public_key:
                    raise ConfigError("receiving Wix webhooks needs both webhook_path and "
                                      "webhook_public_key (BOOKING_GATE_WIX_WEBHOOK_PUBLIC_KEY)")
                self._webhooks = WebhookReceiver(public_key=webhook_public_key,
                                                 on_member=self._parts.core.invalidate)
        except TypeError as exc:
            # An option that does not exist (a typo, or one removed in this release).
            self.problem = ConfigError(f"unknown or misused option: {exc}")
            logger.error("booking-gate cannot start: %s", self.problem)
        except (ConfigError, PolicyError) as exc:
            self.problem = exc
            logger.error("booking-gate cannot start: %s", exc)

    @classmethod
    def from_env(
        cls, app: ASGIApp, *, config_file: str | Path | None = None, **options: Any
    ) -> BookingGate:
        """A gate configured like ``booking-gate serve``: BOOKING_GATE_* variables and an
        optional TOML file; keyword ``options`` (clocks, sources...) win over both."""
        try:
            settings = GateSettings.load(config_file)
        except ConfigError as exc:
            logger.error("booking-gate cannot start: %s", exc)
            broken = cls.__new__(cls)  # nothing to assemble: only the problem to report
            broken.app, broken.problem, broken._routes, broken._admin = app, exc, None, None
            broken._hosts = None
            return broken
        merged: dict[str, Any] = {**options_from_settings(settings), **options}
        merged.setdefault("checkouts", checkouts_from_settings(settings))
        merged.setdefault("status_path", settings.status_path)
        if settings.allowed_hosts:
            merged.setdefault("allowed_hosts", list(settings.allowed_hosts))
        if settings.status_token is not None:
            merged.setdefault("status_token", settings.status_token.get_secret_value())
        if settings.wix_webhook_public_key is not None:
            merged.setdefault("webhook_public_key",
                              settings.wix_webhook_public_key.get_secret_value())
            merged.setdefault("webhook_path", settings.webhook_path)
        return cls(app, **merged)

    @property
    def core(self) -> DecisionCore:
        """The decision core every adapter shares; raises ``problem`` if there is none."""
        if self.problem is not None:
            raise self.problem
        return self._parts.core

    @property
    def _resolvers(self) -> tuple[MemberResolver, ...]:
        return self._parts.resolvers

    def __repr__(self) -> str:
        if self.problem is not None:
            return f"BookingGate(problem={type(self.problem).__name__})"
        return (f"BookingGate(policy={self.policies.version!r}, source={self.core.source!r}, "
                f"resolvers={[r.name for r in self._resolvers]!r})")

    @property
    def policies(self) -> PolicySet:
        """The policy set serving requests right now."""
        return self.core.reloader.current

    @property
    def reloader(self) -> PolicyReloader:
        return self.core.reloader

    @property
    def loader(self) -> BalanceLoader:
        return self.core.loader

    @property
    def shadow_counts(self) -> Counter[str]:
        """How often each shadow rule would have acted, since start-up."""
        return self.core.shadow_counts

    async def reload(self) -> ReloadResult:
        """Reload the policy files now; the old set keeps serving if the new one is invalid."""
        return await self.core.reloader.reload(force=True)

    async def invalidate(self, member_id: str) -> None:
        """Drop a member's cached credits, e.g. right after they booked or bought a plan."""
        await self.core.invalidate(member_id)

    async def aclose(self) -> None:
        """Close the HTTP connections the gate opened (a shared ``http_client`` stays open).

        Called on lifespan shutdown too; the gate opens new ones if it is started again.
        """
        if self.problem is None:
            await self.core.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.problem is not None:
            await self._misconfigured(scope, receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, self._lifespan_send(send))
                return
            if scope["type"] == "websocket":
                strip_untrusted(self._resolvers, scope)
                if self._routes is not None and self._routes.match_scope(
                        {**scope, "method": "GET"}) is not None:
                    # A checkout is a page, never a socket: nothing decides one here, so
                    # none is opened (1008: policy violation).
                    await send({"type": "websocket.close", "code": 1008})
                    return
            await self.app(scope, receive, send)
            return
        reloader = self.core.reloader
        if reloader.idle:  # servers without lifespan: start watching on first request
            reloader.start()
        assert self._routes is not None  # set whenever there is no problem
        # On every page, not only checkouts: the app never sees a member id a visitor sent.
        strip_untrusted(self._resolvers, scope)
        match = self._routes.match_scope(scope)
        if match is None:
            if self._admin is not None and self._admin.handles(scope):
                await self._admin(scope, receive, send)  # checks the host itself: 404
                return
            if self._webhooks is not None and scope["path"] == self._webhook_path \
                    and scope["method"] == "POST":
                if self._hosts is not None and not self._hosts.allows(scope):
                    await bad_host()(scope, receive, send)
                    return
                request = Request(scope, receive)
                await (await receive_webhook(self._webhooks, request))(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if self._hosts is not None and not self._hosts.allows(scope):
            await bad_host()(scope, receive, send)
            return
        if match.ambiguous:
            await ambiguous_service(match.route.service_param)(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        decision = await self.core.decide(
            lambda: resolve_chain(self._resolvers, conn),
            service_id=match.service_id, path=match.path, method=match.method,
        )
        scope.setdefault("state", {})[SCOPE_KEY] = decision
        if decision.allows:
            await self.app(scope, receive, _private(send, decision))
            return
        await render(decision, scope)(scope, receive, send)

    async def _misconfigured(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse to start; if served anyway, never a 500 and never an open checkout."""
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._fail_startup(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._routes is not None and self._routes.match_scope(scope) is None:
            await self.app(scope, receive, send)
            return
        # Without working routes nothing says which page is a checkout: refuse every page.
        decision = Decision(DEFAULT_ON_ERROR, "(on_error)", "none",
                            error="config_error: booking-gate is not configured correctly")
        await render(decision, scope)(scope, receive, send)

    def _fail_startup(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                message = {"type": "lifespan.startup.failed",
                           "message": f"booking-gate cannot start: {self.problem}"}
            await send(message)

        return wrapped

    def _lifespan_send(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.core.reloader.start()
            elif message["type"] == "lifespan.shutdown.complete":
                await self.aclose()
            await send(message)

        return wrapped


def _private(send: Send, decision: Decision) -> Send:
    """Mark an allowed checkout private: a shared cache must never serve it to someone else.

    It also says what the gate saw: the data it used and, when the policy fails open, that the
    fail mode let this one through and why.
    """
    extra = [(b"x-gate-data", decision.data.encode())]
    if decision.error is not None:
        extra += [(b"x-gate-rule", ON_ERROR.encode()),
                  (b"x-gate-error", (error_kind(decision) or "error").encode())]

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            headers["Cache-Control"] = "private, no-store"
            headers.add_vary_header("Cookie")
            headers.add_vary_header("Authorization")
            headers.raw.extend(extra)
        await send(message)

    return wrapped
