"""Which requests are checkouts: path patterns with parameters, compiled once.

The model is "gate by path, pass by exception". A request whose path matches a checkout
route is gated whatever its method is (GET, post, PROPFIND, FOO...), unless the route lists
that method in ``pass_methods``. Listing the methods to gate instead would leave every
method nobody thought of open, and servers differ in which ones, and in which case, they pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import KW_ONLY, InitVar, dataclass
from typing import Literal
from urllib.parse import parse_qsl

from starlette.routing import compile_path
from starlette.types import Scope

from gate.data.expiring import remember
from gate.errors import ConfigError

__all__ = ["CheckoutMatch", "CheckoutRoute", "RouteMatcher", "route_path"]

#: Requests whose match is remembered before the table starts again.
_SEEN_MAX = 4096
_UNSEEN = object()
#: RFC 9110 ``token``: what a method may be made of.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
#: Starlette's ``{name}`` / ``{name:convertor}`` parameter syntax, to find malformed braces.
_PARAM = re.compile(r"\{[a-zA-Z_][a-zA-Z0-9_]*(?::[a-zA-Z_][a-zA-Z0-9_]*)?\}")


@dataclass(frozen=True, slots=True)
class CheckoutRoute:
    """One checkout URL pattern; every method on it is gated except ``pass_methods``.

    ``path`` uses Starlette's syntax (``/checkout/{service_id}``, ``/book/{slug:path}``) and
    matches with or without a trailing slash. The service id is read from ``service_param``:
    a path parameter when the path has parameters, else a query parameter. Wix's booking form,
    ``/booking-form?bookings_serviceId=<id>``, is the default. ``service_from="query"`` reads
    the query even when the path has parameters (``/studio/{location}/book?service=...``).

    ``pass_methods`` go to the app ungated, compared case-insensitively; by default only
    ``OPTIONS``, so CORS preflights work. HEAD is gated unless listed: it runs the GET handler.
    ``methods=`` (the old allow-list of gated methods) is refused with an explanation.
    """

    path: str = "/booking-form"
    _: KW_ONLY
    service_param: str = "bookings_serviceId"
    #: Stored as a sorted tuple of upper-case names, so routes stay hashable and comparable.
    pass_methods: Iterable[str] = ("OPTIONS",)
    service_from: Literal["path", "query"] | None = None
    methods: InitVar[object] = None

    def __post_init__(self, methods: object) -> None:
        if methods is not None:
            raise ConfigError(
                "CheckoutRoute no longer takes methods=: every method on a checkout path is "
                "now gated, except those in pass_methods (default ('OPTIONS',)). Remove "
                "methods=; to let a method through ungated, list it, e.g. "
                "pass_methods=('OPTIONS', 'GET', 'HEAD')"
            )
        params = _path_params(self.path)
        object.__setattr__(self, "pass_methods", _method_tuple(self.pass_methods, self.path))
        _check_service(self, params)

    @property
    def reads_path(self) -> bool:
        """True when the service id comes from a path parameter, False for the query."""
        if self.service_from is not None:
            return self.service_from == "path"
        return bool(_path_params(self.path))


@dataclass(frozen=True, slots=True)
class CheckoutMatch:
    """A gated request on a checkout route, with the service it is for (``""`` if none).

    ``method`` is the request method upper-cased (ASCII only) and ``path`` the route path in
    the route's own trailing-slash form: what policies should see, so a rule on
    ``method == "POST"`` or ``path == "/booking-form"`` cannot be dodged with ``post`` or
    ``/booking-form/``. ``ambiguous`` is set when the query names the service more than once
    with different values: the gate and the app could read different ones, so the gate
    refuses to decide.
    """

    route: CheckoutRoute
    service_id: str
    ambiguous: bool = False
    method: str = ""
    path: str = ""


class _Compiled:
    """One route, ready to match: regex, pass-method set and where the service id is."""

    __slots__ = ("group", "passes", "query_param", "regex", "route", "slash")

    def __init__(self, route: CheckoutRoute) -> None:
        self.route = route
        self.passes = frozenset(route.pass_methods)
        self.group = route.service_param if route.reads_path else None
        self.query_param = None if self.group else route.service_param
        self.slash = route.path != "/" and route.path.endswith("/")
        base = route.path.rstrip("/") or "/"
        pattern = compile_path(base)[0].pattern
        # Like Starlette's router (redirect_slashes), a path also matches with its trailing
        # slashes added or removed. "$" is kept, not "\Z": Starlette's routes use "$", which
        # also matches before a final "\n", and the gate must match whatever the app serves.
        if base != "/":
            if not pattern.endswith("$"):  # pragma: no cover - guards a Starlette change
                raise ConfigError(f"cannot compile checkout path {route.path!r}")
            pattern = pattern[:-1] + "/*$"
        self.regex: re.Pattern[str] = re.compile(pattern)


class RouteMatcher:
    """Answers "must the gate decide this request?"; everything is compiled in ``__init__``.

    ``match`` returns a CheckoutMatch for a request the gate must decide, and ``None`` for
    everything the app may see ungated: other paths, and ``pass_methods`` on checkout paths.
    When several routes match a path, a method passes only if every one of them passes it.
    """

    def __init__(self, routes: Iterable[CheckoutRoute]) -> None:
        if isinstance(routes, CheckoutRoute | str | bytes) or not isinstance(routes, Iterable):
            raise ConfigError(
                f"checkout routes must be a list of CheckoutRoute, got {type(routes).__name__}"
            )
        compiled = []
        for route in routes:
            if not isinstance(route, CheckoutRoute):
                raise ConfigError(
                    f"checkout routes must be CheckoutRoute objects, got {route!r}"
                )
            compiled.append(_Compiled(route))
        if not compiled:
            raise ConfigError("at least one checkout route is needed")
        self._routes = tuple(compiled)
        self._seen: dict[tuple[object, ...], CheckoutMatch | None] = {}

    def match(self, method: str, path: str, query_string: bytes) -> CheckoutMatch | None:
        """``path`` is the route path: the request path without the app's ``root_path``."""
        upper: str | None = None
        for compiled in self._routes:
            found = compiled.regex.match(path)
            if found is None:
                continue
            if upper is None:
                # ASCII only: Unicode case rules map the long s (U+017F) to "S", and no server
                # sends non-ASCII methods on purpose; they are never in a pass set: gated.
                upper = method.upper() if method.isascii() else method
            if upper in compiled.passes:
                continue
            return _matched(compiled, found, upper, path, query_string)
        return None

    def match_scope(self, scope: Scope) -> CheckoutMatch | None:
        """``match`` for a raw ASGI HTTP scope, honouring ``root_path`` (Mount, --root-path).

        Remembered per (method, path, root_path, query): a match depends on nothing else, and
        the hot path then neither runs the patterns nor parses the query again.
        """
        key = (scope["method"], scope["path"], scope.get("root_path"),
               scope.get("query_string", b""))
        found = self._seen.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = remember(self._seen, key, self.match(scope["method"], route_path(scope),
                                                         key[3]), _SEEN_MAX)
        return found  # type: ignore[return-value]

    def covers(self, path: str) -> bool:
        """Whether some checkout route matches ``path`` (a route path), whatever the method."""
        return any(compiled.regex.match(path) for compiled in self._routes)


def route_path(scope: Scope) -> str:
    """The path the app routes on: under a Mount or --root-path, without that prefix.

    Servers differ on whether ``path`` includes ``root_path``; both are handled. A trailing
    slash on ``root_path`` (``--root-path /studio/``) is ignored.
    """
    path: str = scope["path"]
    root: str = (scope.get("root_path") or "").rstrip("/")
    if root and path.startswith(root) and path[len(root):len(root) + 1] in ("", "/"):
        return path[len(root):] or "/"
    return path


def _matched(
    compiled: _Compiled, found: re.Match[str], method: str, path: str, query_string: bytes
) -> CheckoutMatch:
    route = compiled.route
    path = found.group(0)  # "$" also matches before a final "\n": policies never see it
    if path != "/" and path.endswith("/") != compiled.slash:
        path = path.rstrip("/") + ("/" if compiled.slash else "")
    if compiled.group is not None:
        return CheckoutMatch(route, _service_id(found.group(compiled.group)), method=method,
                             path=path)
    values = _query_values(query_string, route.service_param) if query_string else set()
    if len(values) > 1:
        return CheckoutMatch(route, "", ambiguous=True, method=method, path=path)
    return CheckoutMatch(route, _service_id(values.pop()) if values else "", method=method,
                         path=path)


#: What a service id can look like (Wix's are GUIDs; sites may use slugs).
_SERVICE_ID = re.compile(r"[A-Za-z0-9._~:-]{1,200}\Z")


def _service_id(value: str) -> str:
    """The service id, or "" (an unknown service, never looked up) when it is not shaped like
    one: a made-up 16 KB id must cost no Wix call and no memory."""
    return value if _SERVICE_ID.match(value) else ""


def _query_values(query_string: bytes, name: str) -> set[str]:
    # Decoded exactly as Starlette's request.query_params, so the gate reads what the app reads.
    return {
        value
        for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        if key == name
    }


# --- validation, at construction: a bad route must stop start-up, not open a checkout ------


def _path_params(path: object) -> tuple[str, ...]:
    if not isinstance(path, str):
        raise ConfigError(f"checkout path must be a string, got {type(path).__name__}")
    if not path:
        raise ConfigError("checkout path is empty; use the app's path, like '/booking-form'")
    if not path.startswith("/"):
        raise ConfigError(f"checkout path {path!r} must start with '/'")
    if "//" in path:
        raise ConfigError(f"checkout path {path!r} has an empty segment ('//')")
    if "?" in path or "#" in path:
        raise ConfigError(
            f"checkout path {path!r} may not contain '?' or '#': the query is not part of the"
            " path (the service id is read from service_param)"
        )
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise ConfigError(f"checkout path {path!r} contains spaces or control characters")
    rest = _PARAM.sub("", path)
    if "{" in rest or "}" in rest:
        raise ConfigError(
            f"checkout path {path!r} has a malformed parameter; write {{name}} or "
            "{name:convertor}, with a name made of letters, digits and '_'"
        )
    try:
        return tuple(compile_path(path)[2])
    except (AssertionError, ValueError) as exc:  # unknown convertor, duplicated name
        raise ConfigError(f"checkout path {path!r}: {exc}") from None


def _method_tuple(methods: object, path: str) -> tuple[str, ...]:
    if isinstance(methods, str | bytes) or not isinstance(methods, Iterable):
        raise ConfigError(
            f"pass_methods of {path!r} must be a list or tuple of method names, like "
            f"('OPTIONS',), got {methods!r}"
        )
    names = set()
    for method in methods:
        if not isinstance(method, str) or not _TOKEN.match(method):
            raise ConfigError(
                f"pass_methods of {path!r}: {method!r} is not an HTTP method name "
                "(letters, digits and !#$%&'*+-.^_`|~, no spaces)"
            )
        names.add(method.upper())
    return tuple(sorted(names))


def _check_service(route: CheckoutRoute, params: tuple[str, ...]) -> None:
    param, source = route.service_param, route.service_from
    if not isinstance(param, str) or not param:
        raise ConfigError(f"service_param of {route.path!r} must be a non-empty string")
    if source not in (None, "path", "query"):
        raise ConfigError(
            f"service_from of {route.path!r} must be 'path', 'query' or None, got {source!r}"
        )
    if source == "query" or (source is None and not params):
        return
    if param not in params:
        names = ", ".join(params) if params else "none"
        raise ConfigError(
            f"service_param {param!r} is not a parameter of checkout path {route.path!r} "
            f"(its parameters: {names}). Name the parameter that holds the service id, or "
            "pass service_from='query' if the service id is in the query string"
        )
