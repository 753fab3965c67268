"""A member id set by a reverse proxy the operator trusts, and by nobody else."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

from gate.errors import ConfigError
from gate.identity.base import Identity

__all__ = ["TrustedClients", "TrustedHeaderResolver"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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

    def __contains__(self, host: object) -> bool:
        if not isinstance(host, str):
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._networks)


class TrustedHeaderResolver:
    """Reads ``header`` (default ``X-Member-Id``) only from ``trusted_proxies``.

    From any other client address the header is ignored, as if absent: otherwise anyone could
    claim to be any member by setting it.
    """

    name = "proxy-header"

    def __init__(self, *, trusted_proxies: Iterable[str], header: str = "x-member-id") -> None:
        self._trusted = TrustedClients(trusted_proxies)
        self._header = header.lower()

    async def resolve(self, conn: HTTPConnection) -> Identity | None:
        client = conn.scope.get("client")
        if not client or client[0] not in self._trusted:
            return None
        values = conn.headers.getlist(self._header)
        if len(values) > 1:
            # A proxy that appends rather than replaces leaves the client's own value in the
            # list: with two, we cannot tell which one the proxy set.
            return Identity(member_id=None, via=self.name)
        member_id = values[0].strip() if values else ""
        if not member_id:
            return None
        return Identity(member_id=member_id, via=self.name)
