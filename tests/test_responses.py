"""Gate-made responses: return paths, content negotiation, private caching."""

from __future__ import annotations

import pytest

from gate.policy.decision import Decision, Outcome
from gate.responses import render, safe_return_path


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
