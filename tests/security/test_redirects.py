"""Redirect payloads: every redirect the gate sends keeps the browser on the site.

Two sources of a redirect target, one oracle (``stays_on_site``, a browser's reading of a URL:
tabs and line breaks dropped, ``\\`` as ``/``, schemes other than https refused):

* a policy's ``to:``, written by staff: each payload is refused when the policy loads, or every
  ``Location`` the gate renders with it stays on the site, under any ``root_path`` and query;
* ``return_to``, built from what the visitor asked for (path and query, through the middleware
  on a real uvicorn, and the decision API's ``path``): the ``Location`` and the page it tells
  the sign-in page to return to (decoded once, and twice for pages that decode again) stay on
  the site. The demo's sign-in page, which follows ``return_to``, is checked with the same
  payloads.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from gate import BookingGate, StaticBalanceSource
from gate.adapters.responses import render
from gate.adapters.service import create_service
from gate.config.settings import GateSettings
from gate.errors import PolicyError
from gate.identity import SignedCookieResolver
from gate.policy.compiler import load_policies
from gate.policy.decision import Decision
from gate.policy.shipped import shipped_policies
from gate.tooling.demo.site import _same_site
from tests.security.support import clean_header, raw_request, record, serve, stays_on_site
from tests.security.test_paths import APP

HOSTS = ["evil.example", "evil.example/plans", "127.0.0.1:8080", "studio.example@evil.example"]
PREFIXES = [
    "//", "/\\", "\\\\", "\\/", "/\t/", "/\n/", "/\r\n/", " //", "\t//", "///", "////",
    "/%2f", "%2f%2f", "/%2F%2F", "/%5c", "%5c%5c", "https://", "http://", "https:", "http:",
    "HTTPS://", "hTtP://", "//\t", "/.//", "\x00//", "\u3000//", "\uff0f\uff0f", "/\u2215",
    "https:/\\", "https:\\\\", "ftp://", "//%09", "\\/\\/", "/\\/", "%09//",
]
SCRIPTS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", " javascript:x",
    "javascript://%0aalert(1)", "data:text/html,<script>x</script>", "vbscript:x",
    "\x01javascript:x", "/javascript:x", "javascript:/plans",
]
ODDITIES = [
    "/plans#frag", "/plans#//evil.example", "/#", "/plans?x=1#y", "/plans\r\nSet-Cookie: a=b",
    "/plans\r\nLocation: //evil.example", "/plans%0d%0aSet-Cookie:a=b", "/plans\nX: y",
    "plans", "./plans", "../plans", "?x=1", "#x", "", " ", "/", "/plans pricing",
    "/plans\tpricing", "/plans\x7f", "/plans\u2028x", "/plans?next=//evil.example",
    "/plans?reason=forged", "/plans-pricing", "/pläne",
    "/plans/../..//evil.example", "/%2e%2e//evil.example", "/plans\\..\\..\\evil",
    "/" + "a" * 3000, "/plans?" + "x" * 3000, "/\x00", "/plans\x0b", "/plans\x0c",
]
TO_PAYLOADS = [prefix + host for prefix in PREFIXES for host in HOSTS[:3]] + SCRIPTS + ODDITIES
#: What a visitor controls that ends up in return_to: the query, and the path's slashes.
QUERY_PAYLOADS = [prefix + host for prefix in PREFIXES for host in HOSTS[:2]] + SCRIPTS \
    + ODDITIES[:30]
SECRET = "security-redirects-secret-5e4d3c2b1a"
API_SECRET = "security-redirects-api-secret-0f1e2d3c"

_POLICY = """apiVersion: booking-gate/v1
rules:
  - name: go-elsewhere
    when: "!signed_in"
    action: redirect
    to: {to}
    reason: sign-in-required
    return_to: true
"""


def _scope(root_path: str = "", path: str = "/booking-form",
           query: bytes = b"bookings_serviceId=svc") -> dict[str, object]:
    return {"type": "http", "method": "GET", "path": root_path + path, "root_path": root_path,
            "query_string": query, "headers": []}


#: Where the gate may be served from, and what a visitor may add to the query.
SCOPES = [_scope(), _scope("/studio"), _scope("/studio/"), _scope("/st%20udio"),
          _scope(query=b"bookings_serviceId=svc&next=//evil.example&x=%0d%0a"),
          _scope(path="/booking-form//", query=b"bookings_serviceId=svc#//evil.example")]


def _check_location(location: str, where: str) -> list[str]:
    problems = []
    if not clean_header(location):
        problems.append(f"{where}: Location {location!r} is not one line of visible ASCII")
    if not stays_on_site(location):
        problems.append(f"{where}: Location {location!r} leaves the site")
    for value in parse_qs(urlsplit(location).query).get("return_to", []):
        for decoded in (value, unquote(value)):
            if not decoded.startswith("/") or not stays_on_site(decoded):
                problems.append(f"{where}: return_to {decoded!r} leaves the site")
    return problems


def test_policy_targets_are_refused_or_stay_on_the_site(tmp_path: Path) -> None:
    refused, problems = 0, []
    for index, payload in enumerate(TO_PAYLOADS):
        folder = tmp_path / f"p{index}"
        folder.mkdir()
        (folder / "policy.yaml").write_text(
            _POLICY.format(to=json.dumps(payload, ensure_ascii=False)), encoding="utf-8")
        try:
            policies = load_policies([folder])
        except PolicyError:
            refused += 1
            continue
        rule = policies.rule("go-elsewhere")
        assert rule is not None
        decision = Decision(rule.outcome, rule.name, policies.version)
        for scope in SCOPES:
            location = render(decision, scope).headers["location"]
            problems += _check_location(location, f"to: {payload!r}, scope {scope['path']!r}")
    record("redirect payloads: policy to:", len(TO_PAYLOADS))
    assert not problems, "\n".join(problems)
    assert refused > len(TO_PAYLOADS) // 2, f"only {refused} refused at load"


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    balances = tmp_path_factory.mktemp("redirects") / "balances.yaml"
    balances.write_text("members: {}\n")
    gate = BookingGate(APP, policies=shipped_policies(),
                       resolvers=[SignedCookieResolver(secret=SECRET)],
                       source=StaticBalanceSource(balances, clock=lambda: 0.0),
                       service_costs={"svc": "1"}, reload_interval=None)
    with serve(gate) as url:
        yield url


def _targets() -> list[str]:
    targets = []
    for payload in QUERY_PAYLOADS:
        encoded = quote(payload, safe="")
        targets.append(f"/booking-form?bookings_serviceId=svc&next={encoded}")
        targets.append(f"/booking-form//?{encoded}&bookings_serviceId=svc")
    # Raw characters a request line may carry, where the visitor can put them.
    targets += ["/booking-form?bookings_serviceId=svc&next=//evil.example",
                "/booking-form?bookings_serviceId=svc&next=/\\evil.example",
                "/booking-form?bookings_serviceId=svc#//evil.example",
                "/booking-form/?//evil.example&bookings_serviceId=svc",
                "/booking-form?bookings_serviceId=svc&return_to=//evil.example",
                "/booking-form?return_to=https://evil.example&bookings_serviceId=svc"]
    return targets


def test_return_to_from_the_visitors_request_stays_on_the_site(gated: str) -> None:
    targets = _targets()
    problems, with_return = [], 0
    for target in targets:
        response = raw_request(gated, "GET", target)
        location = response.header("location")
        assert response.status == 303 and location is not None, (target, response.status)
        with_return += "return_to=" in location  # the others name an unknown service
        problems += _check_location(location, f"GET {target}")
    record("redirect payloads: return_to (middleware)", len(targets))
    assert not problems, "\n".join(problems)
    assert with_return > len(targets) * 0.9


def test_a_target_with_its_own_return_to_is_refused(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(
        _POLICY.format(to=json.dumps("/plans?return_to=//evil.example")))
    with pytest.raises(PolicyError):
        load_policies([tmp_path])


def test_return_to_from_the_decision_apis_path_stays_on_the_site(tmp_path: Path) -> None:
    balances = tmp_path / "balances.yaml"
    balances.write_text("members: {}\n")
    settings = GateSettings(api_secret=SecretStr(API_SECRET), policies=[shipped_policies()],
                            wix_site_id="unused")
    app = create_service(settings, resolvers=[SignedCookieResolver(secret=SECRET)],
                         source=StaticBalanceSource(balances, clock=lambda: 0.0),
                         service_costs={"svc": "1"}, reload_interval=None)
    paths = ["/" + payload for payload in QUERY_PAYLOADS] \
        + ["/booking-form?next=" + payload for payload in QUERY_PAYLOADS[:40]]

    async def ask_all() -> list[str]:
        problems: list[str] = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gate") as client:
            for path in paths:
                response = await client.post(
                    "/v1/decisions", json={"serviceId": "svc", "path": path},
                    headers={"Authorization": f"Bearer {API_SECRET}"})
                if response.status_code == 422:
                    continue  # a path the API refuses (not starting with /, too long)
                body = response.json()
                assert response.status_code == 200 and body["outcome"] == "redirect", body
                problems += _check_location(body["location"], f"path {path!r}")
        return problems

    problems = asyncio.run(ask_all())
    record("redirect payloads: return_to (decision API)", len(paths))
    assert not problems, "\n".join(problems)


def test_the_demo_sign_in_page_only_returns_to_the_site() -> None:
    payloads = TO_PAYLOADS + [unquote(p) for p in TO_PAYLOADS]
    leaving = [p for p in payloads if not stays_on_site(_same_site(p, "/book-online"))]
    record("redirect payloads: demo sign-in return", len(payloads))
    assert not leaving


def test_the_corpus_is_big_enough() -> None:
    record("redirect payloads: total", len(TO_PAYLOADS) + len(_targets()), minimum=100)
