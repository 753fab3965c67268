"""Which requests are checkouts: path patterns with parameters, compiled once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.routing import compile_path

from gate.errors import ConfigError

__all__ = ["CheckoutMatch", "CheckoutRoute", "RouteMatcher"]


@dataclass(frozen=True, slots=True)
class CheckoutRoute:
    """One checkout URL pattern.

    ``path`` uses Starlette's syntax (``/checkout/{service_id}``, ``/book/{slug:path}``).
    The service id is read from the path parameter or the query parameter named
    ``service_param``, path first. Wix's booking form is ``/booking-form`` with
    ``?bookings_serviceId=<id>``, which is the default.
    """

    path: str = "/booking-form"
    methods: Sequence[str] = ("GET", "POST")
    service_param: str = "bookings_serviceId"


@dataclass(frozen=True, slots=True)
class CheckoutMatch:
    """A request that hit a checkout route, with the service it is for (``""`` if none)."""

    route: CheckoutRoute
    service_id: str


class _Compiled:
    __slots__ = ("methods", "regex", "route")

    def __init__(self, route: CheckoutRoute) -> None:
        if not route.path.startswith("/"):
            raise ConfigError(f"checkout path {route.path!r} must start with '/'")
        if not route.methods:
            raise ConfigError(f"checkout path {route.path!r} needs at least one method")
        self.route = route
        self.methods = frozenset(m.upper() for m in route.methods)
        self.regex: re.Pattern[str] = compile_path(route.path)[0]


class RouteMatcher:
    """Answers "is this a checkout?" for a scope; everything is compiled in ``__init__``."""

    def __init__(self, routes: Iterable[CheckoutRoute]) -> None:
        self._routes = tuple(_Compiled(r) for r in routes)
        if not self._routes:
            raise ConfigError("at least one checkout route is needed")

    def match(self, method: str, path: str, query_string: bytes) -> CheckoutMatch | None:
        for compiled in self._routes:
            if method not in compiled.methods:
                continue
            found = compiled.regex.match(path)
            if found is None:
                continue
            param = compiled.route.service_param
            service = found.groupdict().get(param)
            if service is None and query_string:
                service = _query_value(query_string, param)
            return CheckoutMatch(route=compiled.route, service_id=str(service or ""))
        return None


def _query_value(query_string: bytes, name: str) -> str | None:
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key == name:
            return value
    return None
