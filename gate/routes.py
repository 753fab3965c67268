"""Which requests are checkouts: path patterns with parameters, compiled once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.routing import compile_path
from starlette.types import Scope

from gate.errors import ConfigError

__all__ = ["CheckoutMatch", "CheckoutRoute", "RouteMatcher", "route_path"]


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
    """A request that hit a checkout route, with the service it is for (``""`` if none).

    ``ambiguous`` is set when the query names the service more than once with different
    values: the gate and the app could read different ones, so the gate refuses to decide.
    """

    route: CheckoutRoute
    service_id: str
    ambiguous: bool = False


class _Compiled:
    __slots__ = ("methods", "regex", "route")

    def __init__(self, route: CheckoutRoute) -> None:
        if not route.path.startswith("/"):
            raise ConfigError(f"checkout path {route.path!r} must start with '/'")
        if not route.methods:
            raise ConfigError(f"checkout path {route.path!r} needs at least one method")
        self.route = route
        methods = {m.upper() for m in route.methods}
        # Servers answer HEAD with the GET handler: gating GET alone would leave HEAD open.
        if "GET" in methods:
            methods.add("HEAD")
        self.methods = frozenset(methods)
        self.regex: re.Pattern[str] = compile_path(route.path)[0]


class RouteMatcher:
    """Answers "is this a checkout?" for a scope; everything is compiled in ``__init__``."""

    def __init__(self, routes: Iterable[CheckoutRoute]) -> None:
        self._routes = tuple(_Compiled(r) for r in routes)
        if not self._routes:
            raise ConfigError("at least one checkout route is needed")

    def match(self, method: str, path: str, query_string: bytes) -> CheckoutMatch | None:
        """``path`` is the route path: the request path without the app's ``root_path``."""
        for compiled in self._routes:
            if method not in compiled.methods:
                continue
            found = compiled.regex.match(path)
            if found is None:
                continue
            param = compiled.route.service_param
            service = found.groupdict().get(param)
            if service is not None:
                return CheckoutMatch(compiled.route, str(service))
            values = _query_values(query_string, param) if query_string else set()
            if len(values) > 1:
                return CheckoutMatch(compiled.route, "", ambiguous=True)
            return CheckoutMatch(compiled.route, values.pop() if values else "")
        return None


def route_path(scope: Scope) -> str:
    """The path the app routes on: under a Mount or --root-path, without that prefix."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] in ("", "/"):
        return path[len(root):] or "/"
    return path


def _query_values(query_string: bytes, name: str) -> set[str]:
    return {
        value
        for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        if key == name
    }
