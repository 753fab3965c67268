"""The responses the gate sends itself: redirects and deny pages, built from a Decision.

Every one of them is private (``Cache-Control: no-store``, ``Vary: Cookie, Authorization,
Accept``) and says which rule decided (``X-Gate-Rule``). A decision taken by the fail mode
always says ``X-Gate-Rule: (on_error)`` and ``X-Gate-Error: <kind>``; the error's text, which
may name upstream details, only goes to the log.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import Message, Scope, Send

from gate.adapters.routes import route_path
from gate.data.expiring import remember
from gate.policy.decision import Decision
from gate.policy.paths import is_same_site_path

__all__ = [
    "ON_ERROR",
    "PRIVATE",
    "Answer",
    "Answers",
    "PageCache",
    "PrivateSend",
    "RawPage",
    "ambiguous_service",
    "bad_host",
    "make_private",
    "private_headers",
    "private_send",
    "render",
    "safe_return_path",
    "send_page",
]

#: The X-Gate-Rule of every decision the fail mode made, whatever rule was running.
ON_ERROR = "(on_error)"

# A decision depends on who is asking: no shared cache may store one member's answer.
#: The headers of every response the gate writes itself, whichever adapter sends it.
_VARY = ("Cookie", "Authorization", "Accept")
PRIVATE = {"Cache-Control": "no-store", "Vary": ", ".join(_VARY)}
_PRIVATE = PRIVATE
# What an error kind looks like ("upstream_unavailable"); anything else is not a kind but text.
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}\Z")
# RFC 3986 path characters left as they are when root_path goes into a Location header.
_PATH_SAFE = "/!$&'()*+,;=:@"
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
color:#222}}h1{{font-size:1.4rem}}a{{color:#0b5cad}}</style></head>
<body><h1>{title}</h1><p>{message}</p><p><a href="{home}">Back to the site</a></p></body></html>
"""
_TITLES = {503: "Please try again shortly", 429: "Please slow down"}


def safe_return_path(scope: Scope) -> str:
    """The page the visitor asked for, ``root_path`` included, as a URL that stays on this site.

    The path is percent-encoded like the query already is, so the value is one URL.
    """
    root = _root(scope)
    path = route_path({"path": scope.get("path") or "", "root_path": root})
    if path.startswith("/"):
        path = root + path
    if not is_same_site_path(path):
        path = "/"
    query = scope.get("query_string", b"")
    return quote(path, safe=_PATH_SAFE) + ("?" + query.decode("latin-1") if query else "")


def render(decision: Decision, scope: Scope) -> Response:
    """The response for a decision that does not let the request through."""
    outcome = decision.outcome
    kind = error_kind(decision)
    rule = ON_ERROR if decision.error is not None else decision.rule
    headers = {**_PRIVATE, "X-Gate-Rule": rule, "X-Gate-Policy": decision.policy_version,
               "X-Gate-Data": decision.data}
    if kind is not None:
        headers["X-Gate-Error"] = kind
    if outcome.reason:
        headers["X-Gate-Reason"] = outcome.reason
    if outcome.action == "redirect":
        assert outcome.location is not None
        location = _under_root(outcome.location, scope)
        if outcome.return_to:
            joiner = "&" if "?" in location else "?"
            location += joiner + "return_to=" + quote(safe_return_path(scope), safe="/")
        return RedirectResponse(location, status_code=303, headers=headers)
    if outcome.status == 503:
        headers["Retry-After"] = "30"
    message = outcome.message or "This booking cannot go ahead."
    if _wants_json(scope):
        body: dict[str, str] = {
            "error": outcome.reason or "denied",
            "message": message,
            "rule": rule,
            "policy": decision.policy_version,
        }
        if kind is not None:
            body["error_kind"] = kind
        return JSONResponse(body, status_code=outcome.status, headers=headers)
    title = _TITLES.get(outcome.status, "This booking can't go ahead")
    home = _under_root("/", scope)
    page = _PAGE.format(title=html.escape(title), message=html.escape(message),
                        home=html.escape(home))
    return Response(page, status_code=outcome.status, headers=headers, media_type="text/html")


#: A response ready to send: status, raw headers, body.
RawPage = tuple[int, list[tuple[bytes, bytes]], bytes]
_PAGES_MAX = 2048


class PageCache:
    """Rendered refusals, kept per decision: the hot path sends a redirect or a deny page
    without building a Response, quoting a URL or formatting HTML again.

    A decision's page depends only on the decision, whether JSON was asked for, the
    ``root_path`` and (for a sign-in redirect) the page to return to: that is the key.
    """

    def __init__(self) -> None:
        self._pages: dict[tuple[object, ...], RawPage] = {}

    def page(self, decision: Decision, scope: Scope) -> RawPage:
        """The refusal of ``decision`` for this request, rendered once per key."""
        outcome = decision.outcome
        json = outcome.action != "redirect" and _wants_json(scope)
        back = safe_return_path(scope) if outcome.return_to else None
        key = (decision, json, scope.get("root_path") or "", back)
        page = self._pages.get(key)
        if page is None:
            response = render(decision, scope)
            page = remember(self._pages, key, (response.status_code, response.raw_headers,
                                               bytes(response.body)), _PAGES_MAX)
        return page


async def send_page(page: RawPage, send: Send) -> None:
    status, headers, body = page
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_CACHE_CONTROL = (b"cache-control", b"private, no-store")
_VARY_ON = b"Cookie, Authorization"


def private_tail(extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """What ``private_headers`` adds to a response with no ``Cache-Control`` or ``Vary``:
    those two, then ``extra``."""
    return [_CACHE_CONTROL, (b"vary", _VARY_ON), *extra]


def private_headers(
    headers: Iterable[tuple[bytes, bytes]], tail: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """An allowed checkout's headers made private, in one pass over the raw list: the app's
    own ``Cache-Control`` replaced by ``private, no-store``, ``Cookie`` and ``Authorization``
    added to its ``Vary``, then the rest of ``tail`` (``private_tail``)."""
    out: list[tuple[bytes, bytes]] = []
    vary: list[bytes] | None = None
    for pair in headers:
        name = pair[0]
        # Only names of these two lengths can be either: the others need no lower-casing.
        if len(name) in (4, 13):
            lower = name.lower()
            if lower == b"cache-control":
                continue
            if lower == b"vary":
                if vary is None:
                    vary = []
                vary.append(pair[1])
                continue
        out.append(pair)
    if vary is None:
        out += tail
        return out
    vary.append(_VARY_ON)
    out += [_CACHE_CONTROL, (b"vary", b", ".join(vary))]
    out += tail[2:]
    return out


class PrivateSend:
    """What an allowed checkout's response gets (``private_send``): ``private_headers``, with
    ``X-Gate-Data`` and, when the fail mode let it through, ``X-Gate-Rule``/``X-Gate-Error``
    (built once per data kind and error kind: ``extra``)."""

    def __init__(self) -> None:
        self._extra: dict[tuple[str, str | None], list[tuple[bytes, bytes]]] = {}

    def extra(self, decision: Decision) -> list[tuple[bytes, bytes]]:
        """The headers an allowed ``decision`` adds (``private_tail``)."""
        # The error kind is read only for the fail mode's decisions: most have none.
        kind = None if decision.error is None else error_kind(decision)
        tail = self._extra.get((decision.data, kind))
        if tail is None:  # a few of each: the data kinds times the error kinds
            extra = [(b"x-gate-data", decision.data.encode())]
            if kind is not None:
                extra += [(b"x-gate-rule", ON_ERROR.encode()), (b"x-gate-error", kind.encode())]
            tail = self._extra[(decision.data, kind)] = private_tail(extra)
        return tail


#: A decision's answer, ready to send: an allowed checkout's private headers
#: (``PrivateSend.extra``, for ``private_send``), or a refusal's page (for ``send_page``).
Answer = list[tuple[bytes, bytes]] | RawPage


class Answers:
    """Each decision's answer, built once per kind (``Answer``)."""

    def __init__(self) -> None:
        self.pages = PageCache()
        self.private = PrivateSend()

    def of(self, decision: Decision, scope: Scope) -> Answer:
        return self.private.extra(decision) if decision.allows \
            else self.pages.page(decision, scope)


if sys.version_info >= (3, 12):
    from inspect import markcoroutinefunction
else:
    _F = TypeVar("_F", bound=Callable[..., Any])

    def markcoroutinefunction(func: _F) -> _F:
        """``inspect.markcoroutinefunction`` before 3.12, as asgiref and Django shim it:
        ``asyncio.iscoroutinefunction`` (what callers check there) then says True."""
        func._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
        return func


@markcoroutinefunction  # the instances: whoever checks the callable itself
class _PrivateSender:
    """``private_send``'s wrapper: a plain call that hands back ``send``'s own awaitable, one
    coroutine less for each message than an ``async def``.

    Marked as a coroutine function all the same (the instances, and ``__call__``, which is what
    asgiref checks: its ``WsgiToAsgi`` warns on a ``send`` that is not one). The difference
    shows only to an app that does not await ``send(message)`` at once, as ASGI apps do: an
    error in the headers, or in the server's ``send``, is raised by the call, not by the
    ``await``, and a task made of the call gets the server's awaitable, not a coroutine."""

    __slots__ = ("_send", "_tail")

    def __init__(self, send: Send, tail: list[tuple[bytes, bytes]]) -> None:
        self._send = send
        self._tail = tail

    @markcoroutinefunction
    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            message["headers"] = private_headers(message.get("headers") or (), self._tail)
        return self._send(message)


def private_send(send: Send, tail: list[tuple[bytes, bytes]]) -> Send:
    """``send``, with the response's headers made private (``private_headers``)."""
    return _PrivateSender(send, tail)


def ambiguous_service(param: str) -> Response:
    """400 for a query naming the service twice: the gate will not guess which one counts."""
    return PlainTextResponse(
        f"Bad request: {param} is given more than once with different values.",
        status_code=400, headers={**_PRIVATE, "X-Gate-Rule": "(bad-request)"},
    )


def bad_host() -> Response:
    """400 for a request whose Host is not in ``allowed_hosts``; the host is not echoed."""
    return PlainTextResponse("Bad request: this host is not served here.", status_code=400,
                             headers={**_PRIVATE, "X-Gate-Rule": "(bad-host)"})


def make_private(headers: MutableHeaders) -> None:
    """Make a response the gate did not build itself private: ``no-store`` unless it says
    something stricter already, and ``Vary`` on everything that identifies the caller."""
    cache = headers.get("cache-control", "")
    if "no-store" not in cache.lower():
        headers["Cache-Control"] = "no-store"
    vary = [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]
    seen = {v.lower() for v in vary}
    if "*" not in seen:
        vary += [name for name in _VARY if name.lower() not in seen]
    headers["Vary"] = ", ".join(vary)


def error_kind(decision: Decision) -> str | None:
    """``decision.error_kind`` when it is a kind; ``"error"`` when it is really message text."""
    kind = decision.error_kind
    if kind is None:
        return None
    return kind if _KIND.match(kind) else "error"


def _root(scope: Scope) -> str:
    """``root_path`` without its trailing slash, as the server gave it (decoded)."""
    root: str = (scope.get("root_path") or "").rstrip("/")
    return root if root.startswith("/") else ""


def _under_root(location: str, scope: Scope) -> str:
    """A policy's same-site target, under the Mount or --root-path the gate is served from.

    A target already under ``root_path`` is left alone: policies written with the full path
    before the gate prefixed it keep working. If the prefix could make it read as another
    site, the policy's own (already validated) target is used.
    """
    root = _root(scope)
    if not root or not is_same_site_path(root):
        return location
    root = quote(root, safe=_PATH_SAFE)  # the policy's target is a URL: match its encoding
    if location == root or location.startswith((root + "/", root + "?")):
        return location
    return root + location


def _wants_json(scope: Scope) -> bool:
    # The first Accept header, as Starlette's Headers.get reads it, without building one.
    for name, value in scope.get("headers") or ():
        if name == b"accept":
            accept = value.decode("latin-1")
            return "application/json" in accept and "text/html" not in accept
    return False
