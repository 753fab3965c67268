"""The operator's status endpoint: which policy set serves, how the last reload went, shadow counts.

Answered only to ``status_clients`` (loopback by default); anyone else gets a plain 404, as if
the path did not exist, and their request goes nowhere near the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

from gate.identity.trusted_header import TrustedClients

if TYPE_CHECKING:
    from gate.middleware import BookingGate

__all__ = ["AdminEndpoints"]


class AdminEndpoints:
    """``GET <status_path>`` reports; ``POST <status_path>/reload`` reloads the policy files."""

    def __init__(self, gate: BookingGate, status_path: str, clients: Sequence[str]) -> None:
        self._gate = gate
        self._status = status_path.rstrip("/") or "/"
        self._reload = self._status.rstrip("/") + "/reload"
        self._clients = TrustedClients(clients)

    def handles(self, scope: Scope) -> bool:
        return scope["path"] in (self._status, self._reload)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if not client or client[0] not in self._clients:
            response: Any = PlainTextResponse("Not Found", status_code=404)
        elif scope["path"] == self._reload and scope["method"] == "POST":
            result = await self._gate.reload()
            response = JSONResponse(self._report(), status_code=200 if result.ok else 422)
        elif scope["path"] == self._status and scope["method"] in ("GET", "HEAD"):
            response = JSONResponse(self._report())
        else:
            response = PlainTextResponse("Method Not Allowed", status_code=405)
        response.headers["Cache-Control"] = "no-store"
        await response(scope, receive, send)

    def _report(self) -> dict[str, Any]:
        reloader = self._gate.reloader
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
            "shadow": dict(self._gate.shadow_counts),
        }
