"""The standalone gate: health, readiness, status, the decision API and forward-auth.

    GET  /healthz                 alive (the process answers)
    GET  /readyz                  policies loaded and Wix not failing right now
    POST /v1/decisions            the decision for one service      (Bearer API secret)
    POST /v1/decisions/batch      the decisions for several services (Bearer API secret)
    POST /v1/webhooks/wix         Wix's signed booking and plan events: refresh that member
    *    /v1/forward-auth         for Traefik, Caddy and nginx
    *    /v1/forward-auth/render  the full redirect or deny page, for nginx's error_page
    GET  /v1/status               policy version, last reload, shadow counts (status token)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gate.admin import AdminEndpoints
from gate.assemble import Parts, assemble, checkouts_from_settings, options_from_settings
from gate.errors import ConfigError
from gate.routes import RouteMatcher
from gate.service.decisions import DecisionApi
from gate.service.forward_auth import ForwardAuth
from gate.settings import GateSettings
from gate.webhooks import WebhookReceiver
from gate.webhooks.http import receive_webhook

__all__ = ["STATUS_PATH", "create_service"]

STATUS_PATH = "/v1/status"
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
    if settings.api_secret is None or not settings.api_secret.get_secret_value().strip():
        raise ConfigError("the decision API needs a shared secret: set BOOKING_GATE_API_SECRET "
                          "(generate one with: python -c 'import secrets; "
                          "print(secrets.token_urlsafe(32))')")
    merged = {**options_from_settings(settings), **options}
    parts = assemble(**merged)
    routes = RouteMatcher(checkouts_from_settings(settings))
    api = DecisionApi(parts.core, secret=settings.api_secret.get_secret_value(),
                      tokens=parts.tokens)
    forward = ForwardAuth(parts.core, routes, parts.resolvers)
    token = settings.status_token.get_secret_value() if settings.status_token else None
    webhooks = (
        WebhookReceiver(public_key=settings.wix_webhook_public_key.get_secret_value(),
                        on_member=parts.core.invalidate)
        if settings.wix_webhook_public_key is not None else None
    )
    admin = AdminEndpoints(parts.core, settings.status_path or STATUS_PATH,
                           ("127.0.0.1", "::1"), token)

    async def readyz(request: Request) -> Response:
        return _readyz(parts)

    async def webhook(request: Request) -> Response:
        if webhooks is None:
            return JSONResponse({"error": "not_configured", "message": "set "
                                 "BOOKING_GATE_WIX_WEBHOOK_PUBLIC_KEY to receive Wix webhooks"},
                                status_code=404)
        return await receive_webhook(webhooks, request)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        parts.core.reloader.start()
        try:
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
            # Raw ASGI: it answers 404 to anyone but a local client with the status token.
            Route(admin.status_path, admin, methods=["GET", "HEAD"]),
            Route(admin.status_path + "/reload", admin, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.parts = parts
    return app


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


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
    return JSONResponse(body, status_code=200 if ready else 503,
                        headers={"Cache-Control": "no-store"})
