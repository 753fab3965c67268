"""The operator's surfaces: the status endpoint and reload need the token, and ``allowed_hosts``.

Without a status token the endpoint does not exist; without the right one it answers exactly
like a path that does not exist. ``allowed_hosts`` refuses requests addressed to other hosts:
everything ``serve`` answers, and what the middleware answers or decides (checkouts, webhooks,
status), while the app's own pages are left to the app.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gate import BookingGate, ConfigError, StaticBalanceSource
from gate.adapters.hosts import AllowedHosts, request_host
from gate.adapters.service import create_service
from gate.config.settings import GateSettings
from gate.identity import TrustedHeaderResolver
from gate.policy.shipped import shipped_policies
from gate.tooling.testing import run_server
from tests.conftest import CHECKOUT, YOGA

TOKEN = "admin-surface-token-3Hq8Zr1Vx6"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
API_SECRET = "admin-surface-api-secret-Kd82nQ"
MEMBER = {"X-Member-Id": "m-1"}


async def _page(request: Any) -> PlainTextResponse:
    return PlainTextResponse("app page")


SITE = Starlette(routes=[Route("/booking-form", _page, methods=["GET", "POST"]),
                         Route("/about", _page)])


def _balances(tmp_path: Path) -> Path:
    path = tmp_path / "balances.yaml"
    path.write_text("members:\n  m-1:\n    - {pool: p, available: '1', benefits: "
                    f"[{{item_set: classes}}]}}\nservices:\n  {YOGA}: [classes]\n")
    return path


def _gate(tmp_path: Path, **options: Any) -> BookingGate:
    return BookingGate(
        SITE, policies=shipped_policies(), reload_interval=None,
        source=StaticBalanceSource(_balances(tmp_path), clock=lambda: 0.0),
        resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])], **options,
    )


def _service(tmp_path: Path, **settings: Any) -> Starlette:
    values: dict[str, Any] = {"api_secret": SecretStr(API_SECRET), "reload_interval": None,
                              "policies": [shipped_policies()], **settings}
    return create_service(
        GateSettings(**values),
        source=StaticBalanceSource(_balances(tmp_path), clock=lambda: 0.0),
        resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])],
    )


@pytest.fixture
def middleware_url(tmp_path: Path) -> Iterator[str]:
    gate = _gate(tmp_path, status_path="/_gate/status", status_token=TOKEN,
                 allowed_hosts=["127.0.0.1", "*.studio.example"],
                 webhook_path="/_gate/webhooks/wix", webhook_public_key=_public_key())
    with run_server(gate) as url:
        yield url


def _public_key() -> str:
    from tests.security.test_secrets_scan import PUBLIC_PEM

    return PUBLIC_PEM


# -- the status endpoint needs its token ---------------------------------------------------

def test_the_middleware_refuses_a_status_path_without_a_token(tmp_path: Path) -> None:
    gate = _gate(tmp_path, status_path="/_gate/status")
    assert isinstance(gate.problem, ConfigError)
    assert "BOOKING_GATE_STATUS_TOKEN" in str(gate.problem)
    with pytest.raises(RuntimeError, match="failed to start"), run_server(gate):
        pass  # lifespan startup fails: the server refuses to start


@pytest.mark.parametrize("token", ["", "   ", "short-token", "abababababababab"])
def test_a_weak_status_token_is_refused(tmp_path: Path, token: str) -> None:
    gate = _gate(tmp_path, status_path="/_gate/status", status_token=token)
    assert isinstance(gate.problem, ConfigError)
    assert "status token" in str(gate.problem)
    if token.strip():
        assert token not in str(gate.problem)
    with pytest.raises(ConfigError, match="BOOKING_GATE_STATUS_TOKEN"):
        _service(tmp_path, status_token=SecretStr(token))


ANSWERS_404 = [
    pytest.param({}, id="no-token"),
    pytest.param({"Authorization": "Bearer wrong-token-of-some-length"}, id="wrong-token"),
    pytest.param({"Authorization": TOKEN}, id="no-bearer"),
    pytest.param({"Authorization": f"Basic {TOKEN}"}, id="basic"),
    pytest.param({"Authorization": f"Bearer {TOKEN}x"}, id="token-plus-one"),
    pytest.param({"Authorization": f"bearer {TOKEN}"}, id="lowercase-bearer"),
    pytest.param([("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer x")],
                 id="two-headers"),
    pytest.param({**ADMIN, "Host": "evil.example"}, id="wrong-host"),
    pytest.param({**ADMIN, "Host": "studio.example"}, id="parent-of-wildcard"),
]


@pytest.mark.parametrize("headers", ANSWERS_404)
def test_without_the_token_the_status_endpoint_is_like_no_page(
    middleware_url: str, headers: Any
) -> None:
    nothing = httpx.get(middleware_url + "/_gate/nothing-here")
    for method, path in (("GET", "/_gate/status"), ("HEAD", "/_gate/status"),
                         ("POST", "/_gate/status/reload"), ("GET", "/_gate/status/reload")):
        response = httpx.request(method, middleware_url + path, headers=headers)
        assert response.status_code == 404 == nothing.status_code, (method, path)
        if method != "HEAD":
            assert response.text == nothing.text  # the app's own 404 says the same
        assert "m-1" not in response.text and "booking-form" not in response.text


def test_with_the_token_the_status_endpoint_answers(middleware_url: str) -> None:
    status = httpx.get(middleware_url + "/_gate/status", headers=ADMIN)
    assert status.status_code == 200
    assert status.json()["policy"]["rules"]
    assert status.headers["cache-control"] == "no-store"
    subdomain = httpx.get(middleware_url + "/_gate/status",
                          headers={**ADMIN, "Host": "www.studio.example:8443"})
    assert subdomain.status_code == 200
    assert httpx.post(middleware_url + "/_gate/status/reload", headers=ADMIN).status_code == 200


def test_serve_without_a_token_has_no_status_endpoint(tmp_path: Path) -> None:
    with run_server(_service(tmp_path)) as url:
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer None"}):
            assert httpx.get(url + "/v1/status", headers=headers).status_code == 404
            assert httpx.post(url + "/v1/status/reload", headers=headers).status_code == 404


def test_serve_with_a_token_answers_only_with_it(tmp_path: Path) -> None:
    with run_server(_service(tmp_path, status_token=SecretStr(TOKEN))) as url:
        assert httpx.get(url + "/v1/status").status_code == 404
        assert httpx.get(url + "/v1/status", headers=ADMIN).status_code == 200
        assert httpx.post(url + "/v1/status/reload", headers=ADMIN).status_code == 200


def test_serve_refuses_a_status_path_without_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BOOKING_GATE_STATUS_TOKEN"):
        _service(tmp_path, status_path="/ops/status")


# -- allowed_hosts ---------------------------------------------------------------------------

@pytest.mark.parametrize(("host", "expected"), [
    ("booking.example.com", "booking.example.com"),
    ("Booking.Example.COM:8443", "booking.example.com"),
    ("booking.example.com.", "booking.example.com"),
    ("127.0.0.1:8787", "127.0.0.1"),
    ("[::1]:8787", "[::1]"),
    ("[::1]", "[::1]"),
    ("", None),
    ("a.com:80:90", None),
    ("a.com:http", None),
    ("a.com/evil", None),
    ("a.com@b.com", None),
    ("a..com", None),
    ("-a.com", None),
    ("a.com:", None),
    ("[::1", None),
])
def test_request_host(host: str, expected: str | None) -> None:
    assert request_host({"headers": [(b"host", host.encode())]}) == expected


def test_no_host_or_two_hosts_is_no_host() -> None:
    assert request_host({"headers": []}) is None
    assert request_host({"headers": [(b"host", b"a.com"), (b"host", b"a.com")]}) is None
    assert request_host({"headers": [(b"host", "é.com".encode())]}) is None


@pytest.mark.parametrize(("patterns", "host", "allowed"), [
    (["booking.example.com"], "booking.example.com", True),
    (["booking.example.com"], "BOOKING.example.com:443", True),
    (["booking.example.com"], "evil.example.com", False),
    (["booking.example.com"], "booking.example.com.evil.net", False),
    (["*.example.com"], "www.example.com", True),
    (["*.example.com"], "a.b.example.com", True),
    (["*.example.com"], "example.com", False),
    (["*.example.com"], "evilexample.com", False),
    (["*"], "anything.at.all", True),
    (["127.0.0.1", "[::1]"], "[::1]:8787", True),
])
def test_allowed_hosts(patterns: list[str], host: str, allowed: bool) -> None:
    scope = {"headers": [(b"host", host.encode())]}
    assert AllowedHosts(patterns).allows(scope) is allowed


@pytest.mark.parametrize("pattern", ["https://a.com", "a.com:443", "a.com/x", "", "*a.com",
                                     "a.*.com", "*.", " "])
def test_a_pattern_that_is_not_a_host_is_refused(pattern: str) -> None:
    with pytest.raises(ConfigError, match="allowed_hosts"):
        AllowedHosts([pattern])


def test_allowed_hosts_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOKING_GATE_ALLOWED_HOSTS", "booking.example.com, *.studio.example")
    assert GateSettings.load().allowed_hosts == ["booking.example.com", "*.studio.example"]
    monkeypatch.setenv("BOOKING_GATE_ALLOWED_HOSTS", '["a.example"]')
    assert GateSettings.load().allowed_hosts == ["a.example"]


def test_serve_refuses_every_endpoint_for_another_host(tmp_path: Path) -> None:
    app = _service(tmp_path, allowed_hosts=["127.0.0.1"], status_token=SecretStr(TOKEN))
    auth = {"Authorization": f"Bearer {API_SECRET}"}
    body = {"memberId": "m-1", "serviceId": YOGA}
    with run_server(app) as url:
        assert httpx.get(url + "/healthz").status_code == 200
        assert httpx.post(url + "/v1/decisions", json=body, headers=auth).status_code == 200
        for method, path, headers in [
            ("GET", "/healthz", {}), ("GET", "/readyz", {}),
            ("POST", "/v1/decisions", auth), ("POST", "/v1/decisions/batch", auth),
            ("POST", "/v1/webhooks/wix", {}), ("GET", "/v1/forward-auth", {}),
            ("GET", "/v1/forward-auth/render", {}), ("GET", "/v1/status", ADMIN),
            ("POST", "/v1/status/reload", ADMIN), ("GET", "/no-such-page", {}),
        ]:
            response = httpx.request(method, url + path, json=body,
                                     headers={**headers, "Host": "evil.example"})
            assert response.status_code == 400, path
            assert response.headers["x-gate-rule"] == "(bad-host)"
            assert "evil.example" not in response.text
            assert response.headers["cache-control"] == "no-store"


def test_the_middleware_checks_the_host_on_what_the_gate_answers(middleware_url: str) -> None:
    evil = {"Host": "evil.example"}
    checkout = httpx.get(middleware_url + CHECKOUT, headers={**MEMBER, **evil})
    assert (checkout.status_code, checkout.headers["x-gate-rule"]) == (400, "(bad-host)")
    webhook = httpx.post(middleware_url + "/_gate/webhooks/wix", content=b"x", headers=evil)
    assert webhook.status_code == 400
    # The app's own pages are the app's business (its own host check applies there).
    assert httpx.get(middleware_url + "/about", headers=evil).text == "app page"
    # Allowed hosts go through as before.
    ok = httpx.get(middleware_url + CHECKOUT, headers=MEMBER)
    assert ok.text == "app page"
    sub = httpx.get(middleware_url + CHECKOUT, headers={**MEMBER, "Host": "a.studio.example"})
    assert sub.text == "app page"


def test_the_middleware_reads_allowed_hosts_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKING_GATE_ALLOWED_HOSTS", "booking.example.com")
    monkeypatch.setenv("BOOKING_GATE_POLICIES", str(shipped_policies()))
    monkeypatch.setenv("BOOKING_GATE_RELOAD_INTERVAL", "off")
    gate = BookingGate.from_env(
        SITE, source=StaticBalanceSource(_balances(tmp_path), clock=lambda: 0.0),
        resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])])
    assert gate.problem is None
    with run_server(gate) as url:
        assert httpx.get(url + CHECKOUT, headers=MEMBER).status_code == 400
        assert httpx.get(url + CHECKOUT,
                         headers={**MEMBER, "Host": "booking.example.com"}).text == "app page"


def test_from_env_refuses_a_status_path_without_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKING_GATE_STATUS_PATH", "/_gate/status")
    monkeypatch.setenv("BOOKING_GATE_POLICIES", str(shipped_policies()))
    gate = BookingGate.from_env(
        SITE, source=StaticBalanceSource(_balances(tmp_path), clock=lambda: 0.0),
        resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])])
    assert isinstance(gate.problem, ConfigError)
    assert "BOOKING_GATE_STATUS_TOKEN" in str(gate.problem)
