"""Secrets scanning: run the scenarios with every secret set, scan every log line and body.

Both ways of running the gate, ``booking-gate serve`` (``create_service`` on a real socket) and
the middleware, are started with every secret the gate knows: the Wix API key, the decision
API secret, the status token, the session-cookie secret and the webhook key (its public half
is configured; the private half signs the webhooks and must never come back). Members' own
credentials (Wix tokens, signed session cookies) are secrets too.

Then the representative scenarios run: decisions (member id, member token, a junk token, bad
callers, bad bodies), Wix failing (the balance query, token-info), webhooks good and bad, the
status endpoint and reload with and without the token, forward-auth (Traefik and nginx style),
a wrong Host, a path that does not exist. Every log record at DEBUG, from every logger, and
every response (status line, headers, body) is collected, and none may contain any secret.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from gate import BookingGate, WixSettings
from gate.adapters.service import create_service
from gate.config.settings import GateSettings
from gate.identity.signed_cookie import SignedCookieResolver
from gate.policy.shipped import shipped_policies
from gate.tooling.emulator import TOKEN_PATTERN
from gate.tooling.testing import run_server
from tests.conftest import CHECKOUT, CHECKOUT_APP, SITE_ID, YOGA, Emulator
from tests.security.support import record
from tests.test_webhooks import ORDER_PURCHASED, action, envelope, order

API_SECRET = "scan-api-secret-Q7v2Kp9Zx4Lm8Rt3"
STATUS_TOKEN = "scan-status-token-W5n1Hb6Jc0Yd2Fs"
SESSION_SECRET = "scan-session-secret-E8u4Gq7Vk1Ta9Po"
QUERY = "POST /benefit-programs/v1/balances/query"
TOKEN_INFO = "POST /oauth2/token-info"

WEBHOOK_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = WEBHOOK_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption()).decode()
PUBLIC_PEM = WEBHOOK_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Recorder:
    """Every response the scenarios got, as text: status line, every header, the body."""

    responses: list[str] = field(default_factory=list)

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
        self.responses.append(
            f"{response.request.method} {response.request.url} -> {response.status_code}\n"
            f"{headers}\n\n{response.text}")

    def client(self, base_url: str, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=base_url, event_hooks={"response": [self]}, **options)


def _webhook(member: str, key: Any = WEBHOOK_KEY, event_id: str = "ev-scan-1") -> bytes:
    now = int(time.time())
    data = envelope(ORDER_PURCHASED, action({"order": order(member)}, event_id=event_id,
                                            fqdn="wix.pricing_plans.v2.order",
                                            slug="purchased"))
    return jwt.encode({"data": data, "iat": now, "exp": now + 300}, key,
                      algorithm="RS256").encode()


def _secrets(emulator: Emulator, member_tokens: list[str], cookies: list[str]) -> dict[str, str]:
    found = {
        "wix api key": emulator.api_key,
        "api secret": API_SECRET,
        "status token": STATUS_TOKEN,
        "session secret": SESSION_SECRET,
    }
    # The private key, line by line: no part of it may show, not only the whole PEM.
    for number, line in enumerate(PRIVATE_PEM.splitlines()):
        if line and not line.startswith("-----"):
            found[f"webhook private key, line {number}"] = line
    for number, token in enumerate(member_tokens):
        found[f"member token {number}"] = token
    for number, cookie in enumerate(cookies):
        found[f"session cookie {number}"] = cookie
    return found


def _scan(texts: list[str], secrets: dict[str, str]) -> list[str]:
    return [f"{name} in: {text[:300]!r}" for text in texts for name, value in secrets.items()
            if value in text]


def _log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = []
    for entry in caplog.records:
        # The message, its arguments, its extras (structured fields) and any traceback.
        texts.append(f"{entry.name} {entry.levelname} {entry.getMessage()} "
                     f"{entry.__dict__!r}")
    texts.append(caplog.text)
    return texts


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def test_serve_leaks_no_secret(
    emulator: Emulator, everything_logged: pytest.LogCaptureFixture
) -> None:
    settings = GateSettings(
        wix_api_key=SecretStr(emulator.api_key), wix_site_id=SITE_ID,
        wix_base_url=emulator.url, wix_retries=0, api_secret=SecretStr(API_SECRET),
        status_token=SecretStr(STATUS_TOKEN), session_secret=SecretStr(SESSION_SECRET),
        wix_webhook_public_key=SecretStr(PUBLIC_PEM), policies=[shipped_policies()],
        reload_interval=None, allowed_hosts=["127.0.0.1"],
    )
    app = create_service(settings, token_pattern=TOKEN_PATTERN)
    ana, ben = emulator.members["ana"], emulator.members["ben"]
    tokens = [emulator.token("ana"), emulator.token("ben"), emulator.visitor_token()]
    cookie = SignedCookieResolver(secret=SESSION_SECRET).sign(ana)
    auth = {"Authorization": f"Bearer {API_SECRET}"}
    admin = {"Authorization": f"Bearer {STATUS_TOKEN}"}
    recorder = Recorder()
    seen: dict[str, int] = {}
    with run_server(app) as url, recorder.client(url) as client:
        def post(path: str, name: str, **kwargs: Any) -> httpx.Response:
            response = client.post(path, **kwargs)
            seen[name] = response.status_code
            return response

        def get(path: str, name: str, **kwargs: Any) -> httpx.Response:
            response = client.get(path, **kwargs)
            seen[name] = response.status_code
            return response

        get("/healthz", "healthz")
        get("/readyz", "readyz")
        # Decisions: by member id, by member token, a visitor, a junk token, a batch.
        post("/v1/decisions", "by-id", json={"memberId": ana, "serviceId": YOGA}, headers=auth)
        post("/v1/decisions", "by-token", json={"memberToken": tokens[0], "serviceId": YOGA},
             headers=auth)
        post("/v1/decisions", "no-credits", json={"memberToken": tokens[1], "serviceId": YOGA},
             headers=auth)
        post("/v1/decisions", "visitor-token",
             json={"memberToken": tokens[2], "serviceId": YOGA}, headers=auth)
        post("/v1/decisions", "junk-token",
             json={"memberToken": "made-up-token-123", "serviceId": YOGA}, headers=auth)
        post("/v1/decisions/batch", "batch",
             json={"memberId": ben, "serviceIds": [YOGA, "nope"]}, headers=auth)
        # Bad callers and bad bodies.
        post("/v1/decisions", "wrong-secret", json={"memberId": ana, "serviceId": YOGA},
             headers={"Authorization": f"Bearer {API_SECRET[:-1]}"})
        post("/v1/decisions", "secret-in-basic", json={"memberId": ana, "serviceId": YOGA},
             headers={"Authorization": f"Basic {API_SECRET}"})
        post("/v1/decisions", "bad-json", content=b"{", headers=auth)
        post("/v1/decisions", "bad-fields", json={"memberToken": tokens[0], "memberId": ana,
                                                  "serviceId": YOGA}, headers=auth)
        post("/v1/decisions", "too-large", content=b"x" * 20_000, headers=auth)
        # Wix failing: the balance query, then token-info.
        emulator.fault(QUERY, status=500, times=None)
        post("/v1/decisions", "upstream-down", json={"memberId": ben, "serviceId": YOGA},
             headers=auth)
        emulator.admin.post("/_emulator/reset").raise_for_status()
        emulator.fault(TOKEN_INFO, status=503, times=None)
        post("/v1/decisions", "token-info-down",
             json={"memberToken": "another-unknown-token", "serviceId": YOGA}, headers=auth)
        emulator.admin.post("/_emulator/reset").raise_for_status()
        emulator.fault(QUERY, status=401, times=None)
        post("/v1/decisions", "key-refused", json={"memberId": "m-new", "serviceId": YOGA},
             headers=auth)
        emulator.admin.post("/_emulator/reset").raise_for_status()
        # Webhooks: good, forged, garbage, oversized, replayed.
        post("/v1/webhooks/wix", "webhook-good", content=_webhook(ana))
        post("/v1/webhooks/wix", "webhook-replayed", content=_webhook(ana))
        post("/v1/webhooks/wix", "webhook-forged", content=_webhook(ana, OTHER_KEY, "ev-2"))
        post("/v1/webhooks/wix", "webhook-garbage", content=b"not a jwt")
        post("/v1/webhooks/wix", "webhook-huge", content=b"x" * 70_000)
        # The status endpoint and reload, without, with a wrong and with the right token.
        get("/v1/status", "status-anonymous")
        get("/v1/status", "status-wrong", headers={"Authorization": "Bearer nope"})
        get("/v1/status", "status-token", headers=admin)
        post("/v1/status/reload", "reload-anonymous")
        post("/v1/status/reload", "reload-token", headers=admin)
        # Forward-auth: a session cookie, a Wix token, a visitor; Traefik and nginx style.
        traefik = {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": CHECKOUT}
        get("/v1/forward-auth", "fa-cookie", headers={**traefik,
                                                      "Cookie": f"gate_session={cookie}"})
        get("/v1/forward-auth", "fa-token", headers={**traefik,
                                                     "Authorization": f"Bearer {tokens[1]}"})
        get("/v1/forward-auth", "fa-visitor", headers=traefik)
        nginx = {"X-Original-Method": "GET", "X-Original-URI": CHECKOUT,
                 "Authorization": f"Bearer {tokens[1]}"}
        get("/v1/forward-auth", "fa-nginx", headers=nginx)
        get("/v1/forward-auth/render", "fa-render", headers=nginx)
        get("/v1/forward-auth", "fa-bad", headers={"X-Forwarded-Method": "GET",
                                                   "X-Forwarded-Uri": "/x/../booking-form"})
        # Elsewhere: a wrong Host, a path that does not exist.
        get("/v1/status", "bad-host", headers={**admin, "Host": "evil.example"})
        get("/nothing-here", "not-found")
    assert seen == {
        "healthz": 200, "readyz": 200, "by-id": 200, "by-token": 200, "no-credits": 200,
        "visitor-token": 200, "junk-token": 200, "batch": 200, "wrong-secret": 401,
        "secret-in-basic": 401, "bad-json": 400, "bad-fields": 422, "too-large": 413,
        "upstream-down": 200, "token-info-down": 200, "key-refused": 200,
        "webhook-good": 200, "webhook-replayed": 200, "webhook-forged": 401,
        "webhook-garbage": 400, "webhook-huge": 413, "status-anonymous": 404,
        "status-wrong": 404, "status-token": 200, "reload-anonymous": 404, "reload-token": 200,
        "fa-cookie": 200, "fa-token": 303, "fa-visitor": 303, "fa-nginx": 401,
        "fa-render": 303, "fa-bad": 400, "bad-host": 400, "not-found": 404,
    }
    secrets = _secrets(emulator, tokens, [cookie])
    logs = _log_texts(everything_logged)
    leaks = _scan(logs, secrets) + _scan(recorder.responses, secrets)
    record("secrets scanning: serve: log records", len(logs), 300)
    record("secrets scanning: serve: responses", len(recorder.responses), len(seen))
    record("secrets scanning: secret values", len(secrets), 30)
    assert not leaks, "\n".join(leaks[:10])
    assert len(recorder.responses) == len(seen)
    assert any("decision action=" in text for text in logs)  # the scan saw real log lines


def test_middleware_leaks_no_secret(
    emulator: Emulator, everything_logged: pytest.LogCaptureFixture
) -> None:
    wix = WixSettings(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url,
                      retries=0)
    gate = BookingGate(
        CHECKOUT_APP, policies=shipped_policies(), wix=wix, reload_interval=None,
        token_cookie="wix_member_token", token_pattern=TOKEN_PATTERN,
        session_secret=SESSION_SECRET, status_path="/_gate/status", status_token=STATUS_TOKEN,
        webhook_path="/_gate/webhooks/wix", webhook_public_key=PUBLIC_PEM,
        allowed_hosts=["127.0.0.1"],
    )
    tokens = [emulator.token("ana"), emulator.token("ben")]
    signer = SignedCookieResolver(secret=SESSION_SECRET)
    cookie, unknown = signer.sign(emulator.members["ana"]), signer.sign("m-unknown")
    admin = {"Authorization": f"Bearer {STATUS_TOKEN}"}
    recorder = Recorder()
    seen: dict[str, int] = {}
    with run_server(gate) as url, recorder.client(url) as client:
        def call(method: str, path: str, name: str, **kwargs: Any) -> None:
            seen[name] = client.request(method, path, **kwargs).status_code

        call("GET", CHECKOUT, "visitor")
        call("GET", CHECKOUT, "session-cookie", headers={"Cookie": f"gate_session={cookie}"})
        call("GET", CHECKOUT, "token-header", headers={"Authorization": f"Bearer {tokens[0]}"})
        call("GET", CHECKOUT, "token-cookie",
             headers={"Cookie": f"wix_member_token={tokens[1]}"})
        call("POST", CHECKOUT, "post-no-credits",
             headers={"Authorization": f"Bearer {tokens[1]}", "Accept": "application/json"})
        call("GET", CHECKOUT, "junk-token", headers={"Authorization": "Bearer junk-token-42"})
        call("GET", CHECKOUT + "&bookings_serviceId=other", "ambiguous")
        emulator.fault(QUERY, status=500, times=None)
        call("GET", CHECKOUT, "upstream-down", headers={"Cookie": f"gate_session={unknown}"})
        emulator.admin.post("/_emulator/reset").raise_for_status()
        emulator.fault(TOKEN_INFO, status=503, times=None)
        call("GET", CHECKOUT, "token-info-down",
             headers={"Authorization": "Bearer yet-another-unknown-token"})
        emulator.admin.post("/_emulator/reset").raise_for_status()
        call("POST", "/_gate/webhooks/wix", "webhook-good",
             content=_webhook(emulator.members["ana"]))
        call("POST", "/_gate/webhooks/wix", "webhook-forged",
             content=_webhook(emulator.members["ana"], OTHER_KEY, "ev-3"))
        call("POST", "/_gate/webhooks/wix", "webhook-garbage", content=b"{}")
        call("GET", "/_gate/status", "status-anonymous")
        call("GET", "/_gate/status", "status-token", headers=admin)
        call("POST", "/_gate/status/reload", "reload-token", headers=admin)
        call("GET", "/_gate/status", "status-bad-host", headers={**admin, "Host": "evil.example"})
        call("GET", CHECKOUT, "checkout-bad-host", headers={"Host": "evil.example"})
    assert seen == {
        "visitor": 303, "session-cookie": 200, "token-header": 200, "token-cookie": 303,
        "post-no-credits": 303, "junk-token": 303, "ambiguous": 400, "upstream-down": 503,
        "token-info-down": 503, "webhook-good": 200, "webhook-forged": 401,
        "webhook-garbage": 400, "status-anonymous": 404, "status-token": 200,
        "reload-token": 200, "status-bad-host": 404, "checkout-bad-host": 400,
    }
    secrets = _secrets(emulator, tokens, [cookie, unknown])
    logs = _log_texts(everything_logged)
    leaks = _scan(logs, secrets) + _scan(recorder.responses, secrets)
    record("secrets scanning: middleware: log records", len(logs), 150)
    record("secrets scanning: middleware: responses", len(recorder.responses), len(seen))
    assert not leaks, "\n".join(leaks[:10])
    assert any("decision action=" in text for text in logs)


def test_the_scan_finds_a_planted_secret(emulator: Emulator) -> None:
    """The scan itself works: a secret anywhere in a text, or one line of the key, is found."""
    secrets = _secrets(emulator, ["tok-123456"], [])
    private_line = PRIVATE_PEM.splitlines()[3]
    texts = [f"Authorization: Bearer {API_SECRET}", f"...{private_line}...", "tok-123456"]
    assert len(_scan(texts, secrets)) == 3
    assert _scan(["nothing to see"], secrets) == []
