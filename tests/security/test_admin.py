"""Admin access without the token: every way in to the status endpoint and its reload is a 404.

Through the middleware and through ``serve``, on a real uvicorn with raw requests: spellings of
the path, every method, and credentials that are almost the token. The expected answers:

* no status token configured: the status endpoint does not exist (404), for every request;
* a token configured, and the request does not carry exactly ``Authorization: Bearer <token>``:
  404, the same as a path that does not exist, never 401 or 405 that would say it is there;
* ``allowed_hosts`` configured and another ``Host``: 404 (or the gate's 400 for a bad host),
  even with the right token.

No answer may show anything the status report holds (rules, policy files, shadow counts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from gate import BookingGate, StaticBalanceSource
from gate.adapters.service import create_service
from gate.config.settings import GateSettings
from gate.identity import SignedCookieResolver
from gate.policy.shipped import shipped_policies
from tests.security.support import RawResponse, raw_request, record, serve
from tests.security.test_paths import APP

TOKEN = "status-token-for-the-admin-corpus-4b3a2c1d"
API_SECRET = "admin-corpus-api-secret-8c7d6e5f4a3b"
RESOLVER = SignedCookieResolver(secret="admin-corpus-session-secret-2a3b4c5d")
#: Words of the status report; none may appear in an answer to someone without the token.
REPORT_WORDS = (b"rules", b"policy", b"shadow", b"reload", b"sign-in-first", b".yaml")

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "PROPFIND",
           "TRACE"]
SPELLINGS = ["{s}", "{s}/", "{s}//", "{s}/.", "{s}/reload", "{s}/reload/", "{s}%2F",
             "{s}%2freload", "{s};x", "{s}/reload;x", "{s}?token=" + TOKEN, "{s}#x",
             "{s}%00", "{s}.json", "{s}/x", "{s}/../{last}", "/.{s}", "/x/..{s}", "/{s}",
             "{parent}//{last}", "{parent}/%{hex}{rest}", "{upper}", "{parent}/./{last}"]
NOT_THE_TOKEN: list[list[tuple[str, str]]] = [
    [],
    [("Authorization", "Bearer")],
    [("Authorization", "Bearer ")],
    [("Authorization", "Bearer wrong-token-of-the-same-length-000")],
    [("Authorization", TOKEN)],
    [("Authorization", f"bearer {TOKEN}")],
    [("Authorization", f"Basic {TOKEN}")],
    [("Authorization", f"Token {TOKEN}")],
    [("Authorization", f"Bearer {TOKEN}x")],
    [("Authorization", f"Bearer {TOKEN[:-1]}")],
    [("Authorization", f"Bearer {TOKEN.upper()}")],
    [("Authorization", f"Bearer  {TOKEN}")],
    [("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer wrong")],
    [("Authorization", "Bearer wrong"), ("Authorization", f"Bearer {TOKEN}")],
    [("Cookie", f"status_token={TOKEN}")],
    [("X-Status-Token", TOKEN)],
    [("X-Forwarded-For", "127.0.0.1"), ("Authorization", "Bearer wrong")],
    [("Proxy-Authorization", f"Bearer {TOKEN}")],
]
RIGHT = [("Authorization", f"Bearer {TOKEN}")]


def _spellings(status: str) -> list[str]:
    parent, _, last = status.rpartition("/")
    fields = {"s": status, "parent": parent, "last": last, "upper": status.upper(),
              "hex": f"{ord(last[0]):02X}", "rest": last[1:]}
    return [template.format(**fields) for template in SPELLINGS]


def _balances(tmp_path: Path) -> Path:
    path = tmp_path / "balances.yaml"
    path.write_text("members: {}\n")
    return path


def _gate(tmp_path: Path, **options: Any) -> BookingGate:
    return BookingGate(APP, policies=shipped_policies(), resolvers=[RESOLVER],
                       source=StaticBalanceSource(_balances(tmp_path), clock=lambda: 0.0),
                       reload_interval=None, **options)


def _service(tmp_path: Path, **settings: Any) -> Any:
    values: dict[str, Any] = {"api_secret": SecretStr(API_SECRET), "wix_site_id": "unused",
                              "policies": [shipped_policies()], "reload_interval": None,
                              **settings}
    return create_service(GateSettings(**values), resolvers=[RESOLVER],
                          source=StaticBalanceSource(_balances(tmp_path), clock=lambda: 0.0))


@pytest.fixture
def middleware(tmp_path: Path) -> Iterator[str]:
    with serve(_gate(tmp_path, status_path="/_gate/status", status_token=TOKEN,
                     allowed_hosts=["127.0.0.1", "localhost"])) as url:
        yield url


@pytest.fixture
def middleware_without_token(tmp_path: Path) -> Iterator[str]:
    # Refused at start-up when it has a lifespan; served anyway, the path must still not exist.
    with serve(_gate(tmp_path, status_path="/_gate/status"), lifespan="off") as url:
        yield url


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    with serve(_service(tmp_path, status_token=SecretStr(TOKEN),
                        allowed_hosts=["127.0.0.1", "localhost"])) as url:
        yield url


@pytest.fixture
def service_without_token(tmp_path: Path) -> Iterator[str]:
    with serve(_service(tmp_path)) as url:
        yield url


def _hidden(response: RawResponse) -> bool:
    return response.status in (0, 400, 404) and not any(
        word in response.body.lower() for word in REPORT_WORDS)


def _probe(url: str, status: str, credentials: list[list[tuple[str, str]]]) -> \
        tuple[int, list[str], Counter[int]]:
    count, found, statuses = 0, [], Counter[int]()
    for target in _spellings(status):
        for method in METHODS:
            for headers in credentials:
                response = raw_request(url, method, target, headers)
                count += 1
                statuses[response.status] += 1
                if not _hidden(response):
                    found.append(f"{method} {target} {[h[0] for h in headers]} -> "
                                 f"{response.status} {response.body[:60]!r}")
    return count, found, statuses


def _check(name: str, url: str, status: str, credentials: list[list[tuple[str, str]]]) -> None:
    count, found, statuses = _probe(url, status, credentials)
    record(f"admin without the token: {name}", count)
    assert not found, f"{len(found)} of {count} requests found the endpoint ({dict(statuses)}):" \
                      "\n" + "\n".join(found[:40])


def test_middleware_without_a_configured_token(middleware_without_token: str) -> None:
    _check("middleware, no token configured", middleware_without_token, "/_gate/status",
           [[], RIGHT, NOT_THE_TOKEN[4]])


def test_middleware_with_a_token(middleware: str) -> None:
    _check("middleware, wrong or missing token", middleware, "/_gate/status",
           [[], *NOT_THE_TOKEN[1:8]])
    # The exact path with every near miss, by the methods it answers.
    count, found = 0, []
    for headers in NOT_THE_TOKEN:
        for method, target in (("GET", "/_gate/status"), ("POST", "/_gate/status/reload")):
            response = raw_request(middleware, method, target, headers)
            count += 1
            if not _hidden(response):
                found.append((method, target, headers, response.status))
    record("admin without the token: middleware, near misses", count)
    assert not found


def test_serve_without_a_configured_token(service_without_token: str) -> None:
    _check("serve, no token configured", service_without_token, "/v1/status",
           [[], RIGHT])


def test_serve_with_a_token(service: str) -> None:
    _check("serve, wrong or missing token", service, "/v1/status", [[], *NOT_THE_TOKEN[1:8]])


def test_serve_near_misses_on_the_methods_it_serves(service: str) -> None:
    count, found = 0, []
    for headers in NOT_THE_TOKEN:
        for method, target in (("GET", "/v1/status"), ("HEAD", "/v1/status"),
                               ("POST", "/v1/status/reload")):
            response = raw_request(service, method, target, headers)
            count += 1
            if not _hidden(response):
                found.append((method, target, headers, response.status))
    record("admin without the token: serve, near misses", count)
    assert not found


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "LOCALHOST.",
                                  "", "127.0.0.1:80:80", "[::1]"])
def test_the_right_token_at_another_host_finds_nothing(
    middleware: str, service: str, host: str
) -> None:
    for url, status in ((middleware, "/_gate/status"), (service, "/v1/status")):
        response = raw_request(url, "GET", status, [("Host", host), *RIGHT])
        if host == "LOCALHOST.":  # the same host, written otherwise: allowed
            continue
        assert _hidden(response), (url, host, response.status, response.body[:80])


def test_the_right_token_is_let_in(middleware: str, service: str) -> None:
    """The corpus is not passing because nothing ever answers."""
    for url, status in ((middleware, "/_gate/status"), (service, "/v1/status")):
        response = raw_request(url, "GET", status, RIGHT)
        assert response.status == 200 and b"rules" in response.body
