"""Which requests are checkouts: paths, trailing slashes, service ids, route validation."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gate import CheckoutRoute, ConfigError
from gate.adapters.routes import RouteMatcher, route_path

MATCHER = RouteMatcher([
    CheckoutRoute(),
    CheckoutRoute("/checkout/{service_id}", service_param="service_id"),
    CheckoutRoute("/book/{slug:path}", service_param="svc", service_from="query"),
    CheckoutRoute("/classes/{service_id}/book/", service_param="service_id"),
])


@pytest.mark.parametrize(
    ("method", "path", "query", "service"),
    [
        # Wix's booking form: the service comes from the query.
        ("GET", "/booking-form", b"bookings_serviceId=abc", "abc"),
        ("POST", "/booking-form", b"bookings_serviceId=abc&x=1", "abc"),
        ("GET", "/booking-form", b"", ""),
        ("GET", "/booking-form", b"bookings_serviceId=a%2Db", "a-b"),
        # Not shaped like a service id: never looked up, an unknown service.
        ("GET", "/booking-form", b"bookings_serviceId=a%20b", ""),
        ("GET", "/booking-form", b"bookings%5FserviceId=enc", "enc"),  # decoded like Starlette
        # A path parameter names the service; the query cannot override it.
        ("POST", "/checkout/svc-42", b"", "svc-42"),
        ("POST", "/checkout/svc-42", b"service_id=other", "svc-42"),
        ("GET", "/checkout/svc-42", b"", "svc-42"),  # every method is gated now
        # service_from="query": the path has parameters, the service is still in the query.
        ("GET", "/book/yoga/morning", b"svc=s1", "s1"),
        ("GET", "/book/yoga/morning", b"", ""),
        # Not checkouts.
        ("GET", "/booking-formx", b"", None),
        ("GET", "/booking-form/x", b"", None),
        ("GET", "/plans-pricing", b"", None),
        ("GET", "/Booking-Form", b"", None),  # paths are case-sensitive, as in Starlette
        ("POST", "/checkout/", b"", None),
        ("POST", "/checkout/a/b", b"", None),
        ("OPTIONS", "/booking-form", b"", None),  # CORS preflight passes by default
    ],
)
def test_match(method: str, path: str, query: bytes, service: str | None) -> None:
    found = MATCHER.match(method, path, query)
    assert (found.service_id if found else None) == service


# (b) Trailing slashes, the way Starlette's router treats them (redirect_slashes): a checkout
# is gated with and without its trailing slash, whichever way the route was written.
SLASHES = [
    # path, service, canonical path (what policies see)
    ("/booking-form", "", "/booking-form"),
    ("/booking-form/", "", "/booking-form"),
    ("/booking-form//", "", "/booking-form"),  # Starlette strips them all (rstrip)
    ("/checkout/s1", "s1", "/checkout/s1"),
    ("/checkout/s1/", "s1", "/checkout/s1"),
    ("/classes/s2/book/", "s2", "/classes/s2/book/"),  # the route was written with a slash
    ("/classes/s2/book", "s2", "/classes/s2/book/"),
    ("/book/yoga/", "", "/book/yoga"),
    # Starlette's "$" also matches before a final newline (%0A): the app would serve it.
    ("/booking-form\n", "", "/booking-form"),
]


@pytest.mark.parametrize(("path", "service", "canonical"), SLASHES)
def test_trailing_slash_table(path: str, service: str, canonical: str) -> None:
    found = MATCHER.match("GET", path, b"")
    assert found is not None, f"{path!r} must be gated"
    assert (found.service_id, found.path) == (service, canonical)


@pytest.mark.parametrize("path", ["/booking-form/x/", "/booking-formx/", "/checkout//", "/"])
def test_trailing_slash_does_not_widen_a_route(path: str) -> None:
    assert MATCHER.match("GET", path, b"") is None


def test_trailing_slash_on_a_root_route() -> None:
    root = RouteMatcher([CheckoutRoute("/")])
    assert root.match("GET", "/", b"") is not None
    assert root.match("GET", "/x", b"") is None


def test_match_reports_the_normalised_method() -> None:
    found = MATCHER.match("pOsT", "/booking-form", b"")
    assert found is not None
    assert found.method == "POST"


def test_a_query_naming_the_service_twice_is_ambiguous() -> None:
    found = MATCHER.match("GET", "/booking-form", b"bookings_serviceId=a&bookings_serviceId=b")
    assert found is not None and found.ambiguous
    same = MATCHER.match("GET", "/booking-form", b"bookings_serviceId=a&bookings_serviceId=a")
    assert same is not None and (same.ambiguous, same.service_id) == (False, "a")


@pytest.mark.parametrize(("scope", "expected"), [
    ({"path": "/booking-form", "root_path": ""}, "/booking-form"),
    ({"path": "/studio/booking-form", "root_path": "/studio"}, "/booking-form"),
    ({"path": "/studio/booking-form", "root_path": "/studio/"}, "/booking-form"),
    ({"path": "/booking-form", "root_path": "/studio"}, "/booking-form"),  # server stripped it
    ({"path": "/studiox/booking-form", "root_path": "/studio"}, "/studiox/booking-form"),
    ({"path": "/studio", "root_path": "/studio"}, "/"),
])
def test_route_path(scope: dict[str, Any], expected: str) -> None:
    assert route_path(scope) == expected


def test_match_scope_reads_a_raw_scope_under_a_mount() -> None:
    scope = {"type": "http", "method": "get", "path": "/studio/booking-form/",
             "root_path": "/studio", "query_string": b"bookings_serviceId=x"}
    found = MATCHER.match_scope(scope)
    assert found is not None
    assert (found.method, found.path, found.service_id) == ("GET", "/booking-form", "x")


def test_overlapping_routes_pass_a_method_only_if_all_of_them_do() -> None:
    matcher = RouteMatcher([
        CheckoutRoute("/booking-form", pass_methods=("OPTIONS", "GET")),
        CheckoutRoute("/{page}", service_param="page"),
    ])
    found = matcher.match("GET", "/booking-form", b"")
    assert found is not None and found.route.path == "/{page}"
    assert matcher.match("OPTIONS", "/booking-form", b"") is None


# (f) CheckoutRoute validation: every mistake stops start-up with a ConfigError that says why.
BAD_ROUTES: list[Any] = [
    pytest.param({"path": ""}, "empty", id="empty-path"),
    pytest.param({"path": "booking-form"}, "must start with '/'", id="relative-path"),
    pytest.param({"path": b"/booking-form"}, "must be a string", id="bytes-path"),
    pytest.param({"path": None}, "must be a string", id="none-path"),
    pytest.param({"path": "//booking-form"}, "empty segment", id="double-slash"),
    pytest.param({"path": "/booking-form?bookings_serviceId=1"}, "query is not part",
                 id="query-in-path"),
    pytest.param({"path": "/booking form"}, "spaces", id="space-in-path"),
    pytest.param({"path": "/checkout/{id"}, "malformed parameter", id="unclosed-brace"),
    pytest.param({"path": "/checkout/{service-id}"}, "malformed parameter", id="dash-in-param"),
    pytest.param({"path": "/booking-form\n"}, "control characters", id="newline-in-path"),
    pytest.param({"path": "/c/{id:nope}", "service_param": "id"}, "Unknown path convertor",
                 id="unknown-convertor"),
    pytest.param({"path": "/c/{id}/{id}", "service_param": "id"}, "Duplicated param",
                 id="duplicate-param"),
    pytest.param({"path": "/checkout/{id}", "service_param": "service_id"},
                 "its parameters: id", id="service-param-not-in-path"),
    pytest.param({"path": "/checkout/{a}/{b}"}, "its parameters: a, b",
                 id="default-service-param-not-in-path"),
    pytest.param({"path": "/booking-form", "service_from": "path"}, "its parameters: none",
                 id="service-from-path-without-params"),
    pytest.param({"service_from": "cookie"}, "service_from", id="unknown-service-from"),
    pytest.param({"service_param": ""}, "service_param", id="empty-service-param"),
    pytest.param({"service_param": 7}, "service_param", id="int-service-param"),
    pytest.param({"pass_methods": "OPTIONS"}, "list or tuple", id="string-pass-methods"),
    pytest.param({"pass_methods": b"OPTIONS"}, "list or tuple", id="bytes-pass-methods"),
    pytest.param({"pass_methods": None}, "list or tuple", id="none-pass-methods"),
    pytest.param({"pass_methods": ("OPTIONS", 1)}, "not an HTTP method", id="int-method"),
    pytest.param({"pass_methods": ("OPTIONS", b"GET")}, "not an HTTP method", id="bytes-method"),
    pytest.param({"pass_methods": ("GET ",)}, "not an HTTP method", id="trailing-space"),
    pytest.param({"pass_methods": ("",)}, "not an HTTP method", id="empty-method"),
    pytest.param({"pass_methods": ("GET,POST",)}, "not an HTTP method", id="comma-list"),
    pytest.param({"pass_methods": ("OPTION\u017f",)}, "not an HTTP method", id="non-ascii-method"),
    pytest.param({"methods": ("GET", "POST")}, "pass_methods", id="old-methods-argument"),
    pytest.param({"methods": ()}, "pass_methods", id="old-methods-empty"),
]


@pytest.mark.parametrize(("options", "message"), BAD_ROUTES)
def test_bad_routes_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        CheckoutRoute(**options)


@pytest.mark.parametrize("options", [
    {"path": "/checkout/{service_id}", "service_param": "service_id"},
    {"path": "/checkout/{service_id:int}", "service_param": "service_id"},
    {"path": "/studio/{location}/book", "service_from": "query"},
    {"path": "/booking-form/"},
    {"pass_methods": ()},  # gate OPTIONS too
    {"pass_methods": ["options", "Get", "HEAD"]},
    {"pass_methods": frozenset({"OPTIONS"})},
    {"pass_methods": ("X-CUSTOM", "M-SEARCH")},
])
def test_good_routes_are_accepted(options: dict[str, Any]) -> None:
    RouteMatcher([CheckoutRoute(**options)])


def test_routes_are_normalised_frozen_and_hashable() -> None:
    route = CheckoutRoute(pass_methods=["options", "get", "GET"])
    assert route.pass_methods == ("GET", "OPTIONS")
    assert route == CheckoutRoute(pass_methods=("GET", "OPTIONS"))
    assert len({route, CheckoutRoute(pass_methods=("OPTIONS", "GET")), CheckoutRoute()}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        route.path = "/other"  # type: ignore[misc]


def test_only_the_path_is_positional() -> None:
    with pytest.raises(TypeError):
        CheckoutRoute("/checkout/{id}", ("POST",), "id")  # type: ignore[misc]


@pytest.mark.parametrize("routes", [[], "/booking-form", CheckoutRoute(), ["/booking-form"]])
def test_matcher_needs_a_list_of_routes(routes: Any) -> None:
    with pytest.raises(ConfigError):
        RouteMatcher(routes)
