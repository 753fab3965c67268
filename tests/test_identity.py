"""Member resolution over real HTTP: signed cookies, trusted proxy headers, never unverified ids."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gate import BookingGate, ConfigError, SignedCookieResolver, StaticBalanceSource
from gate.identity import TrustedHeaderResolver
from gate.policy.shipped import shipped_policies
from gate.tooling.testing import run_server

CHECKOUT = "/booking-form?bookings_serviceId=svc"
SECRET = "test-session-secret-0123456789"


async def checkout(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"member={request.state.booking_gate.member_id}")


APP = Starlette(routes=[Route("/booking-form", checkout)])


def _serve(balances: Path, *resolvers: object) -> BookingGate:
    return BookingGate(APP, policies=shipped_policies(), resolvers=list(resolvers),
                       source=StaticBalanceSource(balances, clock=lambda: 0.0),
                       service_costs={"svc": "1"})


def test_signed_cookie_identifies_the_member(balances: Path) -> None:
    resolver = SignedCookieResolver(secret=SECRET)
    with run_server(_serve(balances, resolver)) as url:
        ok = httpx.get(url + CHECKOUT, cookies={"gate_session": resolver.sign("m-rich")})
        assert ok.text == "member=m-rich"
        broke = httpx.get(url + CHECKOUT, cookies={"gate_session": resolver.sign("m-broke")})
        assert broke.headers["x-gate-rule"] == "no-credits"


@pytest.mark.parametrize("cookie", [
    "m-rich",  # an unsigned member id
    SignedCookieResolver(secret=SECRET).sign("m-rich")[:-2] + "xx",  # tampered
    SignedCookieResolver(secret="another-secret-of-16+").sign("m-rich"),  # other key
])
def test_unverified_cookies_mean_signed_out(balances: Path, cookie: str) -> None:
    with run_server(_serve(balances, SignedCookieResolver(secret=SECRET))) as url:
        response = httpx.get(url + CHECKOUT, cookies={"gate_session": cookie})
        assert response.headers["x-gate-rule"] == "sign-in-first"


def test_expired_cookie_means_signed_out(balances: Path) -> None:
    resolver = SignedCookieResolver(secret=SECRET, max_age=-1)
    with run_server(_serve(balances, resolver)) as url:
        response = httpx.get(url + CHECKOUT, cookies={"gate_session": resolver.sign("m-rich")})
        assert response.headers["x-gate-rule"] == "sign-in-first"


def test_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="BOOKING_GATE_SESSION_SECRET"):
        SignedCookieResolver(secret="short")


@pytest.mark.parametrize(("trusted", "expected"), [
    (["127.0.0.1"], "member=m-rich"),
    (["127.0.0.0/8"], "member=m-rich"),
    (["10.0.0.0/8"], None),  # the header is ignored: we are not that proxy
    (["::1"], None),
])
def test_proxy_header_only_from_trusted_addresses(
    balances: Path, trusted: list[str], expected: str | None
) -> None:
    with run_server(_serve(balances, TrustedHeaderResolver(trusted_proxies=trusted))) as url:
        response = httpx.get(url + CHECKOUT, headers={"X-Member-Id": "m-rich"})
        if expected is None:
            assert response.headers["x-gate-rule"] == "sign-in-first"
        else:
            assert response.text == expected


def test_two_resolvers_naming_different_members_mean_nobody(balances: Path) -> None:
    cookie = SignedCookieResolver(secret=SECRET)
    header = TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])
    with run_server(_serve(balances, cookie, header)) as url:
        only_header = httpx.get(url + CHECKOUT, headers={"X-Member-Id": "m-rich"})
        assert only_header.text == "member=m-rich"
        # Neither wins: a header (or a cookie) must not choose who the member is.
        both = httpx.get(url + CHECKOUT, headers={"X-Member-Id": "m-rich"},
                         cookies={"gate_session": cookie.sign("m-broke")})
        assert both.headers["x-gate-rule"] == "sign-in-first"
        agreeing = httpx.get(url + CHECKOUT, headers={"X-Member-Id": "m-rich"},
                             cookies={"gate_session": cookie.sign("m-rich")})
        assert agreeing.text == "member=m-rich"
        # A forged cookie names nobody, so it does not outweigh the proxy's member id.
        forged = httpx.get(url + CHECKOUT, headers={"X-Member-Id": "m-rich"},
                           cookies={"gate_session": "m-broke"})
        assert forged.text == "member=m-rich"


@pytest.mark.parametrize("bad", [[], ["not-an-ip"], ["10.0.0.0/33"]])
def test_trusted_proxies_are_validated(bad: list[str]) -> None:
    with pytest.raises(ConfigError):
        TrustedHeaderResolver(trusted_proxies=bad)
