"""Ways a gate could be walked around, or leak, and the answers that close them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from gate import BookingGate, ConfigError, StaticBalanceSource, WixSettings
from gate.identity import TrustedHeaderResolver
from gate.policy.shipped import shipped_policies
from gate.tooling.testing import run_server
from tests.conftest import CHECKOUT, YOGA, Emulator
from tests.test_gate_wix import QUERY, balance_body, get_as

TOKEN_INFO = "POST /oauth2/token-info"


async def page(request: Request) -> PlainTextResponse:
    service = request.query_params.get("bookings_serviceId")
    return PlainTextResponse(f"checkout open for {service}")


SITE = Starlette(routes=[Route("/booking-form", page, methods=["GET", "POST", "HEAD"])])


def _static_gate(tmp_path: Path, app: Any = SITE, **options: Any) -> BookingGate:
    balances = tmp_path / "balances.yaml"
    balances.write_text(
        "members:\n  m-1:\n    - {pool: p, available: '1', benefits: [{item_set: classes}]}\n"
        f"services:\n  yoga: [classes]\n  {YOGA}: [classes]\n")
    return BookingGate(
        app, policies=shipped_policies(), reload_interval=None,
        source=StaticBalanceSource(balances, clock=lambda: 0.0),
        resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])],
        service_costs={"private": "3"}, **options,
    )


def test_a_service_named_twice_is_a_bad_request(tmp_path: Path) -> None:
    """The app reads the last value, the gate would read one of them: refuse to guess."""
    with run_server(_static_gate(tmp_path)) as url:
        alone = httpx.get(url + "/booking-form?bookings_serviceId=private",
                          headers={"X-Member-Id": "m-1"})
        assert alone.headers["x-gate-rule"] == "not-enough-credits"
        both = httpx.get(url + "/booking-form?bookings_serviceId=yoga&bookings_serviceId=private",
                         headers={"X-Member-Id": "m-1"})
        assert both.status_code == 400
        assert "checkout open" not in both.text
        same = httpx.get(url + "/booking-form?bookings_serviceId=yoga&bookings_serviceId=yoga",
                         headers={"X-Member-Id": "m-1"})
        assert same.status_code == 200


def test_gate_under_a_mount_still_gates(tmp_path: Path) -> None:
    """Mounted at /studio, the checkout is /studio/booking-form: it must not slip through."""
    outer = Starlette(routes=[Mount("/studio", app=_static_gate(tmp_path))])
    with run_server(outer) as url:
        response = httpx.get(url + "/studio" + CHECKOUT)
        assert response.status_code == 303
        assert response.headers["x-gate-rule"] == "sign-in-first"


def test_head_is_gated_like_get(tmp_path: Path) -> None:
    with run_server(_static_gate(tmp_path)) as url:
        assert httpx.head(url + CHECKOUT).status_code == 303


def test_allowed_checkouts_are_private(tmp_path: Path) -> None:
    """A shared cache must not keep one member's open checkout and serve it to others."""
    with run_server(_static_gate(tmp_path)) as url:
        response = httpx.get(url + CHECKOUT, headers={"X-Member-Id": "m-1"})
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, no-store"
        assert "Cookie" in response.headers["vary"]


def test_two_member_id_headers_mean_nobody(tmp_path: Path) -> None:
    with run_server(_static_gate(tmp_path)) as url:
        response = httpx.get(url + CHECKOUT,
                             headers=[("X-Member-Id", "m-1"), ("X-Member-Id", "m-2")])
        assert response.headers["x-gate-rule"] == "sign-in-first"


def test_status_token_is_required_when_set(tmp_path: Path) -> None:
    gate = _static_gate(tmp_path, status_path="/_gate/status", status_token="t0ken-for-ops-9c1f-e2")
    with run_server(gate) as url:
        assert httpx.get(url + "/_gate/status").status_code == 404
        assert httpx.get(url + "/_gate/status",
                         headers={"Authorization": "Bearer wrong"}).status_code == 404
        ok = httpx.get(url + "/_gate/status",
                       headers={"Authorization": "Bearer t0ken-for-ops-9c1f-e2"})
        assert ok.status_code == 200
        assert ok.json()["policy"]["rules"][0]["name"] == "unknown-service"


def test_log_lines_cannot_be_forged_through_the_query(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="booking_gate.decision")
    with run_server(_static_gate(tmp_path)) as url:
        httpx.get(url + "/booking-form?bookings_serviceId=x%0Adecision%20action=allow")
    lines = caplog.text.splitlines()
    assert any("decision action=redirect" in line for line in lines)  # the line was written
    # A forged line would start where the query's newline was.
    assert not any(line.startswith("decision action=allow") for line in lines)


@pytest.mark.parametrize("key", ["abc\ndef", "abc\tdef", "clé"])
def test_api_keys_that_cannot_be_headers_are_refused(key: str) -> None:
    with pytest.raises(ConfigError, match="cannot be sent in a header") as caught:
        WixSettings(api_key=key, site_id="s")
    assert key not in str(caught.value)


def test_a_trailing_newline_on_the_key_is_stripped() -> None:
    assert WixSettings(api_key="abc\n", site_id=" s ").api_key == "abc"


BAD_PAGES = [
    pytest.param(json.dumps({"balances": [], "metadata": {"hasNext": True, "cursors": {}}}),
                 id="hasNext-without-cursor"),
    pytest.param(balance_body(available="0.99999999999999999"), id="more-than-4-decimals"),
    pytest.param(balance_body(available="123456789012345"), id="absurd-amount"),
]


@pytest.mark.parametrize("body", BAD_PAGES)
def test_answers_wix_would_never_give_fail_closed(
    gated: Callable[..., Any], emulator: Emulator, body: str
) -> None:
    url, _ = gated()
    emulator.fault(QUERY, status=200, body=body, times=None)
    response = get_as(url, emulator.token("ana"))
    assert response.status_code == 503
    assert response.headers["x-gate-rule"] == "(on_error)"


def test_token_info_without_a_site_is_not_a_member(
    gated: Callable[..., Any], emulator: Emulator
) -> None:
    url, _ = gated()
    member = emulator.members["ana"]
    emulator.fault(TOKEN_INFO, status=200, times=None, body=json.dumps(
        {"active": True, "subjectType": "MEMBER", "subjectId": member}))
    assert get_as(url, "any-token").headers["x-gate-rule"] == "sign-in-first"

