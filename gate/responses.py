"""The responses the gate sends itself: redirects and deny pages, built from a Decision."""

from __future__ import annotations

import html
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Scope

from gate.policy.decision import Decision

__all__ = ["render", "safe_return_path"]

# A decision depends on who is asking: no shared cache may store one member's answer.
_PRIVATE = {"Cache-Control": "no-store", "Vary": "Cookie, Authorization, Accept"}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
color:#222}}h1{{font-size:1.4rem}}a{{color:#0b5cad}}</style></head>
<body><h1>{title}</h1><p>{message}</p><p><a href="/">Back to the site</a></p></body></html>
"""
_TITLES = {503: "Please try again shortly", 429: "Please slow down"}


def safe_return_path(scope: Scope) -> str:
    """The page the visitor asked for, as a same-site path that cannot be turned off-site."""
    path = scope.get("path") or "/"
    # "//host" and "/\\host" are read by browsers as another site, and browsers drop tabs
    # and line breaks ("/\t/host"): never hand any of those back.
    if not path.startswith("/") or any(ord(ch) < 32 for ch in path):
        path = "/"
    if path.startswith(("//", "/\\")):
        path = "/"
    query = scope.get("query_string", b"")
    return path + ("?" + query.decode("latin-1") if query else "")


def render(decision: Decision, scope: Scope) -> Response:
    outcome = decision.outcome
    headers = dict(_PRIVATE)
    headers["X-Gate-Rule"] = decision.rule
    headers["X-Gate-Policy"] = decision.policy_version
    if outcome.reason:
        headers["X-Gate-Reason"] = outcome.reason
    if outcome.action == "redirect":
        assert outcome.location is not None
        location = outcome.location
        if outcome.return_to:
            joiner = "&" if "?" in location else "?"
            location += joiner + "return_to=" + quote(safe_return_path(scope), safe="/")
        return RedirectResponse(location, status_code=303, headers=headers)
    if outcome.status == 503:
        headers["Retry-After"] = "30"
    message = outcome.message or "This booking cannot go ahead."
    if _wants_json(scope):
        body = {
            "error": outcome.reason or "denied",
            "message": message,
            "rule": decision.rule,
            "policy": decision.policy_version,
        }
        return JSONResponse(body, status_code=outcome.status, headers=headers)
    title = _TITLES.get(outcome.status, "This booking can't go ahead")
    page = _PAGE.format(title=html.escape(title), message=html.escape(message))
    return Response(page, status_code=outcome.status, headers=headers, media_type="text/html")


def _wants_json(scope: Scope) -> bool:
    accept = Headers(scope=scope).get("accept", "")
    return "application/json" in accept and "text/html" not in accept
