"""The operator's status endpoint: which policy set serves, how the last reload went, shadow counts.

It exists only with a status token (BOOKING_GATE_STATUS_TOKEN, or ``status_token=``), and
answers only ``Authorization: Bearer <token>`` from ``status_clients`` (loopback by default)
at an allowed host (``allowed_hosts``, when set). Anything else gets the same plain 404 as a
path that does not exist: without the token nobody can tell the endpoint is there, and
nothing about the rules, the policy files or the members is shown. Behind a local reverse
proxy every client looks like 127.0.0.1: the token is what keeps the endpoint private.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

from gate.adapters.hosts import AllowedHosts
from gate.adapters.responses import PRIVATE
from gate.identity.trusted_header import TrustedClients
from gate.secrets import check_secret

if TYPE_CHECKING:  # the metrics endpoint imports this module from beside the core
    from gate.decision.core import DecisionCore

__all__ = ["AdminEndpoints", "bearer", "sends_bearer"]


def bearer(token: str) -> bytes:
    """The exact ``Authorization`` value that carries ``token``."""
    return f"Bearer {token}".encode()


def sends_bearer(scope: Scope, expected: bytes) -> bool:
    """True when the request has exactly one ``Authorization`` header and it is ``expected``.

    Compared in constant time, so a token cannot be guessed a byte at a time from timings;
    two headers are a proxy's or a forgery, never accepted.
    """
    sent = [v for k, v in scope["headers"] if k == b"authorization"]
    return len(sent) == 1 and hmac.compare_digest(sent[0], expected)


class AdminEndpoints:
    """``GET <status_path>`` reports; ``POST <status_path>/reload`` reloads the policy files."""

    def __init__(
        self, core: DecisionCore, status_path: str, clients: Sequence[str], token: str | None,
        hosts: AllowedHosts | None = None,
    ) -> None:
        """``token`` None: the endpoint does not exist (always 404). A weak one is refused."""
        self._core = core
        if token is not None:
            check_secret(token, "the status token (BOOKING_GATE_STATUS_TOKEN or status_token=)")
        self._token = bearer(token) if token is not None else None
        self._hosts = hosts
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
        if (not client or client[0] not in self._clients or not self._authorized(scope)
                or (self._hosts is not None and not self._hosts.allows(scope))):
            response: Any = PlainTextResponse("Not Found", status_code=404)
        elif scope["path"] == self._reload and scope["method"] == "POST":
            result = await self._core.reloader.reload(force=True)
            response = JSONResponse(self._report(), status_code=200 if result.ok else 422)
        elif scope["path"] == self._status and scope["method"] in ("GET", "HEAD"):
            response = JSONResponse(self._report())
        else:
            response = PlainTextResponse("Method Not Allowed", status_code=405)
        response.headers.update(PRIVATE)
        await response(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        if self._token is None:
            return False  # no token configured: the endpoint does not exist
        return sends_bearer(scope, self._token)

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
                "warnings": [w.as_dict() for w in policies.warnings],
            },
            "reload": {
                "ok": last.ok,
                "at": last.at,
                "watching": reloader.interval is not None,
                "problems": [p.as_dict() for p in last.problems],
            },
            "shadow": dict(self._core.shadow_counts),
        }
