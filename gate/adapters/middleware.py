"""BookingGate: the pure ASGI middleware that stands in front of a booking checkout."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gate.adapters.admin import AdminEndpoints
from gate.adapters.hosts import AllowedHosts
from gate.adapters.lane import Lane
from gate.adapters.responses import (
    Answer,
    Answers,
    ambiguous_service,
    bad_host,
    private_send,
    render,
    send_page,
)
from gate.adapters.routes import CheckoutRoute, RouteMatcher
from gate.adapters.webhooks import WebhookReceiver
from gate.adapters.webhooks.http import receive_webhook
from gate.config.assemble import (
    PolicySource,
    assemble,
    checkouts_from_settings,
    options_from_settings,
)
from gate.config.settings import GateSettings
from gate.data.loader import BalanceLoader
from gate.decision.core import DecisionCore
from gate.errors import ConfigError, GateError, PolicyError
from gate.identity.base import (
    MemberResolver,
    Pending,
    StillTrue,
    identify_later,
    resolve_chain_kept,
    resolve_chain_now,
    strip_untrusted,
)
from gate.observe.lines import show_decision_lines
from gate.policy.decision import Decision
from gate.policy.policyset import DEFAULT_ON_ERROR, PolicySet
from gate.policy.reload import PolicyReloader, ReloadResult

__all__ = ["GATE_KEY", "SCOPE_KEY", "BookingGate", "PolicySource"]

#: Where the downstream app finds the Decision: ``request.state.booking_gate``.
SCOPE_KEY = "booking_gate"
#: Where the app finds the gate itself (for ``invalidate``): ``request.state.booking_gate_app``.
GATE_KEY = "booking_gate_app"

logger = logging.getLogger("booking_gate")
#: The checkout of a gate told nothing else: Wix's booking form.
_DEFAULT_CHECKOUTS = (CheckoutRoute(),)
#: How many open paths are remembered before the set starts again.
_OPEN_PATHS_MAX = 4096

class BookingGate:
    """Checks checkout requests against the studio's policies before the app sees them.

    Every other request, and every non-HTTP scope, goes to ``app`` untouched. Everything is
    built here, once: route patterns, the policy set, the Wix client, the cache. A request
    only resolves the member and asks the decision core (``gate.decision.core``), which every other
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
        settings: GateSettings | None = None,
        checkouts: Sequence[CheckoutRoute] = _DEFAULT_CHECKOUTS,
        status_path: str | None = None,
        status_clients: Sequence[str] = ("127.0.0.1", "::1"),
        status_token: str | None = None,
        webhook_path: str | None = None,
        webhook_public_key: str | None = None,
        allowed_hosts: Sequence[str] | None = None,
        **options: Any,
    ) -> None:
        """``settings`` (``GateSettings``) configures everything at once, as ``booking-gate
        serve`` is configured; keyword arguments given here win over it. ``options`` are those
        of ``gate.config.assemble.assemble`` (policies, source, wix, clocks...).

        ``webhook_path`` with ``webhook_public_key`` (Wix's PEM) receives Wix's signed booking
        and plan events at that path, so a member who just bought a plan is let in at once.

        ``status_path`` needs ``status_token`` (BOOKING_GATE_STATUS_TOKEN): without one the gate
        refuses to start rather than serve an open status endpoint.

        ``allowed_hosts`` (host names, ``*.example.com`` for subdomains) is checked on the
        requests the gate answers or decides: checkouts and the webhook path get a 400 for
        any other ``Host``, the status endpoint a 404. Every other page goes to ``app``
        untouched, so the app's own host check (Django's ALLOWED_HOSTS...) still applies.
        """
        if settings is not None:
            options = {**options_from_settings(settings), **options}
            if checkouts is _DEFAULT_CHECKOUTS:
                checkouts = checkouts_from_settings(settings)
            status_path = status_path or settings.status_path
            if allowed_hosts is None and settings.allowed_hosts:
                allowed_hosts = list(settings.allowed_hosts)
            if status_token is None and settings.status_token is not None:
                status_token = settings.status_token.get_secret_value()
            if webhook_public_key is None and settings.wix_webhook_public_key is not None:
                webhook_public_key = settings.wix_webhook_public_key.get_secret_value()
                webhook_path = webhook_path or settings.webhook_path
        self.app = app
        #: Why the gate cannot work, when it cannot; None when all is well.
        self.problem: GateError | None = None
        self._routes: RouteMatcher | None = None
        self._admin: AdminEndpoints | None = None
        self._webhook_path = webhook_path
        self._webhooks: WebhookReceiver | None = None
        self._hosts: AllowedHosts | None = None
        #: Paths seen to be no checkout, status or webhook path: they skip the gate at once.
        self._open_paths: set[str] = set()
        self._answers = Answers()
        #: Checkouts seen before, answered from their own bytes (None: resolvers cannot say).
        self._lane: Lane | None = None
        self._strips = False
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
            # Resolvers that remove headers (trusted proxies) must see every request.
            self._strips = any(hasattr(r, "strip_untrusted") for r in self._parts.resolvers)
            self._lane = Lane.over(self._parts.resolvers, self._strips)
            if status_path:
                self._admin = AdminEndpoints(self._parts.core, status_path, status_clients,
                                             status_token, self._hosts)
            if webhook_path is not None or webhook_public_key is not None:
                if not webhook_path or not webhook_public_key:
                    raise ConfigError("receiving Wix webhooks needs both webhook_path and "
                                      "webhook_public_key (BOOKING_GATE_WIX_WEBHOOK_PUBLIC_KEY)")
                shared = self._parts.shared
                self._webhooks = WebhookReceiver(
                    public_key=webhook_public_key, on_member=self._parts.core.invalidate,
                    # With Redis, a redelivery to another instance is recognised there too.
                    dedupe=shared.dedupe if shared is not None else None)
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
            broken._open_paths = set()
            return broken
        return cls(app, settings=settings, **options)

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
        # Most requests are pages that are not checkouts: one set lookup sends them on (once
        # any member id a visitor wrote is gone: the app must never see one).
        if scope["type"] == "http" and scope["path"] in self._open_paths \
                and not scope.get("root_path"):
            if self._strips:
                strip_untrusted(self._resolvers, scope)
            await self.app(scope, receive, send)
            return
        if self.problem is not None:
            await self._misconfigured(scope, receive, send)
            return
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return
        core = self._parts.core
        if core.reloader.idle:  # servers without lifespan: start watching on first request
            core.reloader.start()
        assert self._routes is not None  # set whenever there is no problem
        # On every page, not only checkouts: the app never sees a member id a visitor sent.
        if self._strips:
            strip_untrusted(self._resolvers, scope)
        lane, key = self._lane, None
        if lane is not None and scope["path"] in lane.paths \
                and (key := lane.key(scope)) is not None:
            # Seen before: the same method, path and query make the same route match.
            entry = lane.get(key)
            if entry is not None and (self._hosts is None or self._hosts.allows(scope)) \
                    and (decision := core.recall(entry[0])) is not None:
                await self._answer(decision, scope, receive, send, entry[1])
                return
        match = self._routes.match_scope(scope)
        if match is None:
            await self._not_checkout(scope, receive, send)
            return
        if self._hosts is not None and not self._hosts.allows(scope):
            await bad_host()(scope, receive, send)
            return
        if match.ambiguous:
            await ambiguous_service(match.route.service_param)(scope, receive, send)
            return
        still: tuple[StillTrue, ...] | None = None
        if lane is not None and (key is not None or (key := lane.key(scope)) is not None):
            identity, still = resolve_chain_kept(self._resolvers, scope)
        else:
            identity = resolve_chain_now(self._resolvers, scope)
        decision, answer = None, None
        if not isinstance(identity, Pending):
            decision, kept = core.decide_now_kept(identity, still, service_id=match.service_id,
                                                  path=match.path, method=match.method)
            if kept is not None:
                assert lane is not None and key is not None and decision is not None
                answer = self._answers.of(decision, scope)
                lane.put(key, (kept, answer), scope["path"])
        if decision is None:
            decision = await core.decide(
                identify_later(self._resolvers, scope, identity),
                service_id=match.service_id, path=match.path, method=match.method,
            )
        await self._answer(decision, scope, receive, send, answer)

    def _answer(self, decision: Decision, scope: Scope, receive: Receive, send: Send,
                answer: Answer | None) -> Awaitable[None]:
        # Not ``async``: the caller awaits the app (or the page) itself, one coroutine less.
        state = scope.get("state")
        if state is None:  # not ``setdefault``: it would build a dict each time
            state = scope["state"] = {}
        state[SCOPE_KEY] = decision
        if answer is None:
            answer = self._answers.of(decision, scope)
        if isinstance(answer, list):
            return self.app(scope, receive, private_send(send, answer))
        return send_page(answer, send)

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            # Lifespan state reaches every request's ``request.state`` (ASGI 2.3): the app
            # finds the gate there even when it was mounted with ``Middleware(...)``.
            if isinstance(scope.get("state"), dict):
                scope["state"][GATE_KEY] = self
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

    async def _not_checkout(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._admin is not None and self._admin.handles(scope):
            await self._admin(scope, receive, send)  # checks the host itself: 404
            return
        path = scope["path"]
        if self._webhooks is not None and path == self._webhook_path:
            if scope["method"] != "POST":
                await self.app(scope, receive, send)
                return
            if self._hosts is not None and not self._hosts.allows(scope):
                await bad_host()(scope, receive, send)
                return
            request = Request(scope, receive)
            await (await receive_webhook(self._webhooks, request))(scope, receive, send)
            return
        if not scope.get("root_path") and self._remember_open(path):
            if len(self._open_paths) >= _OPEN_PATHS_MAX:
                self._open_paths.clear()  # made-up paths must not grow it without bound
            self._open_paths.add(path)
        await self.app(scope, receive, send)

    def _remember_open(self, path: str) -> bool:
        """Whether ``path`` may skip the gate from now on, whatever the method: it is no
        checkout, and not the status or webhook path."""
        assert self._routes is not None
        if self._routes.covers(path) or path == self._webhook_path:
            return False
        return self._admin is None or not self._admin.handles(
            {"type": "http", "path": path, "method": "GET", "root_path": ""})

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
                await self._parts.start()
                show_decision_lines(logging.getLogger())
            elif message["type"] == "lifespan.shutdown.complete":
                await self.aclose()
            await send(message)

        return wrapped
