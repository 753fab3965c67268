"""Which requests are checkouts."""

from __future__ import annotations

import pytest

from gate import CheckoutRoute, ConfigError
from gate.routes import RouteMatcher

MATCHER = RouteMatcher([
    CheckoutRoute(),
    CheckoutRoute(path="/checkout/{service_id}", methods=["POST"], service_param="service_id"),
    CheckoutRoute(path="/book/{slug:path}", methods=["GET"], service_param="svc"),
])


@pytest.mark.parametrize(
    ("method", "path", "query", "service"),
    [
        # Wix's booking form: the service comes from the query.
        ("GET", "/booking-form", b"bookings_serviceId=abc", "abc"),
        ("POST", "/booking-form", b"bookings_serviceId=abc&x=1", "abc"),
        ("GET", "/booking-form", b"", ""),
        ("GET", "/booking-form", b"bookings_serviceId=a%20b", "a b"),
        # A path parameter names the service, and wins over the query.
        ("POST", "/checkout/svc-42", b"", "svc-42"),
        ("POST", "/checkout/svc-42", b"service_id=other", "svc-42"),
        ("GET", "/book/yoga/morning", b"svc=s1", "s1"),
        # Not checkouts.
        ("GET", "/checkout/svc-42", b"", None),
        ("HEAD", "/booking-form", b"", ""),  # HEAD runs the GET handler: gated too
        ("GET", "/booking-form/", b"", None),
        ("GET", "/booking-formx", b"", None),
        ("GET", "/plans-pricing", b"", None),
        ("POST", "/checkout/", b"", None),
        ("POST", "/checkout/a/b", b"", None),
    ],
)
def test_match(method: str, path: str, query: bytes, service: str | None) -> None:
    found = MATCHER.match(method, path, query)
    assert (found.service_id if found else None) == service


@pytest.mark.parametrize("route", [
    CheckoutRoute(path="booking-form"),
    CheckoutRoute(methods=()),
])
def test_bad_routes_are_refused(route: CheckoutRoute) -> None:
    with pytest.raises(ConfigError):
        RouteMatcher([route])


def test_no_routes_is_refused() -> None:
    with pytest.raises(ConfigError):
        RouteMatcher([])
