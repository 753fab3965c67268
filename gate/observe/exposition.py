"""The metrics endpoint: one ``GateMetrics`` in Prometheus' text format, behind a bearer token.

``booking-gate serve`` answers it at ``GET /metrics`` once ``BOOKING_GATE_METRICS_TOKEN`` is
set; an app with the middleware mounts ``metrics_app(metrics, token=...)`` wherever it likes.
Without a token the endpoint does not exist (404). With one, a request without exactly
``Authorization: Bearer <token>`` gets a 401, so a Prometheus job with the wrong credentials
says so instead of looking like a wrong path. The token is its own, not the status token:
Prometheus keeps it in a file on another machine, and it must not also be able to reload
policies.
"""

from __future__ import annotations

from prometheus_client import make_asgi_app
from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gate.adapters.admin import bearer, sends_bearer
from gate.adapters.responses import PRIVATE, make_private
from gate.observe.metrics import GateMetrics
from gate.secrets import check_secret

__all__ = ["MetricsEndpoint", "metrics_app"]

_REALM = {"WWW-Authenticate": 'Bearer realm="booking-gate"'}


class MetricsEndpoint:
    """ASGI app: ``GET``/``HEAD`` with the bearer token → the metrics; anything else refused."""

    def __init__(self, metrics: GateMetrics, *, token: str | None,
                 setting: str = "the metrics token (BOOKING_GATE_METRICS_TOKEN or token=)",
                 ) -> None:
        """``token`` None: the endpoint does not exist (always 404). A weak one is refused
        with a ConfigError that names ``setting``."""
        if token is not None:
            check_secret(token, setting)
        self._expected = bearer(token) if token is not None else None
        self._export: ASGIApp = make_asgi_app(metrics.registry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # mounted, it may be offered a websocket: never
            await send({"type": "websocket.close", "code": 1008})
            return
        if self._expected is None:
            response: Response = PlainTextResponse("Not Found", status_code=404,
                                                   headers=PRIVATE)
        elif not sends_bearer(scope, self._expected):
            response = PlainTextResponse("send Authorization: Bearer <the metrics token>",
                                         status_code=401, headers={**PRIVATE, **_REALM})
        elif scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse("Method Not Allowed", status_code=405,
                                         headers={**PRIVATE, "Allow": "GET, HEAD"})
        else:
            await self._export(scope, receive, _private(send))
            return
        await response(scope, receive, send)


def metrics_app(metrics: GateMetrics, *, token: str | None) -> MetricsEndpoint:
    """The metrics of ``metrics`` as an ASGI app, to mount beside the middleware.

    ``token`` is the bearer token Prometheus sends (``authorization: credentials_file``);
    None, e.g. an unset environment variable, makes the endpoint answer 404.
    """
    return MetricsEndpoint(metrics, token=token)


def _private(send: Send) -> Send:
    """No cache keeps the numbers: they are the operator's, and stale the next second."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            make_private(MutableHeaders(scope=message))
        await send(message)

    return wrapped
