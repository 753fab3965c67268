"""A member id set by a reverse proxy the operator trusts, and by nobody else."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.requests import HTTPConnection
from starlette.types import Scope

from gate.data.expiring import remember
from gate.errors import ConfigError
from gate.identity.base import Identity, StillTrue, always

__all__ = ["STRIPPED", "TrustedClients", "TrustedHeaderResolver"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: RFC 9110 ``token``: what a header name is made of.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_SEEN_MAX = 4096
#: Scope key: the headers ``strip_untrusted`` removed because a trusted proxy sent them twice.
STRIPPED = "booking_gate.ambiguous_headers"


class TrustedClients:
    """Addresses and networks parsed once, so the hot path is a membership test."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._networks: list[_Network] = []
        for entry in entries:
            try:
                self._networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"trusted proxy {entry!r} is not an IP address or network (e.g. 10.0.0.0/8)"
                ) from None
        if not self._networks:
            raise ConfigError("TrustedHeaderResolver needs at least one trusted proxy address")
        self._seen: dict[str, bool] = {}

    def __contains__(self, host: object) -> bool:
        if not isinstance(host, str):
            return False
        # This runs on every request (strip_untrusted): clients repeat, so each address is
        # parsed and matched once. Bounded: a flood of new addresses resets the memo.
        known = self._seen.get(host)
        if known is None:
            known = remember(self._seen, host, self._match(host), _SEEN_MAX)
        return known

    def _match(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._networks)


class TrustedHeaderResolver:
    """Reads ``header`` (default ``X-Member-Id``) only from ``trusted_proxies``.

    From any other client address the header is ignored, as if absent, and ``strip_untrusted``
    (which the middleware runs on every HTTP request, checkout or not) removes it from the
    request, so the app behind never sees a member id a visitor wrote themselves. More than one
    such header, even from a trusted proxy, names nobody and is removed as well: a proxy that
    appends instead of replacing leaves the client's own value next to its own.

    "Client address" is ``scope["client"]``, what the ASGI server reports. A server that rewrites
    it from ``X-Forwarded-For`` (uvicorn does by default for connections from 127.0.0.1) hands
    the choice of address to whoever can reach it from there: see docs/proxies.md.
    """

    name = "proxy-header"

    def __init__(self, *, trusted_proxies: Iterable[str], header: str = "x-member-id") -> None:
        if isinstance(trusted_proxies, str | bytes):
            raise ConfigError("trusted_proxies must be a list of addresses or networks, like "
                              "['10.0.0.5'], not one string")
        self._trusted = TrustedClients(trusted_proxies)
        if any(network.prefixlen == 0 for network in self._trusted._networks):
            raise ConfigError("trusted_proxies may not cover every address (0.0.0.0/0, ::/0): "
                              "anyone could then name any member. List your proxies' addresses")
        if not isinstance(header, str) or not _TOKEN.match(header):
            raise ConfigError(f"header {header!r} is not an HTTP header name")
        self._header = header.lower()
        self._raw = self._header.encode("latin-1")
        #: What the answer depends on besides this resolver's settings (``resolve_kept``).
        self.reads = frozenset({self._raw})
        self.reads_client = True

    def __repr__(self) -> str:
        return f"TrustedHeaderResolver(header={self._header!r})"

    def _trusts(self, scope: Scope) -> bool:
        client = scope.get("client")
        return client is not None and len(client) > 0 and client[0] in self._trusted

    async def resolve(self, conn: HTTPConnection) -> Identity | None:
        return self.resolve_now(conn.scope)

    def resolve_now(self, scope: Scope) -> Identity | None:
        if not self._trusts(scope):
            return None
        values = [v for k, v in scope["headers"] if k == self._raw]
        if len(values) > 1 or self._header in scope.get(STRIPPED, ()):
            # We cannot tell which one the proxy set.
            return Identity(None, self.name, f"more than one {self._header} header")
        member_id = values[0].decode("latin-1").strip() if values else ""
        if not member_id:
            return None
        return Identity(member_id=member_id, via=self.name)

    def resolve_kept(self, scope: Scope) -> tuple[Identity | None, StillTrue]:
        """The answer depends on the header, the client and the strip mark alone."""
        return self.resolve_now(scope), always

    def strip_untrusted(self, scope: Scope) -> None:
        """Remove ``header`` from ``scope`` unless one trusted proxy sent it exactly once."""
        headers = scope.get("headers")
        if not headers:
            return
        # Runs on every page: a plain loop, cheaper than sum() over a generator.
        count = 0
        raw = self._raw
        for name, _ in headers:
            if name == raw:
                count += 1
        if count == 0:
            return
        trusted = self._trusts(scope)
        if count == 1 and trusted:
            return
        if trusted:  # the proxy appended to a visitor's copy: resolve() must still say so
            scope.setdefault(STRIPPED, set()).add(self._header)
        scope["headers"] = [(name, value) for name, value in headers if name != self._raw]
