"""Gate-made responses: return paths, root_path, fail-mode headers, private caching."""

from __future__ import annotations

import json

import pytest

from gate.adapters.responses import ambiguous_service, render, safe_return_path
from gate.policy.decision import Decision, Outcome


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/booking-form", b"bookings_serviceId=1", "/booking-form?bookings_serviceId=1"),
        ("/booking-form", b"", "/booking-form"),
        # Browsers read these as another host: they collapse to the site root.
        ("//evil.example/booking-form", b"", "/"),
        ("/\\evil.example", b"", "/"),
        ("", b"", "/"),
        ("relative", b"", "/"),
    ],
)
def test_safe_return_path(path: str, query: bytes, expected: str) -> None:
    assert safe_return_path({"path": path, "query_string": query}) == expected


def _scope(accept: str = "text/html", path: str = "/booking-form") -> dict[str, object]:
    return {"type": "http", "path": path, "query_string": b"x=1",
            "headers": [(b"accept", accept.encode())]}


def test_redirect_carries_reason_and_encoded_return_path() -> None:
    outcome = Outcome("redirect", 303, location="/login?reason=sign-in", reason="sign-in",
                      return_to=True)
    response = render(Decision(outcome, "r", "v1"), _scope())
    assert response.status_code == 303
    assert response.headers["location"] == "/login?reason=sign-in&return_to=/booking-form%3Fx%3D1"
    assert response.headers["x-gate-rule"] == "r"
    assert response.headers["x-gate-policy"] == "v1"
    assert response.headers["x-gate-reason"] == "sign-in"
    assert response.headers["cache-control"] == "no-store"
    assert "Cookie" in response.headers["vary"]


def test_deny_escapes_html_and_answers_json_to_api_clients() -> None:
    outcome = Outcome("deny", 403, message="<script>x</script>", reason="nope")
    page = render(Decision(outcome, "r", "v1"), _scope())
    assert b"<script>x" not in page.body
    assert b"&lt;script&gt;" in page.body
    api = render(Decision(outcome, "r", "v1"), _scope("application/json"))
    assert api.media_type == "application/json"
    assert b'"error":"nope"' in api.body


def test_fail_mode_page_asks_to_retry_later() -> None:
    outcome = Outcome("deny", 503, message="try later", reason="gate-unavailable")
    response = render(Decision(outcome, "(on_error)", "v1", error="upstream"), _scope())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert b"upstream" not in response.body  # internal error text stays in the log


def test_every_gate_response_is_private_and_varies_on_who_asks() -> None:
    redirect = Outcome("redirect", 303, location="/plans-pricing", reason="r")
    deny = Outcome("deny", 403, message="no", reason="r")
    for outcome in (redirect, deny):
        for accept in ("text/html", "application/json"):
            response = render(Decision(outcome, "r", "v1"), _scope(accept))
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["vary"] == "Cookie, Authorization, Accept"
    bad = ambiguous_service("bookings_serviceId")
    assert (bad.status_code, bad.headers["x-gate-rule"]) == (400, "(bad-request)")
    assert bad.headers["cache-control"] == "no-store"
    assert bad.headers["vary"] == "Cookie, Authorization, Accept"


# (c) Under a Mount or --root-path, the policy's `to:` and the return path are the app's paths:
# the visitor's browser needs them with the root_path in front.
ROOT_CASES = [
    # root_path, scope path, policy target, expected Location
    ("/studio", "/studio/booking-form", "/plans-pricing?reason=r",
     "/studio/plans-pricing?reason=r&return_to=/studio/booking-form%3Fx%3D1"),
    # Servers that strip root_path from path (older uvicorn --root-path) give the same answer.
    ("/studio", "/booking-form", "/plans-pricing?reason=r",
     "/studio/plans-pricing?reason=r&return_to=/studio/booking-form%3Fx%3D1"),
    ("/studio/", "/studio/booking-form", "/plans-pricing",
     "/studio/plans-pricing?return_to=/studio/booking-form%3Fx%3D1"),
    ("/a/b", "/a/b/booking-form", "/login",
     "/a/b/login?return_to=/a/b/booking-form%3Fx%3D1"),
    # A target the policy already wrote under root_path is not prefixed twice.
    ("/studio", "/studio/booking-form", "/studio/plans-pricing",
     "/studio/plans-pricing?return_to=/studio/booking-form%3Fx%3D1"),
    ("/studio", "/studio/booking-form", "/studiox",
     "/studio/studiox?return_to=/studio/booking-form%3Fx%3D1"),
    # Decoded characters in root_path are encoded again, once.
    ("/my studio", "/my studio/booking-form", "/login",
     "/my%20studio/login?return_to=/my%2520studio/booking-form%3Fx%3D1"),
    # A root_path that a browser would read as another host is never put in front.
    ("/\\evil.example", "/\\evil.example/booking-form", "/login", "/login?return_to=/%3Fx%3D1"),
    ("", "/booking-form", "/login", "/login?return_to=/booking-form%3Fx%3D1"),
    ("/", "/booking-form", "/login", "/login?return_to=/booking-form%3Fx%3D1"),
]


@pytest.mark.parametrize(("root", "path", "target", "location"), ROOT_CASES)
def test_redirects_and_return_paths_include_root_path(
    root: str, path: str, target: str, location: str
) -> None:
    outcome = Outcome("redirect", 303, location=target, return_to=True)
    scope = _scope(path=path) | {"root_path": root}
    assert render(Decision(outcome, "r", "v1"), scope).headers["location"] == location


def test_redirect_without_return_to_gets_root_path_too() -> None:
    outcome = Outcome("redirect", 303, location="/plans-pricing?reason=no-credits")
    scope = _scope(path="/studio/booking-form") | {"root_path": "/studio"}
    response = render(Decision(outcome, "r", "v1"), scope)
    assert response.headers["location"] == "/studio/plans-pricing?reason=no-credits"


def test_deny_page_links_back_to_the_mounted_site() -> None:
    outcome = Outcome("deny", 403, message="no")
    scope = _scope(path="/studio/booking-form") | {"root_path": "/studio"}
    assert b'href="/studio/"' in render(Decision(outcome, "r", "v1"), scope).body


@pytest.mark.parametrize(("root", "path", "expected"), [
    ("/studio", "/studio/booking-form", "/studio/booking-form?x=1"),
    ("/studio", "/booking-form", "/studio/booking-form?x=1"),
    ("/studio", "/studio//evil.example", "/studio//evil.example?x=1"),  # stays under /studio
    ("", "//evil.example", "/?x=1"),
    ("/\\evil.example", "/\\evil.example/booking-form", "/?x=1"),
    ("", "/booking-form\t", "/?x=1"),
])
def test_safe_return_path_under_root_path(root: str, path: str, expected: str) -> None:
    assert safe_return_path({"path": path, "root_path": root, "query_string": b"x=1"}) == expected


# (d) Fail-mode decisions: X-Gate-Rule says (on_error) and X-Gate-Error says which kind, for a
# source failure and for a rule that failed at run time alike. The error's text never leaves.
SECRET_TEXT = "connect to internal-billing.corp:8443 refused"
ON_ERROR_CASES = [
    # rule, error, expected X-Gate-Error
    pytest.param("(on_error)", f"upstream_unavailable: {SECRET_TEXT}", "upstream_unavailable",
                 id="source-failure"),
    pytest.param("no-credits", f"rule 'no-credits': {SECRET_TEXT}", "rule_error",
                 id="rule-failed-at-runtime"),
    pytest.param("(on_error)", "internal_error: KeyError", "internal_error", id="internal"),
    # No "kind:" prefix: the text itself must not become a header.
    pytest.param("(on_error)", SECRET_TEXT, "error", id="bare-message"),
    pytest.param("(on_error)", "upstream\r\nSet-Cookie: x=1", "error", id="header-injection"),
]


@pytest.mark.parametrize(("rule", "error", "kind"), ON_ERROR_CASES)
@pytest.mark.parametrize("outcome", [
    Outcome("deny", 503, message="Please try again shortly.", reason="gate-unavailable"),
    Outcome("redirect", 303, location="/try-later", reason="gate-unavailable", return_to=True),
], ids=["deny", "redirect"])
@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_on_error_decisions_say_so(
    rule: str, error: str, kind: str, outcome: Outcome, accept: str
) -> None:
    response = render(Decision(outcome, rule, "v1", error=error), _scope(accept))
    assert response.headers["x-gate-rule"] == "(on_error)"
    assert response.headers["x-gate-error"] == kind
    assert response.headers["cache-control"] == "no-store"
    everything = bytes(response.body) + str(response.headers).encode()
    assert b"internal-billing" not in everything
    assert b"Set-Cookie" not in bytes(response.body)
    assert "set-cookie" not in response.headers


def test_json_deny_carries_the_error_kind_not_the_message() -> None:
    outcome = Outcome("deny", 503, message="try later", reason="gate-unavailable")
    decision = Decision(outcome, "no-credits", "v1", error=f"rule 'no-credits': {SECRET_TEXT}")
    body = json.loads(render(decision, _scope("application/json")).body)
    assert body == {"error": "gate-unavailable", "message": "try later", "rule": "(on_error)",
                    "policy": "v1", "error_kind": "rule_error"}


def test_decisions_without_an_error_have_no_error_header() -> None:
    outcome = Outcome("deny", 403, message="no", reason="r")
    html_page = render(Decision(outcome, "plan-paused", "v1"), _scope())
    assert html_page.headers["x-gate-rule"] == "plan-paused"
    assert "x-gate-error" not in html_page.headers
    assert "error_kind" not in json.loads(
        render(Decision(outcome, "plan-paused", "v1"), _scope("application/json")).body)
