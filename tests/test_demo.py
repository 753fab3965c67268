"""The demo site behind the gate, over real HTTP, against the emulator over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import CHECKOUT, PILATES, Emulator

YOGA_FORM = CHECKOUT
PILATES_FORM = f"/booking-form?bookings_serviceId={PILATES}"
UNKNOWN_FORM = "/booking-form?bookings_serviceId=00000000-0000-4000-8000-00000000dead"


@pytest.mark.parametrize(
    ("member", "form", "status", "location", "rule"),
    [
        ("ana", YOGA_FORM, 200, None, None),
        ("ana", PILATES_FORM, 200, None, None),  # 2 credits of her 3
        ("ben", YOGA_FORM, 303, "/plans-pricing?reason=no-credits", "no-credits"),
        ("ben", PILATES_FORM, 303, "/plans-pricing?reason=no-credits", "no-credits"),
        ("cleo", YOGA_FORM, 403, None, "plan-paused"),
        ("dev", YOGA_FORM, 303, "/plans-pricing?reason=no-plan", "no-plan"),
        ("eve", YOGA_FORM, 200, None, None),
        ("eve", PILATES_FORM, 200, None, None),  # 2 <= 2.5 in her live plan
        ("fay", YOGA_FORM, 200, None, None),  # a yoga-only plan with 4 credits
        ("fay", PILATES_FORM, 303, "/plans-pricing?reason=not-in-plan", "not-in-plan"),
        # 0.5 + 0.5 in two plans: one plan pays for a session, and neither has 1.
        ("gus", YOGA_FORM, 303, "/plans-pricing?reason=not-enough-credits",
         "not-enough-credits"),
        ("gus", PILATES_FORM, 303, "/plans-pricing?reason=not-enough-credits",
         "not-enough-credits"),
        ("ana", UNKNOWN_FORM, 303, "/book-online?reason=unknown-service", "unknown-service"),
    ],
)
def test_each_demo_member_gets_their_outcome(
    demo: Callable[..., httpx.Client], member: str, form: str, status: int,
    location: str | None, rule: str | None,
) -> None:
    """Every demo member's checkout, per class, ends where the acceptance table says."""
    response = demo(member).get(form)
    assert response.status_code == status
    assert response.headers.get("location") == location
    assert response.headers.get("x-gate-rule") == rule
    if status == 200:
        assert response.headers["x-demo-page"] == "checkout"
    else:
        assert "x-demo-page" not in response.headers  # the checkout never rendered
        assert response.headers["cache-control"] == "no-store"


def test_paused_plan_is_explained_and_stops(demo: Callable[..., httpx.Client]) -> None:
    """cleo sees why she cannot book, as a page for browsers and JSON for API clients."""
    page = demo("cleo").get(CHECKOUT, headers={"accept": "text/html"})
    assert page.status_code == 403
    assert "Your plan is paused" in page.text
    assert page.headers["content-type"].startswith("text/html")
    api = demo("cleo").get(CHECKOUT, headers={"accept": "application/json"})
    assert api.json() == {
        "error": "plan-paused",
        "message": "Your plan is paused. Resume it from your account to book again.",
        "rule": "plan-paused",
        "policy": api.headers["x-gate-policy"],
    }


def test_eve_books_on_active_pool_only(demo: Callable[..., httpx.Client]) -> None:
    """2.5 credits in ACTIVE pay for a 1-credit class but not a 2.5+ one; ENDED's 4 never count."""
    eve = demo("eve")
    assert eve.get(CHECKOUT).status_code == 200
    pilates = eve.get(f"/booking-form?bookings_serviceId={PILATES}")
    assert pilates.status_code == 200  # 2 credits <= 2.5
    assert eve.post(f"/booking-form?bookings_serviceId={PILATES}").status_code == 303
    # 0.5 left in the ACTIVE pool; the ENDED pool's 4 must not open a 1-credit class.
    response = eve.get(CHECKOUT)
    assert response.status_code == 303
    assert response.headers["x-gate-rule"] == "not-enough-credits"


def test_signed_out_visitor_is_sent_to_sign_in_with_a_safe_return_path(
    demo: Callable[..., httpx.Client],
) -> None:
    """No token: 303 to sign in, carrying the checkout as a same-site path to come back to."""
    response = demo().get(CHECKOUT)
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert target.path == "/demo/login"
    query = parse_qs(target.query)
    assert query["reason"] == ["sign-in-required"]
    assert query["return_to"] == [CHECKOUT]


def test_visitor_token_counts_as_signed_out(
    demo: Callable[..., httpx.Client], emulator: Emulator
) -> None:
    """A Wix visitor token is valid, but it is nobody's membership."""
    client = demo()
    client.cookies.set("wix_member_token", emulator.visitor_token())
    response = client.get(CHECKOUT)
    assert response.headers["x-gate-rule"] == "sign-in-first"


def test_login_flow_returns_to_checkout(demo: Callable[..., httpx.Client]) -> None:
    """The demo login mints a real member token at the emulator and goes back where asked."""
    client = demo()
    login = client.get("/demo/login", params={"member": "ana", "return_to": CHECKOUT})
    assert login.status_code == 303
    assert login.headers["location"] == CHECKOUT
    assert login.headers["x-demo-page"] == "login"
    assert client.get(CHECKOUT).headers["x-demo-page"] == "checkout"
    logout = client.get("/demo/logout")
    assert logout.status_code == 303
    client.cookies.clear()
    assert client.get(CHECKOUT).headers["x-gate-rule"] == "sign-in-first"


def test_login_refuses_off_site_return(demo: Callable[..., httpx.Client]) -> None:
    response = demo().get("/demo/login", params={"member": "ana",
                                                 "return_to": "https://evil.example/"})
    assert response.headers["location"] == "/book-online"


@pytest.mark.parametrize("member", [None, "ana", "ben", "cleo", "dev", "eve"])
@pytest.mark.parametrize(("path", "page"), [("/book-online", "services"),
                                            ("/plans-pricing", "plans")])
def test_open_pages_are_open_to_everyone(
    demo: Callable[..., httpx.Client], member: str | None, path: str, page: str
) -> None:
    response = demo(member).get(path)
    assert response.status_code == 200
    assert response.headers["x-demo-page"] == page
    assert "x-gate-rule" not in response.headers


def test_ana_is_redirected_on_her_fourth_booking(
    demo: Callable[..., httpx.Client], emulator: Emulator
) -> None:
    """Confirming spends a credit at the emulator; the gate sees it at once (invalidation)."""
    ana = demo("ana")
    for booking in range(3):
        assert ana.get(CHECKOUT).status_code == 200, booking
        confirm = ana.post(CHECKOUT)
        assert confirm.status_code == 303
        assert "booked=1" in confirm.headers["location"]
    fourth = ana.get(CHECKOUT)
    assert fourth.status_code == 303
    assert fourth.headers["location"] == "/plans-pricing?reason=no-credits"
    # The POST is gated too: a fourth confirmation cannot spend a credit she does not have.
    assert ana.post(CHECKOUT).status_code == 303
    balance = emulator.admin.get(
        "/benefit-programs/v1/balances/54f64ce6-f56e-5d88-bb99-ce8b48813437",
        headers={"Authorization": emulator.api_key, "wix-site-id": "test-site-0001"},
    ).json()["balance"]
    assert balance["amount"]["available"] == "0"


def test_downstream_app_sees_the_decision(demo: Callable[..., httpx.Client]) -> None:
    """The allowed checkout page reads the gate's Decision from request.state."""
    page = demo("ana").get(CHECKOUT)
    assert "Allowed by rule (default)" in page.text
