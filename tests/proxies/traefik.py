"""Traefik's forwardAuth wire contract, for tests that cannot run the Traefik binary.

Traefik is not packaged by Debian, so its tests do not run it. Instead this module does what
its ``forwardAuth`` middleware does with a visitor's request, as its documentation and its
source (``pkg/middlewares/auth/forward.go``) describe it:

* it asks ``address`` with a **GET** and no body, carrying the visitor's headers (minus
  hop-by-hop ones; only ``authRequestHeaders`` when that list is set) and its own
  ``X-Forwarded-Method``, ``X-Forwarded-Proto``, ``X-Forwarded-Host``, ``X-Forwarded-Uri``
  and ``X-Forwarded-For``, written from the request itself unless ``trustForwardHeader``;
* a 2xx answer lets the request through, after deleting each ``authResponseHeaders`` header
  from it and copying the answer's value, if any;
* any other answer goes to the visitor: its status, headers (minus hop-by-hop) and body.

The configuration it follows is read from docs/proxies/traefik.yml, the file the guide shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML

from tests.proxies.harness import Answer, exchange

#: The headers Traefik's forwardAuth writes itself (Traefik's docs, "Forward-Request Headers").
FORWARD_REQUEST_HEADERS = ("X-Forwarded-Method", "X-Forwarded-Proto", "X-Forwarded-Host",
                           "X-Forwarded-Uri", "X-Forwarded-For")
#: oxy's forward.HopHeaders, which Traefik removes before asking and before answering.
HOP_HEADERS = ("Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te",
               "Trailer", "Transfer-Encoding", "Upgrade")
#: What Go's HTTP client adds to a request that does not have them.
GO_CLIENT_HEADERS = {"User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}


@dataclass(frozen=True)
class ForwardAuth:
    """The ``forwardAuth`` options of one middleware in a Traefik dynamic configuration."""

    address: str
    trust_forward_header: bool
    auth_request_headers: tuple[str, ...]
    auth_response_headers: tuple[str, ...]

    @classmethod
    def from_yaml(cls, text: str, middleware: str) -> ForwardAuth:
        data: Any = YAML(typ="safe").load(StringIO(text))
        options = data["http"]["middlewares"][middleware]["forwardAuth"]
        known = {"address", "trustForwardHeader", "authRequestHeaders", "authResponseHeaders"}
        unknown = sorted(set(options) - known)
        if unknown:  # an option this contract does not model would go untested
            raise AssertionError(f"forwardAuth options not modelled here: {unknown}")
        return cls(
            address=str(options["address"]),
            trust_forward_header=bool(options.get("trustForwardHeader", False)),
            auth_request_headers=tuple(options.get("authRequestHeaders") or ()),
            auth_response_headers=tuple(options.get("authResponseHeaders") or ()),
        )

    def auth_headers(
        self, method: str, uri: str, host: str, client_ip: str, headers: dict[str, str]
    ) -> dict[str, str]:
        """The headers of the GET Traefik sends to ``address`` for this visitor's request."""
        sent = _without(headers, HOP_HEADERS)
        if self.auth_request_headers:
            allowed = {h.lower() for h in self.auth_request_headers}
            sent = {k: v for k, v in sent.items() if k.lower() in allowed}
        own = {"X-Forwarded-Method": method, "X-Forwarded-Proto": "http",
               "X-Forwarded-Host": host, "X-Forwarded-Uri": uri}
        given = {k.lower(): v for k, v in headers.items()}
        forwarded_for = client_ip
        if self.trust_forward_header:
            own = {k: given.get(k.lower()) or v for k, v in own.items()}
            if "x-forwarded-for" in given:
                forwarded_for = f"{given['x-forwarded-for']}, {client_ip}"
        sent = _without(sent, (*own, "X-Forwarded-For"))
        sent.update(own)
        sent["X-Forwarded-For"] = forwarded_for
        for name, value in GO_CLIENT_HEADERS.items():
            if name.lower() not in {k.lower() for k in sent}:
                sent[name] = value
        return sent


@dataclass(frozen=True)
class TraefikContract:
    """A visitor's request through Traefik's forwardAuth, to ``app`` behind it."""

    config: ForwardAuth
    app: str  # host:port
    host: str  # the site's host name, as the visitor sends it
    name: str = "traefik"

    def send(self, method: str, target: str, headers: dict[str, str],
             body: bytes = b"") -> Answer:
        visitor = {"Host": self.host, **headers}
        asked = self.config.auth_headers(method, target, self.host, "127.0.0.1", visitor)
        address = urlsplit(self.config.address)
        path = address.path + (f"?{address.query}" if address.query else "")
        try:
            answer = exchange(address.netloc, "GET", path, asked)
        except OSError:  # forward.go: the auth server cannot be reached -> 500, empty
            return Answer(500, {}, "")
        if not 200 <= answer.status < 300:
            return Answer(answer.status, _without(answer.headers, HOP_HEADERS), answer.text)
        upstream = _without(visitor, self.config.auth_response_headers)
        for name in self.config.auth_response_headers:
            if name.lower() in answer.headers:
                upstream[name] = answer.headers[name.lower()]
        return exchange(self.app, method, target, upstream, body)


def _without(headers: dict[str, str], names: tuple[str, ...] | list[str]) -> dict[str, str]:
    drop = {n.lower() for n in names}
    return {k: v for k, v in headers.items() if k.lower() not in drop}
