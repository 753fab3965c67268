"""Real reverse proxies in front of the gate and a site: allow, redirect and deny, end to end.

nginx (``auth_request``) and Caddy (``forward_auth``) run as the Debian packages' binaries,
configured from docs/proxies/nginx.conf and docs/proxies/Caddyfile, the files the guide
shows. Traefik is not in Debian: its column runs the same cases through its forwardAuth
wire contract (tests/proxies/traefik.py), configured from docs/proxies/traefik.yml.

The gate is the service app (``create_service``) on uvicorn, wrapped in a recorder so every
test can show that the proxy really asked it, and what it sent. The site behind the proxy
echoes the ``X-Gate-Member`` it received. A missing binary skips locally and fails under
CI=true (see ``require_binary``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote

import pytest
from pydantic import SecretStr

from gate.adapters.service import create_service
from gate.config.settings import GateSettings
from gate.policy.shipped import shipped_policies
from gate.tooling.demo.site import DEMO_PAGES
from gate.tooling.emulator import TOKEN_PATTERN
from gate.tooling.testing import run_server
from tests.conftest import SITE_ID, YOGA, Emulator
from tests.proxies.harness import (
    ROOT,
    Answer,
    Recorder,
    Seen,
    echo_app,
    exchange,
    free_port,
    render,
    require_binary,
    run_caddy,
    run_nginx,
    template,
    under_ci,
)
from tests.proxies.traefik import FORWARD_REQUEST_HEADERS, ForwardAuth, TraefikContract
from tests.serving import API_SECRET

CHECKOUT = f"/booking-form?bookings_serviceId={YOGA}"
PAUSED = "Your plan is paused. Resume it from your account to book again."
GUIDE = ROOT / "docs" / "proxies.md"
BALANCES = "POST /benefit-programs/v1/balances/query"
#: The header only the proxy puts on its question to the gate: proof the proxy asked.
ASKED_WITH = {"nginx": "x-original-uri", "caddy": "x-forwarded-uri",
              "traefik": "x-forwarded-uri"}
#: The cookie the gates here also read a member token from (BOOKING_GATE_TOKEN_COOKIE).
TOKEN_COOKIE = "wix_member_token"
#: The host name visitors use in the Traefik contract (its router rule needs one).
TRAEFIK_HOST = "shop.example"


class Entry(Protocol):
    """Where a visitor's request goes in: a real proxy, or Traefik's contract."""

    @property
    def name(self) -> str: ...

    def send(self, method: str, target: str, headers: dict[str, str],
             body: bytes = b"") -> Answer: ...


@dataclass(frozen=True)
class RealProxy:
    name: str
    netloc: str

    def send(self, method: str, target: str, headers: dict[str, str],
             body: bytes = b"") -> Answer:
        return exchange(self.netloc, method, target, headers, body)


@dataclass(frozen=True)
class Server:
    url: str
    recorder: Recorder

    @property
    def netloc(self) -> str:
        return self.url.removeprefix("http://")


@contextlib.contextmanager
def start_gate(emulator_url: str, api_key: str) -> Iterator[Server]:
    """The service app on uvicorn, recorded. Each proxy gets its own: caches and the credits
    held for POSTs that went through never carry over from one proxy's tests to another's."""
    settings = GateSettings(
        wix_api_key=SecretStr(api_key), wix_site_id=SITE_ID, wix_base_url=emulator_url,
        wix_retries=0, api_secret=SecretStr(API_SECRET),
        policies=[shipped_policies(), DEMO_PAGES],  # the demo studio signs in at /demo/login
        reload_interval=None, token_cookie=TOKEN_COOKIE,
    )
    recorder = Recorder(create_service(settings, token_pattern=TOKEN_PATTERN))
    with run_server(recorder) as gate_url:
        yield Server(gate_url, recorder)


@pytest.fixture(scope="module")
def site() -> Iterator[Server]:
    recorder = Recorder(echo_app)
    with run_server(recorder, lifespan="off") as url:
        yield Server(url, recorder)


@contextlib.contextmanager
def start(name: str, workdir: Path, gate: str, app: str) -> Iterator[Entry]:
    """The proxy ``name`` on a free port, configured from its docs/proxies template."""
    if name == "traefik":
        config = render("traefik.yml", HOST=TRAEFIK_HOST, GATE=gate, APP=app)
        yield TraefikContract(ForwardAuth.from_yaml(config, "booking-gate"), app, TRAEFIK_HOST)
        return
    binary = require_binary(name)
    port = free_port()
    if name == "nginx":
        site = render("nginx.conf", LISTEN=f"127.0.0.1:{port}", SERVER_NAME="localhost",
                      GATE=gate, APP=app)
        running = run_nginx(binary, workdir, site, port)
    else:
        site = render("Caddyfile", SITE=f"http://127.0.0.1:{port}", GATE=gate, APP=app)
        running = run_caddy(binary, workdir, site, port)
    with running as proxy:
        yield RealProxy(proxy.name, proxy.url.removeprefix("http://"))


@dataclass(frozen=True)
class Column:
    """One proxy of the matrix, and the gate it asks."""

    entry: Entry
    gate: Server


@pytest.fixture(scope="module", params=["nginx", "caddy", "traefik"],
                ids=["nginx", "caddy", "traefik-contract"])
def column(
    request: pytest.FixtureRequest, emulator_server: tuple[str, str], site: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Column]:
    name = str(request.param)
    with contextlib.ExitStack() as stack:
        gate = stack.enter_context(start_gate(*emulator_server))
        entry = stack.enter_context(
            start(name, tmp_path_factory.mktemp(name), gate.netloc, site.netloc))
        yield Column(entry, gate)


@dataclass
class Through:
    """A visitor's view through one proxy, and what the gate and the site saw."""

    entry: Entry
    gate: Recorder
    site: Recorder
    emulator: Emulator

    @property
    def proxy(self) -> str:
        return self.entry.name

    def send(self, target: str, *, member: str | None = None, method: str = "GET",
             headers: dict[str, str] | None = None, body: bytes = b"") -> Answer:
        sent = dict(headers or {})
        if member is not None:
            sent["Authorization"] = self.emulator.token(member)
        return self.entry.send(method, target, sent, body)

    def asked(self) -> list[str]:
        """The gate paths the proxy asked, in order."""
        return [seen.path for seen in self.gate.seen]

    def questions(self) -> list[Seen]:
        return list(self.gate.seen)

    def reached(self) -> list[Seen]:
        return list(self.site.seen)

    def wix_calls(self) -> int:
        calls = self.emulator.admin.get("/_emulator/calls").json()["calls"]
        return sum(int(n) for n in calls.values())


@pytest.fixture
def through(column: Column, site: Server, emulator: Emulator) -> Iterator[Through]:
    entry, gate = column.entry, column.gate
    gate.recorder.clear()
    site.recorder.clear()
    yield Through(entry, gate.recorder, site.recorder, emulator)
    # Every test here went through the proxy: the gate got questions only a proxy writes.
    marker = ASKED_WITH[entry.name]
    assert gate.recorder.seen, f"the gate was never asked through {entry.name}"
    assert all(seen.header(marker) for seen in gate.recorder.seen), (
        f"a question reached the gate without {marker}, so not from {entry.name}")


def assert_not_reached(through: Through) -> None:
    assert through.reached() == [], "the site must not see a request the gate stopped"


# -- the matrix ---------------------------------------------------------------------------


def test_a_page_that_is_not_a_checkout_passes_at_once(through: Through) -> None:
    before = through.wix_calls()
    answer = through.send("/classes?day=monday", member="ana")
    assert (answer.status, answer.text) == (200, "other page")
    assert answer.headers["x-echo-member"] == ""
    # One question, answered 200 without a decision (no rule) and without asking Wix.
    [question] = through.questions()
    assert (question.path, question.status) == ("/v1/forward-auth", 200)
    assert "x-gate-rule" not in question.answer
    assert through.wix_calls() == before
    [page] = through.reached()
    assert (page.path, page.query) == ("/classes", "day=monday")


def test_a_member_who_can_book_reaches_the_checkout_named(through: Through) -> None:
    token = through.emulator.token("ana")
    answer = through.send(CHECKOUT, headers={"Authorization": token})
    assert (answer.status, answer.text) == (200, "checkout page")
    assert answer.headers["x-echo-member"] == through.emulator.members["ana"]
    assert through.asked() == ["/v1/forward-auth"]
    [question] = through.questions()
    assert question.header("authorization") == token  # the proxy passed the credentials on
    assert question.answer["x-gate-member"] == through.emulator.members["ana"]
    [checkout] = through.reached()
    assert checkout.header("x-gate-member") == through.emulator.members["ana"]


def test_a_member_signed_in_by_cookie_is_recognised(through: Through) -> None:
    token = through.emulator.token("ana")
    answer = through.send(CHECKOUT, headers={"Cookie": f"theme=dark; {TOKEN_COOKIE}={token}"})
    assert (answer.status, answer.headers["x-echo-member"]) == (
        200, through.emulator.members["ana"])
    [question] = through.questions()
    assert question.header("authorization") is None
    assert token in (question.header("cookie") or "")


def test_a_member_without_credits_is_sent_to_the_plans(through: Through) -> None:
    answer = through.send(CHECKOUT, member="ben")
    assert answer.status == 303
    assert answer.headers["location"] == "/plans-pricing?reason=no-credits"
    assert answer.headers["x-gate-rule"] == "no-credits"
    assert answer.headers["cache-control"] == "no-store"
    assert through.asked() == ["/v1/forward-auth"]
    assert_not_reached(through)


def test_a_paused_plan_gets_the_deny_page(through: Through) -> None:
    answer = through.send(CHECKOUT, member="cleo")
    assert answer.status == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert PAUSED in answer.text
    assert answer.headers["x-gate-rule"] == "plan-paused"
    # nginx's auth_request cannot relay a page: it fetches it with a second question.
    expected = ["/v1/forward-auth"]
    if through.proxy == "nginx":
        expected.append("/v1/forward-auth/render")
    assert through.asked() == expected
    assert_not_reached(through)


def test_a_visitor_is_sent_to_sign_in_and_back(through: Through) -> None:
    answer = through.send(CHECKOUT)
    assert answer.status == 303
    location = answer.headers["location"]
    prefix = "/demo/login?reason=sign-in-required&return_to="
    assert location.startswith(prefix), location
    assert unquote(location.removeprefix(prefix)) == CHECKOUT
    assert answer.headers["x-gate-rule"] == "sign-in-first"
    assert_not_reached(through)


def test_when_wix_fails_the_visitor_gets_the_fail_mode_page(through: Through) -> None:
    through.emulator.fault(BALANCES, status=500, times=None)
    answer = through.send(CHECKOUT, member="eve")
    assert answer.status == 503
    assert answer.headers["retry-after"] == "30"
    assert "Please try again shortly" in answer.text
    assert answer.headers["x-gate-rule"] == "(on_error)"
    assert answer.headers["x-gate-error"] == "upstream_unavailable"
    assert_not_reached(through)


def test_a_trailing_slash_or_a_lowercase_method_is_still_gated(through: Through) -> None:
    slash = f"/booking-form/?bookings_serviceId={YOGA}"
    answer = through.send(slash, member="ben")
    assert (answer.status, answer.headers["location"]) == (
        303, "/plans-pricing?reason=no-credits")
    lower = through.send(CHECKOUT, member="ben", method="post", body=b"slot=1")
    if through.proxy == "nginx":
        # nginx refuses a method that is not upper case itself, before anything is asked.
        assert lower.status == 400
        assert through.asked() == ["/v1/forward-auth"]
    else:
        assert (lower.status, lower.headers["location"]) == (
            303, "/plans-pricing?reason=no-credits")
        assert [q.header("x-forwarded-method") for q in through.questions()] == ["GET", "post"]
    assert_not_reached(through)


# -- beyond the matrix --------------------------------------------------------------------


def test_a_post_is_gated_and_its_body_stays_with_the_proxy(through: Through) -> None:
    allowed = through.send(CHECKOUT, member="ana", method="POST", body=b"slot=monday-9")
    assert (allowed.status, allowed.text) == (200, "checkout page")
    assert allowed.headers["x-echo-method"] == "POST"
    denied = through.send(CHECKOUT, member="cleo", method="POST", body=b"slot=monday-9")
    assert (denied.status, PAUSED in denied.text) == (403, True)
    for question in through.questions():
        assert question.method == "GET", question
        assert question.header("content-length") in (None, "0")
        said = question.header("x-original-method") or question.header("x-forwarded-method")
        assert said == "POST", question
    assert len(through.reached()) == 1


def test_a_visitor_cannot_name_a_member_or_another_page(through: Through) -> None:
    cleo = through.emulator.members["cleo"]
    # A member id sent by the visitor never reaches the site, on any page.
    other = through.send("/classes", headers={"X-Gate-Member": cleo})
    assert other.headers["x-echo-member"] == ""
    ana = through.send(CHECKOUT, member="ana", headers={"X-Gate-Member": cleo})
    assert ana.headers.get("x-echo-member") == through.emulator.members["ana"], ana
    # Forwarding headers sent by the visitor do not change which request the gate judges.
    forged = {"X-Forwarded-Uri": "/", "X-Forwarded-Method": "OPTIONS",
              "X-Original-URI": "/", "X-Original-Method": "OPTIONS"}
    answer = through.send(CHECKOUT, member="ben", headers=forged)
    assert (answer.status, answer.headers.get("location")) == (
        303, "/plans-pricing?reason=no-credits")
    assert len(through.reached()) == 2


def test_an_ambiguous_checkout_never_reaches_the_site(through: Through) -> None:
    """The gate answers 400 to a query naming the service twice; no proxy lets it through."""
    answer = through.send(f"{CHECKOUT}&bookings_serviceId=other", member="ana")
    # auth_request treats any answer but 2xx, 401 and 403 as an error: 500.
    assert answer.status == (500 if through.proxy == "nginx" else 400)
    assert [q.status for q in through.questions()] == [400]
    assert_not_reached(through)


def test_a_checkout_path_with_dot_segments_is_refused(through: Through) -> None:
    # Sent as is: browsers resolve "..", but a script need not, and nginx and Caddy pass the
    # path on unchanged to both the gate and the app. An app that resolves it would serve the
    # checkout, so the gate refuses the path instead of guessing.
    answer = through.send(f"/classes/../booking-form?bookings_serviceId={YOGA}", member="ana")
    assert answer.status == 400


def test_what_each_proxy_tells_the_gate(through: Through) -> None:
    """The headers each proxy really writes; Traefik's are the contract's (its docs)."""
    through.send(CHECKOUT, member="ana", headers={"Accept": "text/html"})
    [question] = through.questions()
    assert question.method == "GET"
    if through.proxy == "nginx":
        assert question.header("x-original-uri") == CHECKOUT
        assert question.header("x-original-method") == "GET"
        assert question.header("x-forwarded-uri") is None
        assert question.header("x-forwarded-method") is None
    else:
        # Caddy sends what Traefik's docs list; the Traefik contract sends exactly that.
        for name in FORWARD_REQUEST_HEADERS:
            assert question.header(name), f"{through.proxy} did not send {name}"
        assert question.header("x-forwarded-uri") == CHECKOUT
        assert question.header("x-forwarded-method") == "GET"
        assert question.header("x-forwarded-proto") == "http"
        assert question.header("x-original-uri") is None
    assert question.header("accept") == "text/html"


@pytest.mark.parametrize("name", ["nginx", "caddy", "traefik"])
def test_when_the_gate_is_down_nothing_gets_through(
    name: str, site: Server, tmp_path: Path
) -> None:
    site.recorder.clear()
    dead = f"127.0.0.1:{free_port()}"
    with start(name, tmp_path, dead, site.netloc) as entry:
        answer = entry.send("GET", CHECKOUT, {})
        other = entry.send("GET", "/classes", {})
    # nginx: auth_request error -> 500; Caddy: upstream unreachable -> 502; Traefik -> 500.
    assert answer.status == {"nginx": 500, "caddy": 502, "traefik": 500}[name]
    assert other.status == answer.status  # fails closed for every page, not just checkouts
    assert site.recorder.seen == []


# -- the guide and its files --------------------------------------------------------------

_FILE_BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<body>.*?)^```$",
                         re.DOTALL | re.MULTILINE)
TEMPLATES = ("nginx.conf", "Caddyfile", "traefik.yml")


def test_the_guide_shows_each_tested_config_in_full() -> None:
    shown = {m["path"]: m["body"] for m in _FILE_BLOCK.finditer(GUIDE.read_text("utf-8"))}
    assert sorted(shown) == sorted(f"docs/proxies/{name}" for name in TEMPLATES)
    for name in TEMPLATES:
        assert shown[f"docs/proxies/{name}"] == template(name), (
            f"the block for docs/proxies/{name} in docs/proxies.md differs from the file")


def test_the_traefik_config_is_the_safe_one() -> None:
    config = ForwardAuth.from_yaml(
        render("traefik.yml", HOST=TRAEFIK_HOST, GATE="gate:8787", APP="app:3000"),
        "booking-gate")
    assert config.address == "http://gate:8787/v1/forward-auth"
    # true would let a visitor's own X-Forwarded-Uri choose the page the gate judges.
    assert config.trust_forward_header is False
    assert config.auth_response_headers == ("X-Gate-Member",)
    assert {"Authorization", "Cookie"} <= set(config.auth_request_headers)


def test_a_missing_proxy_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("tests.proxies.harness._SEARCH", ())
    monkeypatch.setenv("CI", "true")
    assert under_ci()
    with pytest.raises(pytest.fail.Exception, match="under CI"):
        require_binary("nginx")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require_binary("nginx")
