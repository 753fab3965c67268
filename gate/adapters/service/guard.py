"""What every response of ``booking-gate serve`` gets, whichever endpoint (or none) answers.

``allowed_hosts``, when set, is checked first: a request addressed to any other host gets a
400 from every endpoint, health checks included, before routing. Every response then leaves
private: ``Cache-Control: no-store`` and ``Vary: Cookie, Authorization, Accept``, including
Starlette's own 404 and 405, so no shared cache keeps one caller's answer for another.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gate.adapters.hosts import AllowedHosts
from gate.adapters.responses import bad_host, make_private

__all__ = ["ServiceGuard"]


class ServiceGuard:
    """ASGI middleware: the host check, then private headers on every response."""

    def __init__(self, app: ASGIApp, hosts: AllowedHosts | None = None) -> None:
        self.app = app
        self._hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._hosts is not None and not self._hosts.allows(scope):
            await bad_host()(scope, receive, send)
            return

        async def private(message: Message) -> None:
            if message["type"] == "http.response.start":
                make_private(MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, private)
