"""``/v1/forward-auth``: the decision for a reverse proxy that asks before every request.

Traefik (``forwardAuth``) and Caddy (``forward_auth``) send the original request as
``X-Forwarded-Method`` / ``X-Forwarded-Uri`` / ``X-Forwarded-Host`` and relay whatever this
answers: 2xx lets the request through, anything else goes to the visitor as it is. nginx's
``auth_request`` sends ``X-Original-Method`` / ``X-Original-URI`` (set in its config) and only
understands 2xx, 401 and 403; for it a redirect is a 401 carrying ``X-Gate-Location``, and a
deny is a 403 whose page nginx fetches from ``/v1/forward-auth/render`` (see docs/proxies.md).

Identity comes from the forwarded ``Authorization`` and ``Cookie`` headers, through the same
resolvers as the middleware; the decision from the same core.

An allowed request's answer carries ``X-Gate-Member: <member id>``: it is for the proxy, which
may copy it onto the request it forwards to the app (Traefik ``authResponseHeaders``, Caddy
``copy_headers``, nginx ``auth_request_set``); proxies do not send it to the visitor. It is the
only place the gate names a member in a response; redirects and deny pages never do.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import unquote

from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response

from gate.adapters.responses import ON_ERROR, PRIVATE, ambiguous_service, render
from gate.adapters.routes import CheckoutMatch, RouteMatcher
from gate.decision.core import DecisionCore
from gate.identity.base import MemberResolver, resolve_chain
from gate.policy.decision import Decision
from gate.policy.policyset import DEFAULT_ON_ERROR

__all__ = ["ForwardAuth"]

_PASS = PRIVATE  # never stored: the answer depends on the forwarded Cookie and Authorization


class ForwardAuth:
    """Reads the forwarded request, asks the core, answers in the proxy's terms."""

    def __init__(
        self, core: DecisionCore, routes: RouteMatcher, resolvers: tuple[MemberResolver, ...]
    ) -> None:
        self._core = core
        self._routes = routes
        self._resolvers = resolvers

    async def check(self, request: Request) -> Response:
        return await self._answer(request, render_page=False)

    async def render(self, request: Request) -> Response:
        """The full response (redirect or deny page) for nginx's error_page to hand on."""
        return await self._answer(request, render_page=True)

    async def _answer(self, request: Request, *, render_page: bool) -> Response:
        original = _original(request)
        if isinstance(original, Response):
            if "x-original-uri" in request.headers and not render_page:
                # nginx turns any status but 2xx/401/403 into a 500: say 403, and let its
                # error_page fetch the real 400 from /render.
                return Response(status_code=403, headers={**_PASS, "X-Gate-Status": "400"})
            return original
        method, uri, nginx = original
        raw, _, query = uri.partition("?")
        # Decoded like the ASGI server decodes a path, so routes match the same way.
        path = unquote(raw)
        scope = {
            "type": "http", "method": method, "path": path, "raw_path": raw.encode("latin-1"),
            "query_string": query.encode("latin-1"), "root_path": "",
            "headers": request.scope["headers"], "client": request.scope.get("client"),
        }
        match = self._routes.match_scope(scope)
        if match is None and path != (lowered := path.lower()):
            # An app behind a proxy may route /Booking-Form like /booking-form: gate that too.
            match = self._routes.match_scope({**scope, "path": lowered})
        if match is None:
            return Response(status_code=200, headers=_PASS)  # not a checkout: at once
        if match.ambiguous:
            return ambiguous_service(match.route.service_param)
        decision = await self._decide(scope, match, hold=not render_page)
        if decision.allows and render_page:
            # nginx was told "no" a moment ago; a page now saying "yes" would be blank. Never
            # an empty 200 here: ask the visitor to try again, which asks the gate again.
            return render(replace(decision, outcome=DEFAULT_ON_ERROR,
                                  error="race: the decision changed"), scope)
        if decision.allows:
            headers = {**_PASS, "X-Gate-Rule": decision.rule,
                       "X-Gate-Policy": decision.policy_version, "X-Gate-Data": decision.data}
            if decision.member_id:
                headers["X-Gate-Member"] = decision.member_id
            return Response(status_code=200, headers=headers)
        page = render(decision, scope)
        if not nginx or render_page:
            return page
        # nginx's auth_request passes on 401 and 403 only: say where to go in a header.
        rule = ON_ERROR if decision.error is not None else decision.rule
        headers = {**_PASS, "X-Gate-Rule": rule, "X-Gate-Policy": decision.policy_version,
                   "X-Gate-Data": decision.data}
        if decision.outcome.action == "redirect":
            headers["X-Gate-Location"] = page.headers["location"]
            return Response(status_code=401, headers=headers)
        headers["X-Gate-Status"] = str(decision.outcome.status)
        return Response(status_code=403, headers=headers)

    async def _decide(
        self, scope: dict[str, object], match: CheckoutMatch, *, hold: bool
    ) -> Decision:
        conn = HTTPConnection(scope)
        return await self._core.decide(
            lambda: resolve_chain(self._resolvers, conn),
            service_id=match.service_id, path=match.path, method=match.method, hold=hold,
        )


def _original(request: Request) -> tuple[str, str, bool] | Response:
    """(method, URI, asked by nginx) of the request the proxy is asking about, or a 400."""
    headers = request.headers
    values = {name: headers.getlist(name) for name in
              ("x-forwarded-uri", "x-original-uri", "x-forwarded-method", "x-original-method")}
    if any(len(v) > 1 for v in values.values()):
        return _bad("the original request is named more than once")
    first = {name: v[0] if v else None for name, v in values.items()}
    # Two proxies, or a client header the proxy did not overwrite: refuse to pick one.
    for a, b in (("x-forwarded-uri", "x-original-uri"),
                 ("x-forwarded-method", "x-original-method")):
        if first[a] is not None and first[b] is not None and first[a] != first[b]:
            return _bad(f"{a} and {b} disagree")
    nginx = first["x-original-uri"] is not None
    # The method comes from the same family of headers as the path, never from the other.
    uri = first["x-original-uri"] if nginx else first["x-forwarded-uri"]
    method = first["x-original-method"] if nginx else first["x-forwarded-method"]
    if not uri or not uri.startswith("/"):
        return _bad("send the original request's path in X-Forwarded-Uri (Traefik, Caddy) or "
                    "X-Original-URI (nginx)")
    if not method:
        return _bad("send the original request's method in X-Forwarded-Method or "
                    "X-Original-Method")
    if _not_canonical(uri.partition("?")[0]):
        # The app behind the proxy may clean "/x/../booking-form" up into a checkout that
        # this gate never matched: such paths are refused, not guessed at.
        return _bad("the path has dot segments, empty segments or path parameters")
    return method, uri, nginx


def _not_canonical(raw: str) -> bool:
    path = unquote(raw)
    segments = path.split("/")[1:]
    return (
        any(s in (".", "..") for s in segments)
        or "//" in path or "\\" in path or ";" in path
    )


def _bad(message: str) -> Response:
    return PlainTextResponse(f"Bad request: {message}.", status_code=400, headers=_PASS)
