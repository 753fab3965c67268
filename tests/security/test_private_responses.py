"""Every response the gate writes is private, and names no member unless it is meant to.

``Cache-Control: no-store`` and ``Vary: Cookie, Authorization, Accept`` on every response of
``serve`` (health, readiness, decisions, webhooks, forward-auth, status, Starlette's own 404 and
405) and on every response the middleware writes itself (redirects, deny pages, the 400 for an
ambiguous service, the misconfigured 503, status, webhooks); an allowed checkout is marked
``private, no-store``. The member's id appears in no redirect, deny page or header, except
``X-Gate-Member`` on a forward-auth allow, which is for the proxy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gate import BookingGate, StaticBalanceSource
from gate.adapters.service import create_service
from gate.config.settings import GateSettings
from gate.identity import TrustedHeaderResolver
from gate.policy.shipped import shipped_policies
from gate.tooling.testing import run_server
from tests.conftest import YOGA

MEMBER_ID = "m-8c41f07d-member"  # a member with one credit
BROKE_ID = "m-5b2e9a13-broke"  # a member with none
PAUSED_ID = "m-77d0c4e2-paused"  # a member whose plan is paused: a deny page
TOKEN = "private-responses-token-Yw4Nc7"
API_SECRET = "private-responses-secret-Pq3Rs9"
CHECKOUT = f"/booking-form?bookings_serviceId={YOGA}"
VARY = {"cookie", "authorization", "accept"}


async def _page(request: Any) -> PlainTextResponse:
    return PlainTextResponse("checkout page")


SITE = Starlette(routes=[Route("/booking-form", _page, methods=["GET", "POST"])])


def _balances(tmp_path: Path) -> Path:
    path = tmp_path / "balances.yaml"
    path.write_text(
        "members:\n"
        f"  {MEMBER_ID}:\n    - {{pool: p, available: '1', benefits: [{{item_set: c}}]}}\n"
        f"  {BROKE_ID}:\n    - {{pool: p, available: '0', benefits: [{{item_set: c}}]}}\n"
        f"  {PAUSED_ID}:\n    - {{pool: p, available: '3', status: PAUSED, "
        "benefits: [{item_set: c}]}\n"
        f"services:\n  {YOGA}: [c]\n")
    return path


def _resolvers() -> list[TrustedHeaderResolver]:
    return [TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])]


def _assert_private(response: httpx.Response, what: str) -> None:
    assert "no-store" in response.headers.get("cache-control", ""), what
    vary = {v.strip().lower() for v in response.headers.get("vary", "").split(",")}
    assert vary >= VARY, (what, response.headers.get("vary"))


def _shows(response: httpx.Response, member: str) -> list[str]:
    where = [f"header {k}" for k, v in response.headers.multi_items() if member in v]
    return where + (["body"] if member in response.text else [])


def test_every_serve_response_is_private(tmp_path: Path) -> None:
    settings = GateSettings(api_secret=SecretStr(API_SECRET), status_token=SecretStr(TOKEN),
                            policies=[shipped_policies()], reload_interval=None)
    app = create_service(settings, resolvers=_resolvers(),
                         source=StaticBalanceSource(_balances(tmp_path), clock=lambda: 0.0))
    auth = {"Authorization": f"Bearer {API_SECRET}"}
    traefik = {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": CHECKOUT}
    nginx = {"X-Original-Method": "GET", "X-Original-URI": CHECKOUT}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/healthz", {}),
        ("GET", "/readyz", {}),
        ("POST", "/v1/decisions", {"json": {"memberId": MEMBER_ID, "serviceId": YOGA},
                                   "headers": auth}),
        ("POST", "/v1/decisions", {"json": {"serviceId": YOGA}}),  # 401
        ("POST", "/v1/decisions", {"content": b"{", "headers": auth}),  # 400
        ("POST", "/v1/decisions", {"json": {"serviceId": 1}, "headers": auth}),  # 422
        ("POST", "/v1/decisions", {"content": b"x" * 20_000, "headers": auth}),  # 413
        ("GET", "/v1/decisions", {}),  # 405 from Starlette
        ("POST", "/v1/decisions/batch", {"json": {"serviceIds": [YOGA]}, "headers": auth}),
        ("POST", "/v1/webhooks/wix", {"content": b"x"}),  # 404: not configured
        ("GET", "/v1/forward-auth", {"headers": traefik}),  # a visitor: redirect
        ("GET", "/v1/forward-auth", {"headers": {**traefik, "X-Member-Id": MEMBER_ID}}),
        ("GET", "/v1/forward-auth", {"headers": {"X-Forwarded-Method": "GET",
                                                 "X-Forwarded-Uri": "/about"}}),
        ("GET", "/v1/forward-auth", {}),  # 400
        ("GET", "/v1/forward-auth", {"headers": nginx}),  # 401 for nginx
        ("GET", "/v1/forward-auth", {"headers": {**nginx, "X-Member-Id": PAUSED_ID}}),  # 403
        ("GET", "/v1/forward-auth/render", {"headers": {**nginx, "X-Member-Id": PAUSED_ID}}),
        ("GET", "/v1/forward-auth", {"headers": {
            "X-Forwarded-Method": "GET",
            "X-Forwarded-Uri": CHECKOUT + "&bookings_serviceId=other"}}),  # ambiguous
        ("GET", "/v1/status", {}),
        ("GET", "/v1/status", {"headers": {"Authorization": f"Bearer {TOKEN}"}}),
        ("GET", "/no-such-page", {}),
    ]
    statuses = []
    with run_server(app) as url:
        for method, path, kwargs in calls:
            response = httpx.request(method, url + path, **kwargs)
            statuses.append(response.status_code)
            _assert_private(response, f"{method} {path} {response.status_code}")
            if response.status_code != 200 or "x-gate-member" not in response.headers:
                assert not _shows(response, MEMBER_ID) or path == "/v1/decisions", path
    assert statuses == [200, 200, 200, 401, 400, 422, 413, 405, 200, 404, 303, 200, 200, 400,
                        401, 403, 403, 400, 404, 200, 404]


def test_forward_auth_names_the_member_only_to_the_proxy_on_allow(tmp_path: Path) -> None:
    settings = GateSettings(api_secret=SecretStr(API_SECRET), policies=[shipped_policies()],
                            reload_interval=None)
    app = create_service(settings, resolvers=_resolvers(),
                         source=StaticBalanceSource(_balances(tmp_path), clock=lambda: 0.0))
    with run_server(app) as url:
        allowed = httpx.get(url + "/v1/forward-auth", headers={
            "X-Forwarded-Method": "GET", "X-Forwarded-Uri": CHECKOUT, "X-Member-Id": MEMBER_ID})
        assert allowed.status_code == 200
        assert _shows(allowed, MEMBER_ID) == ["header x-gate-member"]
        for member in (BROKE_ID, PAUSED_ID):
            for path in ("/v1/forward-auth", "/v1/forward-auth/render"):
                for headers in ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": CHECKOUT},
                                {"X-Original-Method": "GET", "X-Original-URI": CHECKOUT}):
                    refused = httpx.get(url + path, headers={**headers, "X-Member-Id": member})
                    assert refused.status_code in (303, 401, 403), refused.status_code
                    assert not _shows(refused, member), (path, headers)


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_middleware_responses_are_private_and_name_no_member(
    tmp_path: Path, accept: str
) -> None:
    gate = BookingGate(
        SITE, policies=shipped_policies(), reload_interval=None,
        source=StaticBalanceSource(_balances(tmp_path), clock=lambda: 0.0),
        resolvers=_resolvers(), status_path="/_gate/status", status_token=TOKEN,
        webhook_path="/_gate/webhooks/wix", webhook_public_key=_public_key(),
        allowed_hosts=["127.0.0.1"],
    )
    with run_server(gate) as url:
        def get(path: str, member: str | None = None, **headers: str) -> httpx.Response:
            sent = {"Accept": accept, **headers}
            if member:
                sent["X-Member-Id"] = member
            return httpx.get(url + path, headers=sent)

        redirect = get(CHECKOUT, BROKE_ID)
        deny = get(CHECKOUT, PAUSED_ID)
        for response, member in ((redirect, BROKE_ID), (deny, PAUSED_ID)):
            assert response.status_code in (303, 403)
            _assert_private(response, response.headers.get("x-gate-rule", ""))
            assert not _shows(response, member)
        allowed = get(CHECKOUT, MEMBER_ID)
        assert allowed.text == "checkout page"
        assert allowed.headers["cache-control"] == "private, no-store"
        assert not _shows(allowed, MEMBER_ID)
        others = [
            get(CHECKOUT + "&bookings_serviceId=other", MEMBER_ID),  # ambiguous: 400
            get(CHECKOUT, MEMBER_ID, Host="evil.example"),  # bad host: 400
            get("/_gate/status"),  # 404
            get("/_gate/status", Authorization=f"Bearer {TOKEN}"),  # 200
            httpx.put(url + "/_gate/status", headers={"Authorization": f"Bearer {TOKEN}"}),
            httpx.post(url + "/_gate/webhooks/wix", content=b"junk"),  # 400
            httpx.post(url + "/_gate/webhooks/wix", content=b"x" * 70_000),  # 413
        ]
        assert [r.status_code for r in others] == [400, 400, 404, 200, 405, 400, 413]
        for response in others:
            _assert_private(response, f"{response.request.url} {response.status_code}")
            assert not _shows(response, MEMBER_ID)


def test_a_misconfigured_gate_answers_privately(tmp_path: Path) -> None:
    broken = BookingGate(SITE, policies=tmp_path / "missing", reload_interval=None,
                         source=StaticBalanceSource(_balances(tmp_path), clock=lambda: 0.0),
                         resolvers=_resolvers())
    assert broken.problem is not None
    with run_server(broken, lifespan="off") as url:
        response = httpx.get(url + CHECKOUT)
    assert response.status_code == 503
    _assert_private(response, "misconfigured")


def _public_key() -> str:
    from tests.security.test_secrets_scan import PUBLIC_PEM

    return PUBLIC_PEM
