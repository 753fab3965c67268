"""``allowed_hosts``: answer only requests addressed to a host the operator named.

A request whose ``Host`` is not listed (or that has none, or two) is refused before anything
else happens. It stops DNS rebinding (a page on another site making a visitor's browser talk to
a gate on 127.0.0.1 or the office network) and requests routed to the gate by a name nobody
configured. Patterns are compared without the port, case-insensitively:

- ``booking.example.com``: that host only
- ``*.example.com``: any subdomain of example.com (not example.com itself)
- ``*``: any host (the same as not checking)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.types import Scope

from gate.errors import ConfigError

__all__ = ["AllowedHosts", "request_host"]

_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\Z")
_IPV6 = re.compile(r"\[[0-9a-f:.]{2,45}\]\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")


def _normalise(name: str) -> str | None:
    """A host name or IP literal in the form patterns use, or None when it is not one."""
    name = name.strip().lower()
    if name.endswith(".") and not name.endswith(".."):
        name = name[:-1]  # the absolute form of a DNS name: the same host
    if _NAME.match(name) or _IPV6.match(name):
        return name
    return None


def request_host(scope: Scope) -> str | None:
    """The host a request was sent to, without its port; None if missing, repeated or bad."""
    values = [v for k, v in scope.get("headers", ()) if k == b"host"]
    if len(values) != 1:
        return None
    try:
        value = values[0].decode("ascii")
    except UnicodeDecodeError:
        return None
    host, port = value, ""
    if value.startswith("["):
        end = value.find("]")
        host, port = value[:end + 1], value[end + 1:]
    elif ":" in value:
        host, _, port = value.rpartition(":")
        port = ":" + port
    if port and not (port.startswith(":") and _PORT.match(port[1:])):
        return None
    return _normalise(host)


class AllowedHosts:
    """The hosts the gate answers for; built once from the setting, matched per request."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._exact: set[str] = set()
        self._suffixes: list[str] = []
        self._any = False
        self.patterns = tuple(patterns)
        for pattern in self.patterns:
            text = pattern.strip().lower() if isinstance(pattern, str) else ""
            if text == "*":
                self._any = True
                continue
            wildcard = text.startswith("*.")
            name = _normalise(text[2:] if wildcard else text)
            if name is None:
                raise ConfigError(
                    f"allowed_hosts: {pattern!r} is not a host name; write names like "
                    "booking.example.com or *.example.com, without http:// or a port"
                )
            if wildcard:
                self._suffixes.append("." + name)
            else:
                self._exact.add(name)
        if not self.patterns:
            raise ConfigError("allowed_hosts is empty: list the host names the gate answers "
                              "for, or leave the setting out")

    def __repr__(self) -> str:
        return f"AllowedHosts({list(self.patterns)!r})"

    def allows(self, scope: Scope) -> bool:
        """True when the request's one Host header names an allowed host."""
        if self._any:
            return True
        host = request_host(scope)
        if host is None:
            return False
        if host in self._exact:
            return True
        return any(host.endswith(suffix) for suffix in self._suffixes)
