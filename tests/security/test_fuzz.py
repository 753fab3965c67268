"""Property-based tests of what reads attacker input first (Hypothesis).

* the identity resolvers: arbitrary header and cookie lists never raise and never name a member;
  credentials placed at random (in one or two Cookie headers, in any order, among noise) name
  exactly the member the precedence rules say, and nobody when two disagree or two of a kind
  are sent; only values shaped like Wix tokens are looked up;
* the path matcher: arbitrary methods, paths and query strings never raise; a request is gated
  exactly when its path, less one final newline and its trailing slashes, is a checkout route's
  and its method is not passed; everything Starlette would serve on a checkout route is gated;
  the service id is the one the app reads;
* forward-auth's reading of the forwarded request: arbitrary header sets give a request or a 400;
* the decision API's body: arbitrary bytes and JSON give 200, 400, 413 or 422, never a 500.

Runs are bounded by the number of examples, not by time (``deadline=None``), and derandomized,
so CI sees the same inputs every time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from starlette.datastructures import QueryParams
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import compile_path

from gate import StaticBalanceSource
from gate.adapters.routes import CheckoutRoute, RouteMatcher
from gate.adapters.service import create_service
from gate.adapters.service.forward_auth import _original
from gate.config.settings import GateSettings
from gate.identity import SignedCookieResolver, TrustedHeaderResolver
from gate.identity.base import MemberResolver, resolve_chain, strip_untrusted
from gate.policy.shipped import shipped_policies
from tests.security.support import FakeTokenInfo, record, serve, wix_token

SERVICE_ID = re.compile(r"[A-Za-z0-9._~:-]{1,200}")
EXAMPLES = {"junk identity": 400, "placed credentials": 600, "paths": 1500,
            "forward-auth headers": 1000, "decision bodies": 500, "batch bodies": 200}


def _settings(name: str) -> settings:
    record(f"fuzz: {name}", EXAMPLES[name])
    return settings(max_examples=EXAMPLES[name], deadline=None, derandomize=True,
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# -- identity --------------------------------------------------------------------------------

SECRET = "fuzz-identity-session-secret-1b2c3d4e"
PROXY = "10.0.0.5"
MEMBERS = ("m-ana", "m-bob")
SESSION = SignedCookieResolver(secret=SECRET)
SIGNED = {member: SESSION.sign(member) for member in MEMBERS}
BASIC = "Basic " + base64.b64encode(b"m-ana:pw").decode()
APP_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtLWFuYSJ9.c2lnbmF0dXJl"
TOKEN_COOKIE = "wix_member_token"


def _identity(wix: FakeTokenInfo) -> tuple[MemberResolver, ...]:
    return (SESSION, wix.resolver(cookie=TOKEN_COOKIE),
            TrustedHeaderResolver(trusted_proxies=[PROXY]))


def _wix() -> tuple[FakeTokenInfo, dict[str, str]]:
    wix = FakeTokenInfo()
    tokens = {member: wix.member(member) for member in MEMBERS}
    tokens["visitor"] = wix.visitor()
    tokens["inactive"] = wix_token("inactive")
    tokens["m-ana again"] = wix_token("m-ana again")
    wix.tokens[tokens["m-ana again"]] = ("MEMBER", "m-ana")
    return wix, tokens


def _scope(headers: list[tuple[bytes, bytes]], client: str | None) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/booking-form", "query_string": b"",
            "headers": headers, "client": (client, 1234) if client is not None else None}


HEADER_NAMES = st.sampled_from([b"cookie", b"authorization", b"x-member-id", b"x-forwarded-for",
                                b"host", b"Cookie", b"authorization "]) | st.binary(max_size=12)
HEADER_VALUES = st.binary(max_size=300) | st.sampled_from([
    b"gate_session=", b"gate_session=x; gate_session=y", b"Bearer ", b"Bearer OauthNG.JWS.a.b.c",
    b"OauthNG.JWS..", b"wix_member_token=OauthNG.JWS.a.b.c", b";;;=;", b"=", b'"', b"\xff\xfe",
    BASIC.encode(), APP_JWT.encode()]) | st.text(max_size=100).map(lambda t: t.encode())
CLIENTS = st.sampled_from(["127.0.0.1", "::1", "203.0.113.9", "not an address", "", None])


def test_junk_headers_never_raise_and_never_name_anyone() -> None:
    wix, _ = _wix()
    resolvers = _identity(wix)
    with asyncio.Runner() as runner:

        @_settings("junk identity")
        @given(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=12), CLIENTS)
        def check(headers: list[tuple[bytes, bytes]], client: str | None) -> None:
            scope = _scope(list(headers), client)
            strip_untrusted(resolvers, scope)
            assert not [n for n, _ in scope["headers"] if n == b"x-member-id"]
            identity = runner.run(resolve_chain(resolvers, HTTPConnection(scope)))
            assert identity.member_id is None

        check()
    assert all(token.startswith("OauthNG.JWS.") and token.count(".") == 4
               for token in wix.asked)


#: One credential: (kind, what it names, how it is written).
CREDENTIAL = st.one_of(
    st.tuples(st.just("session"), st.sampled_from([*MEMBERS, "forged", "other-secret"]),
              st.just("")),
    st.tuples(st.just("token"),
              st.sampled_from([*MEMBERS, "m-ana again", "visitor", "inactive", "basic",
                               "app-jwt", "junk"]),
              st.sampled_from(["Bearer {}", "bearer {}", "{}", "BEARER\t{}", "Bearer  {} "])),
    st.tuples(st.just("token-cookie"), st.sampled_from([*MEMBERS, "visitor", "junk"]),
              st.just("")),
    st.tuples(st.just("proxy"), st.sampled_from([*MEMBERS, " "]), st.just("")),
)
NOISE = st.lists(st.sampled_from(["theme=dark", "gate_session_old=1", "Wix_Member_Token=x",
                                  "a=b=c", "lang"]), max_size=3)


def _expected(credentials: list[tuple[str, str, str]], trusted: bool,
              tokens: dict[str, str]) -> str | None:
    """The precedence rules of gate/identity/base.py, written again from the credentials."""
    sessions = {SIGNED.get(what, what) for kind, what, _ in credentials if kind == "session"}
    header_tokens = {what for kind, what, _ in credentials
                     if kind == "token" and what in tokens}
    cookie_tokens = {what for kind, what, _ in credentials if kind == "token-cookie"}
    proxies = [what for kind, what, _ in credentials if kind == "proxy"]
    if len(sessions) > 1 or len(cookie_tokens) > 1 or len(header_tokens) > 1 \
            or (trusted and len(proxies) > 1):
        return None
    named = {what for kind, what, _ in credentials if kind == "session" and what in MEMBERS}
    named |= {what.split()[0] for kind, what, _ in credentials
              if kind in ("token", "token-cookie") and what in (*MEMBERS, "m-ana again")}
    if trusted:
        named |= {what for what in proxies if what.strip()}
    return named.pop() if len(named) == 1 else None


def test_placed_credentials_name_the_member_the_rules_say() -> None:
    wix, tokens = _wix()
    resolvers = _identity(wix)
    values = {**tokens, "basic": BASIC, "app-jwt": APP_JWT, "junk": "not-a-token",
              "forged": "m-ana", "other-secret":
              SignedCookieResolver(secret="another-fuzz-secret-9z8y7x6w").sign("m-ana")}
    with asyncio.Runner() as runner:

        @_settings("placed credentials")
        @given(st.lists(CREDENTIAL, max_size=4), NOISE, st.booleans(), st.booleans(),
               st.randoms(use_true_random=False))
        def check(credentials: list[tuple[str, str, str]], noise: list[str], trusted: bool,
                  split_cookies: bool, rng: Any) -> None:
            headers: list[tuple[bytes, bytes]] = []
            cookies = list(noise)
            for kind, what, style in credentials:
                if kind == "session":
                    cookies.append(f"gate_session={SIGNED.get(what, values.get(what, what))}")
                elif kind == "token-cookie":
                    cookies.append(f"{TOKEN_COOKIE}={values[what]}")
                elif kind == "token":
                    headers.append((b"authorization", style.format(values[what]).encode()))
                else:
                    headers.append((b"x-member-id", what.encode()))
            rng.shuffle(cookies)
            if cookies:
                cut = rng.randint(0, len(cookies)) if split_cookies else len(cookies)
                for part in (cookies[:cut], cookies[cut:]):
                    if part:
                        headers.append((b"cookie", "; ".join(part).encode()))
            rng.shuffle(headers)
            scope = _scope(headers, PROXY if trusted else "203.0.113.9")
            strip_untrusted(resolvers, scope)
            identity = runner.run(resolve_chain(resolvers, HTTPConnection(scope)))
            assert identity.member_id == _expected(credentials, trusted, tokens), (
                credentials, headers, identity)

        check()


# -- the path matcher ------------------------------------------------------------------------

ROUTES = (
    CheckoutRoute(),
    CheckoutRoute("/checkout/{service_id}", service_param="service_id"),
    CheckoutRoute("/studio/{loc}/book", service_param="service", service_from="query",
                  pass_methods=("OPTIONS", "GET")),
)
MATCHER = RouteMatcher(ROUTES)
#: What Starlette's router would do with each route: its own regex, no trailing slash.
STARLETTE = [(route, compile_path(route.path.rstrip("/") or "/")[0]) for route in ROUTES]
PIECES = ["/", "//", "booking-form", "Booking-Form", "checkout", "svc", "studio", "x", "book",
          ".", "..", "%2F", "%2e", ";", "\n", "\\", "?", "#", " ", "\x00", "é", "\u2010", "-"]
PATHS = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(PIECES), max_size=8).map("".join),
    st.tuples(st.sampled_from(["/booking-form", "/checkout/svc", "/studio/city/book"]),
              st.lists(st.sampled_from(PIECES), max_size=3).map("".join),
              st.booleans()).map(lambda t: (t[1] + t[0]) if t[2] else (t[0] + t[1])),
)
METHODS = st.sampled_from(["GET", "get", "POST", "post", "OPTIONS", "options", "HEAD",
                           "PROPFIND", "\u017fet", "OPT\u0130ONS", ""]) | st.text(max_size=8)
QUERIES = st.binary(max_size=60) | st.lists(
    st.sampled_from([b"bookings_serviceId=svc", b"bookings_serviceId=other", b"service=a",
                     b"service=b", b"bookings_serviceId=", b"x=1", b"service", b"%zz",
                     b"bookings_serviceId=sv%63", b"service=a;b"]), max_size=4).map(b"&".join)


def _normalised(path: str) -> str:
    """What the gate is specified to compare: one final newline (which Starlette's ``$`` lets
    through) and the trailing slashes (which Starlette redirects away) removed."""
    path = path[:-1] if path.endswith("\n") else path
    return path.rstrip("/") or "/"


def test_the_path_matcher_gates_exactly_what_normalises_to_a_checkout() -> None:
    outcomes: Counter[str] = Counter()

    @_settings("paths")
    @given(METHODS, PATHS, QUERIES)
    def check(method: str, path: str, query: bytes) -> None:
        match = MATCHER.match(method, path, query)
        outcomes["gated" if match else "not gated"] += 1
        upper = method.upper() if method.isascii() else method
        expected = None
        for route, regex in STARLETTE:
            served = regex.match(path)  # Starlette would serve it as it is
            found = served or regex.fullmatch(_normalised(path))
            if found is None or upper in route.pass_methods:
                assert served is None or upper in route.pass_methods, (method, path)
                continue
            expected = (route, found)
            break
        if expected is None:
            assert match is None, (method, path, query, match)
            return
        assert match is not None and match.route == expected[0], (method, path, expected)
        assert match.method == upper
        route = expected[0]
        if route.reads_path:  # the id the app reads from its path parameter
            read = expected[1].group(route.service_param)
        elif not match.ambiguous:  # the id the app reads from its query
            read = QueryParams(query.decode("latin-1")).get(route.service_param, "")
        else:
            return
        # The gate decides for what the app reads, or, for an id not shaped like one, for an
        # unknown service that is never looked up.
        assert match.service_id == (read if SERVICE_ID.fullmatch(read) else "")

    check()
    assert outcomes["gated"] > 100 and outcomes["not gated"] > 100, outcomes


# -- forward-auth's reading of the forwarded request ------------------------------------------

FORWARD_NAMES = st.sampled_from([b"x-forwarded-uri", b"x-original-uri", b"x-forwarded-method",
                                 b"x-original-method", b"x-forwarded-host", b"cookie"])
FORWARD_VALUES = st.binary(max_size=80) | st.sampled_from([
    b"/booking-form", b"/booking-form?bookings_serviceId=svc", b"GET", b"post", b"",
    b"/x/../booking-form", b"//booking-form", b"/booking-form;x", b"/%2e%2e/", b"\\",
    b"/booking%2Fform", b"http://evil/booking-form"])


#: What a proxy sends, mostly well formed: one family's pair, then perhaps something more.
FORWARDED = st.tuples(
    st.sampled_from([(b"x-forwarded-uri", b"x-forwarded-method"),
                     (b"x-original-uri", b"x-original-method")]),
    st.sampled_from([b"/booking-form", b"/booking-form?bookings_serviceId=svc", b"/",
                     b"/a/b?c=d"]) | st.binary(max_size=30).map(lambda b: b"/" + b),
    st.sampled_from([b"GET", b"post", b"PROPFIND"]) | st.binary(max_size=8),
    st.lists(st.tuples(FORWARD_NAMES, FORWARD_VALUES), max_size=2),
).map(lambda t: [(t[0][0], t[1]), (t[0][1], t[2]), *t[3]])


def test_forward_auth_reads_a_request_or_answers_400() -> None:
    outcomes: Counter[str] = Counter()

    @_settings("forward-auth headers")
    @given(st.lists(st.tuples(FORWARD_NAMES, FORWARD_VALUES), max_size=6) | FORWARDED)
    def check(headers: list[tuple[bytes, bytes]]) -> None:
        result = _original(Request({"type": "http", "headers": headers}))
        outcomes["400" if isinstance(result, Response) else "read"] += 1
        if isinstance(result, Response):
            assert result.status_code == 400
            return
        method, uri, nginx = result
        assert method and uri.startswith("/") and isinstance(nginx, bool)
        names = {name for name, _ in headers}
        assert (b"x-original-uri" in names) == nginx

    check()
    assert outcomes["read"] > 50 and outcomes["400"] > 50, outcomes


# -- the decision API's body ----------------------------------------------------------------

API_SECRET = "fuzz-decision-api-secret-6d5c4b3a2f1e"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)
FIELDS = st.sampled_from(["serviceId", "serviceIds", "memberId", "memberToken", "path",
                          "method", "extra"])
FIELD_VALUES = JSON | st.sampled_from(["svc", "/booking-form", "GET", "m-ana", "", "x" * 300,
                                       "//evil.example", "/booking-form?x=1", "post", "G E T"])
BODIES = st.one_of(
    st.binary(max_size=400),
    JSON.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(FIELDS, FIELD_VALUES, max_size=5).map(lambda d: json.dumps(d).encode()),
    st.sampled_from([b"", b"{", b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000, b"1e999999",
                     b'{"serviceId": "svc", "serviceId": "other"}', b"\x00",
                     b'{"serviceId": "\\ud800"}', b" " * 17000, b"NaN", b"{}" * 9000]),
)


@pytest.fixture(scope="module")
def decision_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    balances: Path = tmp_path_factory.mktemp("fuzz") / "balances.yaml"
    balances.write_text("members:\n  m-ana:\n    - {pool: p1, available: '3'}\n")
    settings_ = GateSettings(api_secret=SecretStr(API_SECRET), policies=[shipped_policies()],
                             wix_site_id="unused", reload_interval=None)
    app = create_service(settings_, resolvers=[SESSION],
                         source=StaticBalanceSource(balances, clock=lambda: 0.0),
                         service_costs={"svc": "1"})
    with serve(app) as url:
        yield url


@pytest.mark.parametrize(("endpoint", "name"), [("/v1/decisions", "decision bodies"),
                                                ("/v1/decisions/batch", "batch bodies")])
def test_the_decision_api_answers_every_body_without_a_500(
    decision_api: str, endpoint: str, name: str
) -> None:
    seen: set[int] = set()
    with httpx.Client(base_url=decision_api, timeout=30) as client:

        @_settings(name)
        @given(BODIES, st.sampled_from(["application/json", "text/plain", "",
                                        "application/x-www-form-urlencoded",
                                        "application/json; charset=latin-1"]))
        def check(body: bytes, content_type: str) -> None:
            response = client.post(endpoint, content=body, headers={
                "Authorization": f"Bearer {API_SECRET}", "Content-Type": content_type})
            seen.add(response.status_code)
            assert response.status_code in (200, 400, 413, 422), (body[:200], response.text)
            assert response.headers["content-type"].startswith("application/json")

        check()
    assert {400, 413, 422} <= seen
