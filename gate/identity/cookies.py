"""Every value of a cookie, from every ``Cookie`` header: duplicates are evidence, not noise.

Starlette's ``request.cookies`` (like most frameworks) keeps one value per name, the last one
it reads. Two cookies of one name are what a page on a sibling domain can plant (cookie tossing)
next to the member's own, so the resolvers need all of them to refuse the request instead of
silently picking one. The raw headers are parsed once per request, split exactly as Starlette
splits them (``;``, first ``=``, surrounding spaces, Python's unquoting), so a value here is the
value the app would read.
"""

from __future__ import annotations

from http.cookies import _unquote

from starlette.requests import HTTPConnection
from starlette.types import Scope

__all__ = ["cookie_values", "parse_cookies"]

#: Where the parsed cookies of one request are kept, on its HTTPConnection object.
_CACHE = "_booking_gate_cookie_lists"


def parse_cookies(scope: Scope) -> dict[str, list[str]]:
    """Each cookie name of the request with all its values, in the order they were sent."""
    found: dict[str, list[str]] = {}
    for name, raw in scope.get("headers") or ():
        if name != b"cookie":
            continue
        for chunk in raw.decode("latin-1").split(";"):
            key, equals, value = chunk.partition("=")
            if not equals:
                key, value = "", chunk
            key, value = key.strip(), value.strip()
            if key or value:
                found.setdefault(key, []).append(_unquote(value))
    return found


def cookie_values(conn: HTTPConnection, name: str) -> list[str]:
    """All values of cookie ``name`` (several when it is sent more than once), parsed once."""
    parsed: dict[str, list[str]] | None = getattr(conn, _CACHE, None)
    if parsed is None:
        parsed = parse_cookies(conn.scope)
        setattr(conn, _CACHE, parsed)
    return parsed.get(name, [])
