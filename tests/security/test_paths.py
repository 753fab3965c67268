"""Path and method variants: no spelling of a checkout reaches the app without the gate deciding.

Two ways in, each with the same oracle: an app that shows the checkout to every method but
OPTIONS (compared case-insensitively, as Django does), and says in a header whether the gate's
decision came with the request.

* The middleware, on a real uvicorn: every variant is sent byte for byte (a raw socket, no
  client library to clean it up). If the app serves a checkout, the gate must have decided it.
* Forward-auth: every variant goes in ``X-Forwarded-Uri`` (Traefik, Caddy) and
  ``X-Original-URI`` (nginx). When the gate answers "not a checkout" (200 without
  ``X-Gate-Rule``), the same request sent to the bare app must not show the checkout.

The member is signed in with credits, so a gated checkout is let through and marked: a variant
the gate missed is seen as a checkout served without a decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gate import BookingGate, SignedCookieResolver, StaticBalanceSource
from gate.adapters.routes import CheckoutRoute
from gate.adapters.service import create_service
from gate.config.settings import GateSettings
from gate.policy.shipped import shipped_policies
from tests.security.support import RawResponse, raw_request, record, serve

SECRET = "security-paths-secret-0a1b2c3d4e5f"
RESOLVER = SignedCookieResolver(secret=SECRET)
MEMBER = ("Cookie", f"gate_session={RESOLVER.sign('m-rich')}")
API_SECRET = "security-paths-api-secret-9f8e7d6c5b4a"


class Checkout:
    """The checkout page, for any method but OPTIONS, in any case: marks whether it was gated."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"].upper() if scope["method"].isascii() else scope["method"]
        response: Response
        if method == "OPTIONS":
            response = Response(status_code=204)
        else:
            gated = "booking_gate" in (scope.get("state") or {})
            response = PlainTextResponse("checkout", headers={
                "X-Checkout": "gated" if gated else "UNGATED"})
        await response(scope, receive, send)


APP = Starlette(routes=[Route("/booking-form", Checkout()),
                        Route("/checkout/{service_id}", Checkout())])
CHECKOUTS = (CheckoutRoute(), CheckoutRoute("/checkout/{service_id}", service_param="service_id"))

# -- the corpus ------------------------------------------------------------------------------

BOOKING_FORM = [
    # the path as written, and with trailing slashes
    "/booking-form", "/booking-form/", "/booking-form//", "/booking-form///",
    # case
    "/Booking-Form", "/BOOKING-FORM", "/booking-Form", "/bOoking-form", "/BOOKING-FORM/",
    # percent-encoding, single and double
    "/%62ooking-form", "/booking%2Dform", "/booking%2dform", "/BOOKING%2DFORM", "/%62%6F%6F%6B"
    "%69%6E%67%2D%66%6F%72%6D", "/booking-form%2F", "/booking-form%2f", "/booking-form%2F%2F",
    "/booking%252Dform", "/%2562ooking-form", "/booking-form%252F", "/%2Fbooking-form",
    "/booking-%66orm", "/booking-form%20", "/booking-form%09", "/booking-form%00",
    "/booking-form%0a", "/booking-form%0d%0a", "/booking-form%0A", "/%20/booking-form",
    # dot segments, raw and encoded
    "/./booking-form", "/x/../booking-form", "/x/%2e%2e/booking-form", "/%2e/booking-form",
    "/x/%2E%2E/booking-form", "/booking-form/.", "/booking-form/./", "/booking-form/..",
    "/booking-form/x/..", "/./booking-form/", "/x/..%2fbooking-form", "/x/%2e%2e%2fbooking-form",
    "/booking-form/%2e", "/.%2e/booking-form", "/..;/booking-form", "/booking-form/.%2e/",
    # empty segments
    "//booking-form", "///booking-form", "/.//booking-form", "//booking-form/",
    "/booking-form//.", "/%2F/booking-form",
    # path parameters and their look-alikes
    "/booking-form;x", "/booking-form;jsessionid=1", "/booking-form/;", "/booking-form;/",
    "/booking-form%3Bx", "/booking-form;", "/booking-form%3B", "/booking-form;.css",
    # suffixes a lenient app might ignore
    "/booking-form.", "/booking-form~", "/booking-form%7E", "/booking-form.html",
    "/booking-form.json", "/booking-form/index", "/booking-form#frag", "/booking-form%23x",
    "/booking-form\\", "/booking-form%5C", "/%5Cbooking-form", "/booking-form%5C%5C",
    # unicode look-alikes, encoded
    "/booking%E2%80%90form", "/%EF%BD%82ooking-form", "/booking-form%E2%80%8B",
    "/book%C4%B1ng-form", "/booking-form%CC%81", "/booking%E2%80%91form", "/%C5%BFooking-form",
    "/booking-form%EF%BC%8F", "/%E2%80%AEmrof-gnikoob",
    # request-target forms other than a path
    "http://studio.example/booking-form", "http://evil.example/booking-form", "*",
]
QUERIES = [
    "?bookings_serviceId=svc", "", "?bookings_serviceId=svc&bookings_serviceId=svc",
    "?bookings_serviceId=svc&bookings_serviceId=other", "?bookings_serviceid=svc",
    "?bookings_serviceId=sv%63", "?bookings_serviceId=svc;x=1", "?bookings%5FserviceId=svc",
    "?bookings_serviceId[]=svc", "?bookings_serviceId=svc#x", "?&bookings_serviceId=svc&",
    "?bookings_serviceId=%00svc", "?BOOKINGS_SERVICEID=svc", "?bookings_serviceId=svc%26x%3D1",
    "?bookings_serviceId=", "?bookings_serviceId", "?x=1&bookings_serviceId=svc",
]
PATH_PARAM = [
    "/checkout/svc", "/checkout/svc/", "/checkout/svc//", "/Checkout/svc", "/CHECKOUT/svc",
    "/checkout//svc", "//checkout/svc", "/checkout/svc%2Fx", "/checkout/sv%63",
    "/checkout/../checkout/svc", "/checkout/./svc", "/checkout/svc;x", "/checkout/svc/..",
    "/checkout/%2e%2e/checkout/svc", "/checkout/svc%00", "/checkout/svc%0a", "/checkout/%20svc",
    "/checkout/svc?x=1", "/checkout/", "/checkout", "/checkout/svc/extra", "/checkout%2Fsvc",
]
METHODS = ["GET", "HEAD", "POST", "post", "PoSt", "PUT", "DELETE", "PATCH", "OPTIONS",
           "options", "PROPFIND", "FOO", "gEt", "LINK", "TRACE"]
FEW_METHODS = ["GET", "post", "HEAD"]


def _middleware_cases() -> list[tuple[str, str]]:
    cases = [(method, path + "?bookings_serviceId=svc") for path in BOOKING_FORM
             for method in FEW_METHODS]
    cases += [(method, "/booking-form" + query) for query in QUERIES for method in METHODS]
    cases += [(method, path) for path in PATH_PARAM for method in FEW_METHODS]
    return cases


def _forwarded_cases() -> list[tuple[str, str]]:
    uris = [path + "?bookings_serviceId=svc" for path in BOOKING_FORM if path.startswith("/")]
    uris += ["/booking-form" + query for query in QUERIES] + PATH_PARAM
    return [(method, uri) for uri in uris for method in FEW_METHODS]


# -- servers ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def balances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("paths") / "balances.yaml"
    path.write_text("members:\n  m-rich:\n    - {pool: p1, available: '100000'}\n")
    return path


def _options(balances: Path) -> dict[str, Any]:
    return {"policies": shipped_policies(), "resolvers": [RESOLVER],
            "source": StaticBalanceSource(balances, clock=lambda: 0.0),
            "service_costs": {"svc": "1"}, "reload_interval": None, "hold_seconds": 0}


@pytest.fixture(scope="module")
def gated(balances: Path) -> Iterator[str]:
    gate = BookingGate(APP, checkouts=CHECKOUTS, **_options(balances))
    with serve(gate) as url:
        yield url


@pytest.fixture(scope="module")
def bare() -> Iterator[str]:
    with serve(APP) as url:
        yield url


@pytest.fixture(scope="module")
def service(balances: Path) -> Iterator[str]:
    # serve has one service_param for every path: the path parameter takes its name.
    settings = GateSettings(api_secret=SecretStr(API_SECRET), policies=[shipped_policies()],
                            checkout_paths=["/booking-form", "/checkout/{bookings_serviceId}"],
                            wix_site_id="unused")
    with serve(create_service(settings, **_options(balances))) as url:
        yield url


def _served_ungated(response: RawResponse) -> bool:
    return response.header("x-checkout") == "UNGATED"


def _kind(response: RawResponse) -> str:
    if response.header("x-gate-data") or response.header("x-gate-rule"):
        return "decided by the gate"
    if response.status in (0, 400) and not response.header("x-gate-rule"):
        return "refused by the server"
    return f"app {response.status}"


def test_no_spelling_of_a_checkout_reaches_the_app_ungated(gated: str) -> None:
    cases = _middleware_cases()
    seen: Counter[str] = Counter()
    bypasses = []
    for method, target in cases:
        response = raw_request(gated, method, target, [MEMBER])
        seen[_kind(response)] += 1
        if _served_ungated(response):
            bypasses.append((method, target))
    record("paths and methods: middleware", len(cases))
    assert not bypasses, f"{len(bypasses)} of {len(cases)} variants reached the checkout " \
                         f"without the gate: {bypasses}"
    assert seen["decided by the gate"] > 100, seen


def test_the_exact_checkout_is_decided_for_every_method_but_options(gated: str) -> None:
    for target in ("/booking-form?bookings_serviceId=svc", "/booking-form/?bookings_serviceId=svc"):
        for method in METHODS:
            response = raw_request(gated, method, target, [MEMBER])
            if method.upper() == "OPTIONS":
                assert response.header("x-gate-data") is None, (method, target)
            else:  # decided: let through with what the gate saw, or refused by a rule
                assert response.header("x-gate-data") is not None, (method, response.status)


@pytest.mark.parametrize("family", ["traefik", "nginx"])
def test_forward_auth_never_passes_what_the_app_serves_as_a_checkout(
    service: str, bare: str, family: str
) -> None:
    uri_header, method_header = (("X-Forwarded-Uri", "X-Forwarded-Method") if family == "traefik"
                                 else ("X-Original-URI", "X-Original-Method"))
    cases = _forwarded_cases()
    seen: Counter[str] = Counter()
    bypasses = []
    for method, uri in cases:
        answer = raw_request(service, "GET", "/v1/forward-auth",
                             [(uri_header, uri), (method_header, method), MEMBER])
        if answer.status == 200 and answer.header("x-gate-rule") is None:
            seen["not a checkout"] += 1
            # The proxy lets it through: the app must not show the checkout for it.
            if _served_ungated(raw_request(bare, method, uri)):
                bypasses.append((method, uri))
        else:
            seen[f"{answer.status} {answer.header('x-gate-rule') or ''}".strip()] += 1
    record(f"paths and methods: forward-auth ({family})", len(cases))
    assert not bypasses, f"forward-auth passed {len(bypasses)} checkouts: {bypasses}"
    assert seen["not a checkout"] < len(cases), seen


def test_the_corpus_is_big_enough() -> None:
    total = len(_middleware_cases()) + 2 * len(_forwarded_cases())
    record("paths and methods: total", total, minimum=300)
