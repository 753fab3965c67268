"""The operator's status endpoint: which policy set serves, how the last reload went, shadow counts.

Answered only to ``status_clients`` (loopback by default) and, when ``status_token`` is set,
only with ``Authorization: Bearer <token>``; anyone else gets a plain 404, as if the path did
not exist. Behind a local reverse proxy every client looks like 127.0.0.1: set a token there.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

from gate.core import DecisionCore
from gate.identity.trusted_header import TrustedClients

__all__ = ["AdminEndpoints"]


class AdminEndpoints:
    """``GET <status_path>`` reports; ``POST <status_path>/reload`` reloads the policy files."""

    def __init__(
        self, core: DecisionCore, status_path: str, clients: Sequence[str], token: str | None
    ) -> None:
        self._core = core
        self._token = f"Bearer {token}".encode() if token else None
        self._status = status_path.rstrip("/") or "/"
        self._reload = self._status.rstrip("/") + "/reload"
        self._clients = TrustedClients(clients)

    @property
    def status_path(self) -> str:
        return self._status

    def handles(self, scope: Scope) -> bool:
        return scope["path"] in (self._status, self._reload)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if not client or client[0] not in self._clients or not self._authorized(scope):
            response: Any = PlainTextResponse("Not Found", status_code=404)
        elif scope["path"] == self._reload and scope["method"] == "POST":
            result = await self._core.reloader.reload(force=True)
            response = JSONResponse(self._report(), status_code=200 if result.ok else 422)
        elif scope["path"] == self._status and scope["method"] in ("GET", "HEAD"):
            response = JSONResponse(self._report())
        else:
            response = PlainTextResponse("Method Not Allowed", status_code=405)
        response.headers["Cache-Control"] = "no-store"
        await response(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        if self._token is None:
            return True
        sent = dict(scope["headers"]).get(b"authorization", b"")
        return hmac.compare_digest(sent, self._token)

    def _report(self) -> dict[str, Any]:
        reloader = self._core.reloader
        policies = reloader.current
        last = reloader.last
        return {
            "policy": {
                "version": policies.version,
                "files": list(policies.files),
                "rules": [
                    {"name": r.name, "mode": "shadow" if r.shadow else "enforce",
                     "action": r.outcome.action, "file": r.file, "line": r.line}
                    for r in policies.rules
                ],
                "loaded_at": reloader.loaded_at,
            },
            "reload": {
                "ok": last.ok,
                "at": last.at,
                "watching": reloader.interval is not None,
                "problems": [p.as_dict() for p in last.problems],
            },
            "shadow": dict(self._core.shadow_counts),
        }
