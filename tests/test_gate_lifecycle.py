"""Identity faults, lifecycle and configuration: every failure has its documented outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gate import BookingGate, ConfigError, StaticBalanceSource, WixSettings
from gate.policy.shipped import shipped_policies
from gate.tooling.emulator import TOKEN_PATTERN
from gate.tooling.testing import run_server
from tests.conftest import CHECKOUT, CHECKOUT_APP, SITE_ID, Emulator

TOKEN_INFO = "POST /oauth2/token-info"


def get_as(url: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": token} if token else {}
    return httpx.get(url + CHECKOUT, headers=headers, follow_redirects=False)


TOKEN_FAULTS = [
    pytest.param({"status": 401, "body": '{"message": "Unauthorized"}'}, "upstream_auth",
                 id="401"),
    pytest.param({"status": 403, "body": '{"message": "Forbidden"}'}, "upstream_auth", id="403"),
    pytest.param({"status": 404, "body": ""}, "upstream_not_found", id="404"),
    pytest.param({"status": 400, "body": '{"message": "bad token"}'}, "upstream_rejected",
                 id="400"),
    pytest.param({"status": 429, "body": ""}, "upstream_unavailable", id="429"),
    pytest.param({"status": 500, "body": ""}, "upstream_unavailable", id="500"),
    pytest.param({"status": 503, "body": ""}, "upstream_unavailable", id="503"),
    pytest.param({"status": 200, "body": "{not json"}, "upstream_bad_data", id="bad-json"),
    pytest.param({"status": 200, "body": "{}"}, "upstream_bad_data", id="no-active-field"),
    pytest.param({"status": 200, "body": '{"active": "yes"}'}, "upstream_bad_data",
                 id="active-not-bool"),
    pytest.param({"status": 200, "body": '{"active": true, "subjectType": "MEMBER"}'},
                 "upstream_bad_data", id="member-without-id"),
    pytest.param({"delay": 1.0}, "upstream_unavailable", id="timeout"),
]


@pytest.mark.parametrize(("fault", "kind"), TOKEN_FAULTS)
def test_token_info_faults_take_the_fail_mode_and_are_not_cached(
    gated: Callable[..., Any], emulator: Emulator, caplog: pytest.LogCaptureFixture,
    fault: dict[str, Any], kind: str,
) -> None:
    """A token-info failure is never "signed out": on_error, then the next request recovers."""
    caplog.set_level(logging.INFO, logger="booking_gate")
    wix = WixSettings(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url,
                      retries=0, timeout=0.3)
    url, gate = gated(wix=wix)
    token = emulator.token("ana")
    emulator.fault(TOKEN_INFO, times=1, **fault)
    response = get_as(url, token)
    assert response.status_code == 503
    assert response.headers["x-gate-rule"] == "(on_error)"
    gate.core.lines.flush()  # decision lines are written by a thread: now, not in 50 ms
    decision = [r for r in caplog.records if r.name == "booking_gate.decision"][-1]
    assert decision.booking_gate["error_kind"] == kind  # type: ignore[attr-defined]
    # Not cached: the very next request asks Wix again and ana books.
    assert get_as(url, token).status_code == 200
    assert emulator.calls(TOKEN_INFO) == 2


def test_inactive_token_means_signed_out_briefly(
    gated: Callable[..., Any], emulator: Emulator, clock: Any
) -> None:
    """Wix saying ``active: false`` is the one answer that means a visitor; kept for 30 s."""
    url, _ = gated()
    response = get_as(url, "not-a-real-token")
    assert response.headers["x-gate-rule"] == "sign-in-first"
    get_as(url, "not-a-real-token")
    assert emulator.calls(TOKEN_INFO) == 1
    clock.advance(31)
    get_as(url, "not-a-real-token")
    assert emulator.calls(TOKEN_INFO) == 2


def test_two_lifespan_cycles_in_one_process(emulator: Emulator) -> None:
    """Start, stop, start again: the gate reopens its own connections and still decides."""
    wix = WixSettings(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url)
    gate = BookingGate(CHECKOUT_APP, policies=shipped_policies(), wix=wix,
                       token_pattern=TOKEN_PATTERN)
    # A member not seen before on each start: the second start must reach Wix again.
    for member in ("ana", "eve"):
        with run_server(gate) as url:
            assert get_as(url, emulator.token(member)).status_code == 200


def test_a_shared_http_client_is_never_closed_by_the_gate(emulator: Emulator) -> None:
    wix = WixSettings(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url)
    # No kept-alive sockets: the client is used on the server's loop and left open after it.
    http = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))
    gate = BookingGate(CHECKOUT_APP, policies=shipped_policies(), wix=wix, http_client=http,
                       token_pattern=TOKEN_PATTERN)
    with run_server(gate) as url:
        assert get_as(url, emulator.token("ana")).status_code == 200
    assert not http.is_closed


def test_member_tokens_need_a_site_id(tmp_path: Any) -> None:
    """A custom source with Wix tokens and no site id cannot start, naming the variable."""
    balances = tmp_path / "b.yaml"
    balances.write_text("members: {}\n")
    source = StaticBalanceSource(balances, clock=lambda: 0.0)
    gate = BookingGate(CHECKOUT_APP, policies=shipped_policies(), source=source,
                       wix=WixSettings(api_key=None, site_id=None))
    assert isinstance(gate.problem, ConfigError)
    assert "BOOKING_GATE_WIX_SITE_ID" in str(gate.problem)


async def _home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("home page")


def _site_with(**gate_options: Any) -> Starlette:
    """A whole site with the gate mounted the usual way, as Middleware(...)."""
    return Starlette(
        routes=[Route("/", _home), Route("/booking-form", _home)],
        middleware=[Middleware(BookingGate, **gate_options)],
    )


BAD_SETTINGS = [
    pytest.param({"wix": WixSettings(api_key=None, site_id=None)}, "BOOKING_GATE_WIX_API_KEY",
                 id="no-credentials"),
    pytest.param({"policies": "/no/such/folder"}, "does not exist", id="no-policies"),
    pytest.param({"wix": WixSettings(api_key="k", site_id="s"), "service_costs": {"yoga": "-1"}},
                 "zero or more credits", id="negative-cost"),
]


@pytest.mark.parametrize(("options", "message"), BAD_SETTINGS)
def test_a_bad_setting_under_middleware_stops_the_server_with_its_message(
    options: dict[str, Any], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    options = {"policies": shipped_policies(), **options}
    with pytest.raises(RuntimeError, match="failed to start"), run_server(_site_with(**options)):
        pass  # pragma: no cover - the server must not start
    assert message in caplog.text


@pytest.mark.parametrize(("options", "message"), BAD_SETTINGS)
def test_served_anyway_a_misconfigured_gate_breaks_no_page_and_opens_no_checkout(
    options: dict[str, Any], message: str
) -> None:
    """Without lifespan (the server cannot refuse), pages still work; checkouts get 503."""
    options = {"policies": shipped_policies(), **options}
    with run_server(_site_with(**options), lifespan="off") as url:
        assert httpx.get(url + "/").text == "home page"
        checkout = httpx.get(url + CHECKOUT)
        assert checkout.status_code == 503
        assert checkout.headers["x-gate-error"] == "config_error"
        assert message not in checkout.text  # the page says try later, not the settings


def test_from_env_reads_the_same_settings_as_serve(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKING_GATE_WIX_API_KEY", emulator.api_key)
    monkeypatch.setenv("BOOKING_GATE_WIX_SITE_ID", SITE_ID)
    monkeypatch.setenv("BOOKING_GATE_WIX_BASE_URL", emulator.url)
    monkeypatch.setenv("BOOKING_GATE_POLICIES", f'["{shipped_policies()}"]')
    gate = BookingGate.from_env(CHECKOUT_APP, token_pattern=TOKEN_PATTERN)
    assert gate.problem is None
    with run_server(gate) as url:
        assert get_as(url, emulator.token("ana")).status_code == 200
        assert get_as(url, emulator.token("ben")).headers["x-gate-rule"] == "no-credits"


def test_from_env_with_a_bad_variable_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("BOOKING_GATE_CACHE_TTL", "soon")
    gate = BookingGate.from_env(CHECKOUT_APP, token_pattern=TOKEN_PATTERN)
    assert isinstance(gate.problem, ConfigError)
    assert "BOOKING_GATE_CACHE_TTL" in str(gate.problem)
    with pytest.raises(RuntimeError, match="failed to start"), run_server(gate):
        pass  # pragma: no cover
