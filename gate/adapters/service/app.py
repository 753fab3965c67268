"""The standalone gate: health, readiness, status, the decision API and forward-auth.

    GET  /healthz                 alive (the process answers)
    GET  /readyz                  policies loaded and Wix not failing right now
    POST /v1/decisions            the decision for one service      (Bearer API secret)
    POST /v1/decisions/batch      the decisions for several services (Bearer API secret)
    POST /v1/webhooks/wix         Wix's signed booking and plan events: refresh that member
    *    /v1/forward-auth         for Traefik, Caddy and nginx
    *    /v1/forward-auth/render  the full redirect or deny page, for nginx's error_page
    GET  /v1/status               policy version, last reload, shadow counts (status token)
    POST /v1/status/reload        reload the policy files now                 (status token)
    GET  /metrics                 Prometheus metrics                         (metrics token)

Without BOOKING_GATE_STATUS_TOKEN the status endpoints do not exist (404), nor does /metrics
without BOOKING_GATE_METRICS_TOKEN (and then no metrics are counted). With
BOOKING_GATE_ALLOWED_HOSTS, a request to any other host gets a 400 from every endpoint. Every
response is ``Cache-Control: no-store`` with ``Vary: Cookie, Authorization, Accept``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gate.adapters.admin import AdminEndpoints
from gate.adapters.hosts import AllowedHosts
from gate.adapters.responses import PRIVATE
from gate.adapters.routes import RouteMatcher
from gate.adapters.service.decisions import DecisionApi, DecisionShortcut
from gate.adapters.service.forward_auth import ForwardAuth
from gate.adapters.service.guard import ServiceGuard
from gate.adapters.webhooks import WebhookReceiver
from gate.adapters.webhooks.http import receive_webhook
from gate.config.assemble import Parts, assemble, checkouts_from_settings, options_from_settings
from gate.config.settings import GateSettings
from gate.errors import ConfigError
from gate.observe.exposition import MetricsEndpoint
from gate.observe.metrics import GateMetrics
from gate.secrets import GENERATE_HINT, check_secret

__all__ = ["METRICS_PATH", "STATUS_PATH", "create_service"]

STATUS_PATH = "/v1/status"
METRICS_PATH = "/metrics"
_METRICS_TOKEN = "the metrics token (BOOKING_GATE_METRICS_TOKEN)"
#: A Wix failure younger than this, with no success since, makes the gate not ready.
_READY_WINDOW = 60.0
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_service(
    settings: GateSettings | None = None, *, config_file: str | Path | None = None,
    **options: Any,
) -> Starlette:
    """The service as an ASGI app. Raises ConfigError (or PolicyError) with one clear message.

    ``options`` override what ``settings`` say (seams for tests: a source, a clock...).
    """
    settings = settings or GateSettings.load(config_file)
    if settings.api_secret is None:
        raise ConfigError("the decision API needs a shared secret: set "
                          f"BOOKING_GATE_API_SECRET. {GENERATE_HINT}")
    secret = check_secret(settings.api_secret.get_secret_value(),
                          "the API secret (BOOKING_GATE_API_SECRET)")
    status = settings.status_token
    token = status.get_secret_value() if status is not None else None  # "" is refused below
    if settings.status_path and token is None:
        raise ConfigError("BOOKING_GATE_STATUS_PATH is set but there is no status token: set "
                          "BOOKING_GATE_STATUS_TOKEN, or remove the path")
    hosts = AllowedHosts(settings.allowed_hosts) if settings.allowed_hosts else None
    merged = {**options_from_settings(settings), **options}
    metrics_token = None
    if settings.metrics_token is not None:
        # Checked before anything is built: a weak token must not leave a log file open.
        metrics_token = check_secret(settings.metrics_token.get_secret_value(), _METRICS_TOKEN)
        merged.setdefault("metrics", GateMetrics())
    parts = assemble(**merged)
    routes = RouteMatcher(checkouts_from_settings(settings))
    api = DecisionApi(parts.core, secret=secret, tokens=parts.tokens)
    forward = ForwardAuth(parts.core, routes, parts.resolvers)
    webhooks = (
        WebhookReceiver(public_key=settings.wix_webhook_public_key.get_secret_value(),
                        on_member=parts.core.invalidate,
                        dedupe=parts.shared.dedupe if parts.shared is not None else None)
        if settings.wix_webhook_public_key is not None else None
    )
    admin = AdminEndpoints(parts.core, settings.status_path or STATUS_PATH,
                           ("127.0.0.1", "::1"), token, hosts)

    async def readyz(request: Request) -> Response:
        return _readyz(parts)

    async def webhook(request: Request) -> Response:
        if webhooks is None:
            return JSONResponse({"error": "not_configured", "message": "set "
                                 "BOOKING_GATE_WIX_WEBHOOK_PUBLIC_KEY to receive Wix webhooks"},
                                status_code=404, headers=PRIVATE)
        return await receive_webhook(webhooks, request)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            await parts.start()
            yield
        finally:
            await parts.core.aclose()

    app = Starlette(
        routes=[
            Route("/healthz", _healthz, methods=["GET", "HEAD"]),
            Route("/readyz", readyz, methods=["GET", "HEAD"]),
            Route("/v1/decisions", api.decide, methods=["POST"]),
            Route("/v1/decisions/batch", api.decide_batch, methods=["POST"]),
            Route("/v1/webhooks/wix", webhook, methods=["POST"]),
            Route("/v1/forward-auth", forward.check, methods=_ALL_METHODS),
            Route("/v1/forward-auth/render", forward.render, methods=_ALL_METHODS),
            # Raw ASGI, every method: it answers 404 to anyone but a local client with the
            # status token, before looking at the method (a 405 would say it is there).
            Route(admin.status_path, admin),
            Route(admin.status_path + "/reload", admin),
            # Raw ASGI too: 404 without a metrics token, 401 without the right one, then 405.
            *([Route(METRICS_PATH, MetricsEndpoint(parts.metrics, token=metrics_token,
                                                   setting=_METRICS_TOKEN))]
              if parts.metrics is not None else []),
        ],
        lifespan=lifespan,
        middleware=[Middleware(DecisionShortcut, api=api, hosts=hosts),
                    Middleware(ServiceGuard, hosts=hosts)],
    )
    # No 307 from /v1/status/ to /v1/status (it would say the endpoint exists), nor for the
    # API paths: callers use the documented paths.
    app.router.redirect_slashes = False
    app.state.parts = parts
    return app


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=PRIVATE)


def _readyz(parts: Parts) -> Response:
    """Ready: a policy set is serving, and Wix is not failing right now (or was never asked)."""
    policies = parts.core.reloader.current
    now = time.monotonic()
    upstream: dict[str, Any] = {"checked": parts.client is not None}
    ready = True
    if parts.client is not None:
        ok, error = parts.client.last_ok, parts.client.last_error
        upstream["lastOkSecondsAgo"] = round(now - ok, 1) if ok is not None else None
        if error is not None:
            upstream["lastError"] = {"kind": error[1], "secondsAgo": round(now - error[0], 1)}
            failing = ok is None or error[0] > ok
            ready = not (failing and now - error[0] < _READY_WINDOW)
    body = {"ready": ready, "policyVersion": policies.version, "rules": len(policies.rules),
            "upstream": upstream}
    if parts.shared is not None:
        # Still ready while Redis is down: each instance then decides with its own memory
        # and a local share of the budget (docs/redis.md).
        body["redis"] = parts.shared.readiness()
    return JSONResponse(body, status_code=200 if ready else 503, headers=PRIVATE)
