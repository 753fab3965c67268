"""Prometheus metrics over real HTTP: a scripted mix of decisions, then the exact numbers.

The gate (``booking-gate serve``'s app, or the middleware with ``metrics_app`` beside it) runs
under uvicorn on 127.0.0.1 and reads the Wix emulator over HTTP. Every count asserted here is
known in advance from the script, and the Wix calls are checked against the emulator's own
counters, so a hook that missed or double-counted an attempt fails.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from gate import BookingGate, ConfigError, GateMetrics, WixSettings, metrics_app
from gate.adapters.service import create_service
from gate.config.settings import GateSettings
from gate.errors import UpstreamBudgetSpent, UpstreamUnavailable
from gate.observe.events import DecisionEvent
from gate.policy.decision import Decision, Outcome
from gate.policy.shipped import shipped_policies
from gate.tooling.emulator import TOKEN_PATTERN as EMULATOR_TOKENS
from gate.tooling.testing import run_server
from gate.upstream import CircuitBreaker, UpstreamBudget
from gate.wix.client import WixClient
from tests.conftest import (
    CHECKOUT,
    CHECKOUT_APP,
    PILATES,
    SITE_ID,
    YOGA,
    Emulator,
    FakeClock,
    _checkout_page,
)
from tests.serving import API_SECRET

METRICS_TOKEN = "metrics-token-7d3f9a21-c0b5e8"
STATUS_TOKEN = "status-token-19ce4b7a-5d20f3"
API = {"Authorization": f"Bearer {API_SECRET}"}
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}
UNKNOWN = "00000000-0000-4000-8000-0000000000ff"
#: The emulator's route for each endpoint label.
ROUTES = {
    "balances/query": "POST /benefit-programs/v1/balances/query",
    "pools/query": "POST /benefit-programs/v1/pools/query",
    "items/query": "POST /benefit-programs/v1/items/query",
    "token-info": "POST /oauth2/token-info",
}
SHADOW = """apiVersion: booking-gate/v1
rules:
  - name: low-credits-watch
    when: signed_in && available < 2
    action: redirect
    to: /plans-pricing
    mode: shadow
"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape: (name, sorted labels) → value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def series(samples: Samples, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """One series' samples keyed by the values of ``labels``."""
    found = {}
    for (sample, pairs), value in samples.items():
        if sample == name:
            given = dict(pairs)
            found[tuple(given[label] for label in labels)] = value
    return found


def scrape(url: str) -> Samples:
    response = httpx.get(url + "/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert "no-store" in response.headers["cache-control"]
    return parse(response.text)


def upstream_by_route(samples: Samples) -> Counter[str]:
    """HTTP attempts the gate counted, by the emulator's route name (answers only)."""
    counted: Counter[str] = Counter()
    for (endpoint, status), value in series(samples, "booking_gate_upstream_requests_total",
                                            "endpoint", "status").items():
        if status.isdigit():
            counted[ROUTES[endpoint]] += int(value)
    return counted


def emulator_calls(emulator: Emulator) -> Counter[str]:
    calls = emulator.admin.get("/_emulator/calls").json()["calls"]
    return Counter({route: n for route, n in calls.items() if n})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    policies = tmp_path / "policies"
    policies.mkdir()
    shutil.copy(Path(shipped_policies()) / "10-checkout.yaml", policies / "10-checkout.yaml")
    (policies / "05-watch.yaml").write_text(SHADOW)
    return policies


def _settings(
    emulator: Emulator, folder: Path, *, metrics_token: str | None = None,
    status_token: str | None = None,
) -> GateSettings:
    return GateSettings(
        wix_api_key=SecretStr(emulator.api_key), wix_site_id=SITE_ID, wix_base_url=emulator.url,
        wix_retries=0, api_secret=SecretStr(API_SECRET), policies=[folder],
        reload_interval=None, token_pattern=EMULATOR_TOKENS,
        metrics_token=SecretStr(metrics_token) if metrics_token is not None else None,
        status_token=SecretStr(status_token) if status_token is not None else None)


@pytest.fixture
def service(emulator: Emulator, folder: Path, clock: FakeClock) -> Iterator[str]:
    """``serve``'s app with both tokens; the call budget runs on the test's clock."""
    settings = _settings(emulator, folder, metrics_token=METRICS_TOKEN,
                         status_token=STATUS_TOKEN)
    app = create_service(settings, budget=UpstreamBudget(limit=200, clock=clock))
    with run_server(app) as url:
        yield url


def ask(url: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(url + "/v1/decisions", json=body, headers=API)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_scripted_mix_gives_exact_counts(
    service: str, emulator: Emulator, folder: Path
) -> None:
    members = emulator.members
    answers = [
        ask(service, memberId=members["ana"], serviceId=YOGA),          # cold: every read
        ask(service, memberId=members["ana"], serviceId=YOGA),          # from the cache
        ask(service, memberToken=emulator.token("ana"), serviceId=PILATES),
        ask(service, memberId=members["ben"], serviceId=YOGA),
        ask(service, memberId=members["ben"], serviceId=PILATES),
        ask(service, memberId=members["cleo"], serviceId=YOGA),
        ask(service, serviceId=YOGA),                                   # a visitor
        ask(service, memberId=members["ana"], serviceId=UNKNOWN),
    ]
    emulator.fault("POST /benefit-programs/v1/balances/query", status=503, times=1)
    answers.append(ask(service, memberId=members["eve"], serviceId=YOGA))
    assert [(a["outcome"], a["rule"], a["data"]) for a in answers] == [
        ("allow", "(default)", "fresh"),
        ("allow", "(default)", "fresh"),
        ("allow", "(default)", "fresh"),
        ("redirect", "no-credits", "fresh"),
        ("redirect", "no-credits", "fresh"),
        ("deny", "plan-paused", "fresh"),
        ("redirect", "sign-in-first", "none"),
        ("redirect", "unknown-service", "fresh"),
        ("deny", "(on_error)", "none"),
    ]
    samples = scrape(service)

    assert series(samples, "booking_gate_decisions_total", "outcome", "rule") == {
        ("allow", "(default)"): 3, ("redirect", "no-credits"): 2, ("deny", "plan-paused"): 1,
        ("redirect", "sign-in-first"): 1, ("redirect", "unknown-service"): 1,
        ("deny", "(on_error)"): 1,
    }
    assert series(samples, "booking_gate_decision_errors_total", "cause", "kind") == {
        ("upstream", "upstream_unavailable"): 1}
    assert series(samples, "booking_gate_cache_total", "result") == {
        ("fresh",): 7, ("stale",): 0, ("fallback",): 0, ("none",): 2}
    counts = series(samples, "booking_gate_decision_seconds_count", "cached")
    assert sum(counts.values()) == 9
    infinite = series(samples, "booking_gate_decision_seconds_bucket", "cached", "le")
    assert infinite["false", "+Inf"] + infinite["true", "+Inf"] == 9
    # Fewer than 2 credits for the class: ben (twice), cleo (a paused plan's credits do not
    # count) and ana for the unknown class; not ana's or eve's other asks, nor the visitor.
    assert series(samples, "booking_gate_shadow_total", "rule") == {("low-credits-watch",): 4}

    # Every attempt the gate counted is one the emulator received, and the other way round.
    received = emulator_calls(emulator)
    assert upstream_by_route(samples) == received
    assert received["POST /oauth2/token-info"] == 1
    upstream = series(samples, "booking_gate_upstream_requests_total", "endpoint", "status")
    assert upstream["balances/query", "503"] == 1
    assert {status for _, status in upstream} == {"200", "503"}
    assert series(samples, "booking_gate_budget_remaining") == {(): 200 - received.total()}
    assert series(samples, "booking_gate_budget_limit") == {(): 200}
    assert series(samples, "booking_gate_breaker_state", "state") == {
        ("closed",): 1, ("open",): 0, ("half-open",): 0}
    assert series(samples, "booking_gate_breaker_opens_total") == {(): 0}
    assert ("booking_gate_redis_up", ()) not in samples  # no Redis was given

    # Nothing that names a member, a service, a page or a secret is in the numbers.
    text = httpx.get(service + "/metrics", headers=SCRAPE).text
    for secret in (*members.values(), YOGA, PILATES, UNKNOWN, "/booking-form",
                   emulator.api_key, API_SECRET, STATUS_TOKEN, METRICS_TOKEN):
        assert secret not in text


def test_reload_results_and_the_version_serving(service: str, folder: Path) -> None:
    admin = {"Authorization": f"Bearer {STATUS_TOKEN}"}
    before = scrape(service)
    assert series(before, "booking_gate_reloads_total", "result") == {
        ("applied",): 0, ("unchanged",): 0, ("refused",): 0, ("error",): 0}
    (version,) = series(before, "booking_gate_policy_info", "version")

    (folder / "05-watch.yaml").write_text(SHADOW.replace("available < 2", "availble < 2"))
    assert httpx.post(service + "/v1/status/reload", headers=admin).status_code == 422
    (folder / "05-watch.yaml").write_text(SHADOW.replace("available < 2", "available < 3"))
    applied = httpx.post(service + "/v1/status/reload", headers=admin)
    assert applied.status_code == 200
    assert httpx.post(service + "/v1/status/reload", headers=admin).status_code == 200

    after = scrape(service)
    assert series(after, "booking_gate_reloads_total", "result") == {
        ("applied",): 1, ("unchanged",): 1, ("refused",): 1, ("error",): 0}
    assert series(after, "booking_gate_policy_info", "version") == {
        (applied.json()["policy"]["version"],): 1}
    assert applied.json()["policy"]["version"] != version[0]


@pytest.mark.parametrize(("headers", "method"), [
    pytest.param({}, "GET", id="no-authorization"),
    pytest.param({"Authorization": "Bearer wrong-token-5e1d7c93ab"}, "GET", id="wrong-token"),
    pytest.param({"Authorization": METRICS_TOKEN}, "GET", id="no-bearer-word"),
    pytest.param({"Authorization": f"Bearer {API_SECRET}"}, "GET", id="the-api-secret"),
    pytest.param({"Authorization": f"Bearer {STATUS_TOKEN}"}, "GET", id="the-status-token"),
])
def test_the_wrong_credentials_get_401(
    service: str, headers: dict[str, str], method: str
) -> None:
    response = httpx.request(method, service + "/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="booking-gate"'
    assert "booking_gate" not in response.text


def test_two_authorization_headers_get_401(service: str) -> None:
    headers = [("Authorization", f"Bearer {METRICS_TOKEN}")] * 2
    assert httpx.get(service + "/metrics", headers=headers).status_code == 401


def test_only_get_and_head_are_answered(service: str) -> None:
    assert httpx.post(service + "/metrics", headers=SCRAPE).status_code == 405
    assert httpx.head(service + "/metrics", headers=SCRAPE).status_code == 200


def test_without_a_metrics_token_there_is_no_endpoint(
    emulator: Emulator, folder: Path
) -> None:
    app = create_service(_settings(emulator, folder, status_token=STATUS_TOKEN))
    assert app.state.parts.metrics is None  # nothing is counted either
    with run_server(app) as url:
        for headers in ({}, SCRAPE, {"Authorization": f"Bearer {STATUS_TOKEN}"}):
            assert httpx.get(url + "/metrics", headers=headers).status_code == 404


def test_a_weak_metrics_token_is_refused(emulator: Emulator, folder: Path) -> None:
    with pytest.raises(ConfigError, match="BOOKING_GATE_METRICS_TOKEN") as caught:
        create_service(_settings(emulator, folder, metrics_token="short"))
    assert "short" not in str(caught.value)


def test_the_metrics_token_is_never_read_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "gate.toml"
    config.write_text(f'metrics_token = "{METRICS_TOKEN}"\n')
    with pytest.raises(ConfigError, match="BOOKING_GATE_METRICS_TOKEN") as caught:
        GateSettings.load(config)
    assert METRICS_TOKEN not in str(caught.value)


def test_beside_the_middleware(emulator: Emulator, clock: FakeClock) -> None:
    """The documented mounting: one GateMetrics, given to the gate and served beside it."""
    metrics = GateMetrics()
    wix = WixSettings(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url,
                      retries=0)
    options: dict[str, Any] = {"policies": shipped_policies(), "wix": wix, "clock": clock,
                               "token_pattern": EMULATOR_TOKENS, "metrics": metrics}
    app = Starlette(
        routes=[Route("/booking-form", _checkout_page, methods=["GET", "POST"]),
                Route("/metrics", metrics_app(metrics, token=METRICS_TOKEN))],
        # Starlette's factory protocol rejects the class under mypy (as in
        # test_gate_lifecycle.py); it is the documented way to mount the gate.
        middleware=[Middleware(BookingGate, **options)],  # type: ignore[arg-type]
    )
    token = {"Authorization": emulator.token("fay")}
    with run_server(app) as url:
        assert httpx.get(url + CHECKOUT, headers=token).text == "checkout page"
        assert httpx.get(url + CHECKOUT, headers=token).text == "checkout page"
        pilates = httpx.get(url + f"/booking-form?bookings_serviceId={PILATES}", headers=token)
        assert pilates.status_code == 303
        assert httpx.get(url + "/metrics").status_code == 401
        samples = scrape(url)
    assert series(samples, "booking_gate_decisions_total", "outcome", "rule") == {
        ("allow", "(default)"): 2, ("redirect", "not-in-plan"): 1}
    assert sum(series(samples, "booking_gate_decision_seconds_count", "cached").values()) == 3
    assert upstream_by_route(samples) == emulator_calls(emulator)
    assert emulator_calls(emulator)["POST /oauth2/token-info"] == 1


def test_one_metrics_object_serves_one_gate(emulator: Emulator) -> None:
    metrics = GateMetrics()
    wix = WixSettings(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url)
    first = BookingGate(CHECKOUT_APP, policies=shipped_policies(), wix=wix, metrics=metrics)
    assert first.problem is None
    second = BookingGate(CHECKOUT_APP, policies=shipped_policies(), wix=wix, metrics=metrics)
    assert isinstance(second.problem, ConfigError)
    assert "its own GateMetrics()" in str(second.problem)


def test_budget_and_breaker_refusals_are_counted(emulator: Emulator, clock: FakeClock) -> None:
    """A call the budget or the breaker stops is counted, and never reaches Wix."""
    metrics = GateMetrics()

    async def run() -> None:
        budget = WixClient(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url,
                           retries=0, budget=UpstreamBudget(limit=1, clock=clock),
                           on_response=metrics.count_upstream)
        await budget.query_items([YOGA])
        with pytest.raises(UpstreamBudgetSpent):
            await budget.query_items([YOGA])
        await budget.aclose()
        emulator.fault("POST /benefit-programs/v1/pools/query", status=503, times=1)
        breaker = WixClient(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url,
                            retries=0, breaker=CircuitBreaker(threshold=1, clock=clock),
                            on_response=metrics.count_upstream)
        for _ in range(2):
            with pytest.raises(UpstreamUnavailable):
                await breaker.query_pools([emulator.members["ana"]])
        await breaker.aclose()

    asyncio.run(run())
    samples = parse(_text(metrics))
    assert series(samples, "booking_gate_upstream_requests_total", "endpoint", "status") == {
        ("items/query", "200"): 1, ("items/query", "budget"): 1,
        ("pools/query", "503"): 1, ("pools/query", "breaker_open"): 1,
    }
    assert emulator_calls(emulator) == Counter({ROUTES["items/query"]: 1,
                                                ROUTES["pools/query"]: 1})


def test_a_timeout_is_counted_as_such(emulator: Emulator) -> None:
    metrics = GateMetrics()
    emulator.fault(ROUTES["items/query"], delay=1.0)  # held longer than the client waits

    async def run() -> None:
        client = WixClient(api_key=emulator.api_key, site_id=SITE_ID, base_url=emulator.url,
                           retries=0, timeout=0.05, on_response=metrics.count_upstream)
        with pytest.raises(UpstreamUnavailable, match="timed out"):
            await client.query_items([YOGA])
        await client.aclose()

    asyncio.run(run())
    assert series(parse(_text(metrics)), "booking_gate_upstream_requests_total", "endpoint",
                  "status") == {("items/query", "timeout"): 1}


def _text(metrics: GateMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def _event(decision: Decision, elapsed: float, *, cached: bool = False) -> DecisionEvent:
    return DecisionEvent(decision, "svc", "/booking-form", "GET", None, elapsed, cached)


def test_latency_buckets_are_cumulative_and_exact() -> None:
    metrics = GateMetrics(buckets=(0.001, 0.01, 0.1))
    allow = Decision(Outcome("allow", 200), "(default)", "v1", data="fresh")
    for elapsed, cached in ((0.0005, True), (0.001, True), (0.002, False), (0.05, False),
                            (0.5, False)):
        metrics.observe(_event(allow, elapsed, cached=cached))
    buckets = series(parse(_text(metrics)), "booking_gate_decision_seconds_bucket",
                     "cached", "le")
    assert buckets == {
        ("true", "0.001"): 2, ("true", "0.01"): 2, ("true", "0.1"): 2, ("true", "+Inf"): 2,
        ("false", "0.001"): 0, ("false", "0.01"): 1, ("false", "0.1"): 2,
        ("false", "+Inf"): 3,
    }
    sums = series(parse(_text(metrics)), "booking_gate_decision_seconds_sum", "cached")
    assert sums == {("true",): pytest.approx(0.0015), ("false",): pytest.approx(0.552)}


def test_error_kinds_stay_a_fixed_set() -> None:
    """A kind the gate does not know (a bug) is counted as ``other``: never a new label."""
    metrics = GateMetrics()
    failed = Outcome("deny", 503)
    for error, cause in (("upstream_budget: spent", "identity"),
                         ("rule 'x' could not be evaluated: no", "rule"),
                         ("made up by a bug: 123", "config")):
        metrics.observe(_event(Decision(failed, "(on_error)", "v1", error=error, cause=cause),
                               0.001))
    assert series(parse(_text(metrics)), "booking_gate_decision_errors_total",
                  "cause", "kind") == {("identity", "upstream_budget"): 1,
                                       ("rule", "rule_error"): 1, ("config", "other"): 1}


def test_redis_up_is_read_at_scrape_time() -> None:
    answers = iter([True, False])
    metrics = GateMetrics(redis_up=lambda: next(answers))
    assert series(parse(_text(metrics)), "booking_gate_redis_up") == {(): 1}
    assert series(parse(_text(metrics)), "booking_gate_redis_up") == {(): 0}
    assert series(parse(_text(metrics)), "booking_gate_redis_up") == {(): 0}  # it raised


def test_bad_buckets_are_refused() -> None:
    for buckets in ((), (0.1, 0.1), (-1.0,), (float("inf"),)):
        with pytest.raises(ConfigError, match="buckets"):
            GateMetrics(buckets=buckets)
