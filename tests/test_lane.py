"""The request lane over real HTTP: a checkout seen before is answered from its own bytes only
while everything its decision was made from still stands.

Each test counts the lane's recalls (a wrapper on the core's ``recall``), so that a test whose
point is "the lane must not answer" first shows that the lane had an answer kept and was asked,
and a test whose point is "the lane answers" shows that it did.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import gate.adapters.lane
from gate import BookingGate, SignedCookieResolver, StaticBalanceSource
from gate.adapters.responses import PrivateSend, private_send
from gate.identity import TrustedHeaderResolver
from gate.identity.base import Identity, keeps_answers, resolve_chain_kept
from gate.policy.decision import Decision, Outcome
from gate.policy.shipped import shipped_policies
from gate.tooling.testing import run_server
from tests.conftest import CHECKOUT, CHECKOUT_APP, PILATES, YOGA, Emulator, FakeClock

QUERY = "POST /benefit-programs/v1/balances/query"
TOKEN_INFO = "POST /oauth2/token-info"
ANA_POOL = "54f64ce6-f56e-5d88-bb99-ce8b48813437"
#: The item set of the 10-class pack (ana's) that pays for yoga at one credit.
TEN_CLASS_YOGA_SET = "c4ca881e-3f3b-5506-9135-d756b10163a7"
NEW_SERVICE = "0b9e4a7c-5d21-4c3e-9f6a-2e8d7c1b5a90"
SECRET = "test-session-secret-0123456789"
#: A checkout of a service the static balances price (``service_costs``).
SVC_CHECKOUT = "/booking-form?bookings_serviceId=svc"
AMBIGUOUS = "ambiguous identity, treated as a signed-out visitor"


class Recalls:
    """What the lane's ``core.recall`` answered, one entry a call (None: decide as usual)."""

    def __init__(self, booking_gate: BookingGate, monkeypatch: pytest.MonkeyPatch) -> None:
        self.results: list[Decision | None] = []
        real = booking_gate.core.recall

        def counting(kept: Any) -> Decision | None:
            decision = real(kept)
            self.results.append(decision)
            return decision

        monkeypatch.setattr(booking_gate.core, "recall", counting)

    @property
    def served(self) -> int:
        return sum(result is not None for result in self.results)

    @property
    def asked(self) -> int:
        return len(self.results)


#: (base URL, gate, its recalls counted, ana's token) of a gate started with ``options``.
StartAsAna = Callable[..., tuple[str, BookingGate, Recalls, str]]


@pytest.fixture
def as_ana(
    gated: Callable[..., Any], emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> StartAsAna:
    """Start a Wix gate (``gated``'s options), count its recalls, and sign ana in."""
    def start(**options: Any) -> tuple[str, BookingGate, Recalls, str]:
        url, booking_gate = gated(**options)
        return url, booking_gate, Recalls(booking_gate, monkeypatch), emulator.token("ana")

    return start


def write_policies(folder: Path, rules: str = "") -> Path:
    """The shipped policy in ``folder``, with ``rules`` (a ``rules:`` block) before its own."""
    folder.mkdir(exist_ok=True)
    shipped = (shipped_policies() / "10-checkout.yaml").read_text()
    assert "\nrules:\n" in shipped
    (folder / "10-checkout.yaml").write_text(
        shipped.replace("\nrules:\n", "\n" + rules) if rules else shipped)
    return folder


def get_as(url: str, token: str | None, method: str = "GET", path: str = CHECKOUT,
           **headers: str) -> httpx.Response:
    if token:
        headers["Authorization"] = token
    return httpx.request(method, url + path, headers=headers, follow_redirects=False)


def calls(emulator: Emulator) -> dict[str, int]:
    return dict(emulator.admin.get("/_emulator/calls").json()["calls"])


def without_date(response: httpx.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.multi_items() if k != "date"]


def kept_allow(url: str, token: str, recalls: Recalls, path: str = CHECKOUT) -> None:
    """Make the lane keep ``token``'s allowed checkout, and show that it answers it."""
    for _ in range(2):  # the first looks the token and credits up; the second is kept
        assert get_as(url, token, path=path).status_code == 200
    served = recalls.served
    assert get_as(url, token, path=path).status_code == 200
    assert recalls.served == served + 1, "the lane did not answer the kept checkout"


@pytest.fixture
def serve_static(
    balances: Path, clock: FakeClock
) -> Iterator[Callable[..., tuple[str, BookingGate]]]:
    """A gate over the static balances with the resolvers given, served on 127.0.0.1."""
    contexts: list[Any] = []

    def start(*resolvers: object) -> tuple[str, BookingGate]:
        booking_gate = BookingGate(
            CHECKOUT_APP, policies=shipped_policies(), reload_interval=None,
            resolvers=list(resolvers), source=StaticBalanceSource(balances, clock=clock),
            service_costs={"svc": "1"}, clock=clock,
        )
        context = run_server(booking_gate)
        contexts.append(context)
        return context.__enter__(), booking_gate

    yield start
    for context in reversed(contexts):
        context.__exit__(None, None, None)


def test_a_checkout_seen_before_is_answered_by_the_lane_as_it_was_decided(
    as_ana: StartAsAna, emulator: Emulator
) -> None:
    url, booking_gate, recalls, token = as_ana()
    first = get_as(url, token)
    assert first.status_code == 200
    assert len(booking_gate._lane) == 0  # looked up the slow way: nothing to keep yet
    second = get_as(url, token)
    assert len(booking_gate._lane) == 1
    assert recalls.served == 0
    before = calls(emulator)
    third = get_as(url, token)
    assert recalls.served == 1
    assert third.status_code == second.status_code == 200
    assert third.text == "checkout page"
    assert third.headers["x-gate-data"] == "fresh"
    assert third.headers["cache-control"] == "private, no-store"
    assert third.headers["vary"] == "Cookie, Authorization"
    assert without_date(third) == without_date(second)
    assert calls(emulator) == before  # not a single call to Wix


def test_a_kept_allow_is_not_served_after_the_member_is_invalidated(
    as_ana: StartAsAna, emulator: Emulator
) -> None:
    url, booking_gate, recalls, token = as_ana()
    kept_allow(url, token, recalls)
    emulator.set_balance(ANA_POOL, available="0")
    asyncio.run(booking_gate.invalidate(emulator.members["ana"]))
    asked, served = recalls.asked, recalls.served
    response = get_as(url, token)
    assert (response.status_code, response.headers.get("x-gate-rule")) == (303, "no-credits")
    assert (recalls.asked, recalls.served) == (asked + 1, served)
    assert emulator.calls(QUERY) == 2


def test_a_kept_allow_is_served_within_the_cache_ttl_and_not_after_it(
    as_ana: StartAsAna, emulator: Emulator, clock: FakeClock,
) -> None:
    url, _, recalls, token = as_ana(cache_ttl=30, stale_while_revalidate=0)
    kept_allow(url, token, recalls)
    emulator.set_balance(ANA_POOL, available="0")
    clock.advance(29)
    served = recalls.served
    within = get_as(url, token)
    assert (within.status_code, within.headers["x-gate-data"]) == (200, "fresh")
    assert recalls.served == served + 1  # still the lane's: the credits are still fresh
    assert emulator.calls(QUERY) == 1
    clock.advance(2)
    asked = recalls.asked
    after = get_as(url, token)
    assert (after.status_code, after.headers.get("x-gate-rule")) == (303, "no-credits")
    assert (recalls.asked, recalls.served) == (asked + 1, served + 1)
    assert emulator.calls(QUERY) == 2


def test_a_service_wix_did_not_know_opens_once_the_catalog_is_asked_again(
    as_ana: StartAsAna, emulator: Emulator, clock: FakeClock,
) -> None:
    """An unknown service id is remembered as unknown for 300 s; the credits for an hour.
    Once the catalog forgets it, the lane must not keep sending the member away."""
    url, _, recalls, token = as_ana(cache_ttl=3600, stale_while_revalidate=0)
    path = f"/booking-form?bookings_serviceId={NEW_SERVICE}"
    for _ in range(3):
        unknown = get_as(url, token, path=path)
        assert (unknown.status_code, unknown.headers.get("x-gate-rule")) == (
            303, "unknown-service")
    assert recalls.served == 1
    emulator.admin.post("/_emulator/items", json={
        "id": "5f2c8a61-7b3d-4e9a-8c10-3d6e2f4b7a18", "service": NEW_SERVICE,
        "itemSetId": TEN_CLASS_YOGA_SET}).raise_for_status()
    clock.advance(301)
    asked, served = recalls.asked, recalls.served
    known = get_as(url, token, path=path)
    assert (known.status_code, known.text) == (200, "checkout page")
    assert (recalls.asked, recalls.served) == (asked + 1, served)
    assert emulator.calls(QUERY) == 1  # the credits were still fresh: only the catalog was not


CLOSED_RULE = """rules:
  - name: closed-today
    description: Closed to members for the day.
    when: signed_in
    action: deny
    status: 403
    message: Closed today.
"""


def test_a_new_policy_set_applies_to_the_very_next_kept_request(
    as_ana: StartAsAna, emulator: Emulator,
    tmp_path: Path,
) -> None:
    folder = write_policies(tmp_path / "policies")
    url, booking_gate, recalls, token = as_ana(policies=folder, reload_interval=None)
    kept_allow(url, token, recalls)
    write_policies(folder, CLOSED_RULE)
    result = asyncio.run(booking_gate.reload())
    assert result.ok and result.changed
    asked, served = recalls.asked, recalls.served
    response = get_as(url, token)
    assert (response.status_code, response.headers.get("x-gate-rule")) == (403, "closed-today")
    assert (recalls.asked, recalls.served) == (asked + 1, served)
    assert emulator.calls(QUERY) == 1  # the credits did not change: the policies did


HOLIDAY_RULE = """rules:
  - name: holiday
    when: today == "2026-12-25"
    action: deny
    status: 403
    message: Closed for the holiday.
"""


def test_a_kept_decision_of_rules_that_read_the_date_ends_with_the_day(
    gated: Callable[..., Any], emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Rules that read ``today`` are kept until midnight (the policies' time zone, UTC here),
    not a second longer: the first request of the new day is decided again."""
    folder = write_policies(tmp_path / "policies", HOLIDAY_RULE)
    now = [dt.datetime(2026, 12, 24, 23, 59, 58, tzinfo=dt.UTC)]
    url, booking_gate = gated(policies=folder, reload_interval=None, now=lambda: now[0])
    assert booking_gate.policies.reads_today
    recalls = Recalls(booking_gate, monkeypatch)
    token = emulator.token("ana")
    kept_allow(url, token, recalls)  # 24 December: allowed, and kept
    now[0] = dt.datetime(2026, 12, 25, 0, 0, 0, tzinfo=dt.UTC)
    asked, served = recalls.asked, recalls.served
    response = get_as(url, token)
    assert (response.status_code, response.headers.get("x-gate-rule")) == (403, "holiday")
    assert (recalls.asked, recalls.served) == (asked + 1, served)
    again = get_as(url, token)  # the new day's answer is kept in turn
    assert (again.status_code, recalls.served) == (403, served + 1)


def test_a_token_the_gate_no_longer_remembers_is_looked_up_again_not_answered_by_the_lane(
    gated: Callable[..., Any], emulator: Emulator, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A token is remembered until it expires (here in 60 s); the credits for an hour. Past
    the token's expiry only the token is unknown: the lane must let it be asked about."""
    url, booking_gate = gated(cache_ttl=3600, stale_while_revalidate=0)
    recalls = Recalls(booking_gate, monkeypatch)
    minted = emulator.admin.post("/_emulator/tokens", json={"member": "ana", "expiresIn": 60})
    token = minted.raise_for_status().json()["access_token"]
    kept_allow(url, token, recalls)
    assert emulator.calls(TOKEN_INFO) == 1
    clock.advance(61)  # past the token's lifetime in the gate's cache (its real one is not)
    asked, served = recalls.asked, recalls.served
    response = get_as(url, token)
    assert response.status_code == 200
    assert emulator.calls(TOKEN_INFO) == 2  # asked again, not answered from the lane
    assert (recalls.asked, recalls.served) == (asked + 1, served)
    assert emulator.calls(QUERY) == 1  # the credits were still fresh: only the token was not


def test_a_kept_allow_is_not_served_once_the_member_holds_their_last_credit(
    as_ana: StartAsAna, emulator: Emulator
) -> None:
    emulator.set_balance(ANA_POOL, available="1")
    url, booking_gate, recalls, token = as_ana(stale_while_revalidate=0)
    kept_allow(url, token, recalls)
    assert get_as(url, token, "POST").status_code == 200  # the submission holds the credit
    assert len(booking_gate.core.holds) == 1
    asked, served = recalls.asked, recalls.served
    response = get_as(url, token)
    assert (response.status_code, response.headers.get("x-gate-rule")) == (303, "no-credits")
    assert (recalls.asked, recalls.served) == (asked + 1, served)
    assert emulator.calls(QUERY) == 1  # the same credits, less the hold


def test_different_credentials_never_share_a_kept_decision(
    gated: Callable[..., Any], emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, booking_gate = gated()
    recalls = Recalls(booking_gate, monkeypatch)
    ana, ben = emulator.token("ana"), emulator.token("ben")
    for _ in range(4):
        allowed = get_as(url, ana)
        assert (allowed.status_code, allowed.text) == (200, "checkout page")
        refused = get_as(url, ben)
        assert (refused.status_code, refused.headers.get("x-gate-rule")) == (303, "no-credits")
    assert recalls.served >= 4  # both answers came from the lane, each to its own member
    assert len(booking_gate._lane) == 2
    caplog.set_level(logging.WARNING, logger="booking_gate.identity")
    for order in ([ana, ben], [ben, ana], [ana, ben], [ben, ana]):
        both = httpx.get(url + CHECKOUT, headers=[("Authorization", t) for t in order],
                         follow_redirects=False)
        assert (both.status_code, both.headers.get("x-gate-rule")) == (303, "sign-in-first")
    # Each of them was resolved (and its ambiguity logged), none answered from the lane.
    assert caplog.text.count(AMBIGUOUS) == 4
    assert len(booking_gate._lane) == 2  # an ambiguous identity is never kept
    assert get_as(url, ana).status_code == 200
    assert get_as(url, ben).headers["x-gate-rule"] == "no-credits"


def test_one_member_s_checkouts_of_two_services_each_get_their_own_kept_answer(
    gated: Callable[..., Any], emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fay's yoga-only plan pays for yoga, not pilates: the service is in the query."""
    url, booking_gate = gated()
    recalls = Recalls(booking_gate, monkeypatch)
    token = emulator.token("fay")
    pilates = f"/booking-form?bookings_serviceId={PILATES}"
    for _ in range(4):
        assert get_as(url, token).status_code == 200
        refused = get_as(url, token, path=pilates)
        assert (refused.status_code, refused.headers.get("x-gate-rule")) == (303, "not-in-plan")
    assert recalls.served >= 4
    assert len(booking_gate._lane) == 2


def test_a_trusted_proxy_header_sent_twice_is_refused_and_logged_every_time(
    serve_static: Callable[..., tuple[str, BookingGate]], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, booking_gate = serve_static(TrustedHeaderResolver(trusted_proxies=["127.0.0.1"]))
    recalls = Recalls(booking_gate, monkeypatch)
    # A visitor's checkout (no header) and the member's are both kept and answered by the lane.
    for _ in range(3):
        visitor = httpx.get(url + SVC_CHECKOUT, follow_redirects=False)
        assert visitor.headers["x-gate-rule"] == "sign-in-first"
        member = httpx.get(url + SVC_CHECKOUT, headers={"X-Member-Id": "m-rich"})
        assert member.status_code == 200
    assert recalls.served == 3  # the visitor's second and third, the member's third
    caplog.set_level(logging.WARNING, logger="booking_gate.identity")
    asked, served = recalls.asked, recalls.served
    for _ in range(3):
        twice = httpx.get(url + SVC_CHECKOUT, follow_redirects=False,
                          headers=[("X-Member-Id", "m-rich"), ("X-Member-Id", "m-rich")])
        assert (twice.status_code, twice.headers.get("x-gate-rule")) == (303, "sign-in-first")
    assert caplog.text.count(AMBIGUOUS) == 3
    assert "more than one x-member-id header" in caplog.text
    assert (recalls.asked, recalls.served) == (asked, served)  # never even looked up


@dataclass
class CookieGate:
    """A static gate reading a signed session cookie (max_age 60 s), with the wall clock moved
    by ``offset[0]`` seconds, as itsdangerous and the resolver read it."""

    url: str
    recalls: Recalls
    cookie: dict[str, str]
    offset: list[float]


@pytest.fixture
def cookie_gate(
    serve_static: Callable[..., tuple[str, BookingGate]], monkeypatch: pytest.MonkeyPatch
) -> CookieGate:
    resolver = SignedCookieResolver(secret=SECRET, max_age=60)
    url, booking_gate = serve_static(resolver)
    real_time = time.time
    offset = [0.0]
    monkeypatch.setattr(time, "time", lambda: real_time() + offset[0])
    return CookieGate(url, Recalls(booking_gate, monkeypatch),
                      {"Cookie": f"gate_session={resolver.sign('m-rich')}"}, offset)


def test_a_kept_allow_for_a_signed_cookie_ends_when_the_cookie_is_max_age_old(
    cookie_gate: CookieGate,
) -> None:
    url, recalls, cookie, offset = (cookie_gate.url, cookie_gate.recalls, cookie_gate.cookie,
                                    cookie_gate.offset)
    for _ in range(2):
        assert httpx.get(url + SVC_CHECKOUT, headers=cookie).status_code == 200
    served = recalls.served
    offset[0] = 30.0
    within = httpx.get(url + SVC_CHECKOUT, headers=cookie)
    assert (within.status_code, within.text) == (200, "checkout page")
    assert recalls.served == served + 1  # still the lane's: the cookie is 30 s old
    offset[0] = 62.0
    asked = recalls.asked
    expired = httpx.get(url + SVC_CHECKOUT, headers=cookie, follow_redirects=False)
    assert (expired.status_code, expired.headers.get("x-gate-rule")) == (303, "sign-in-first")
    assert (recalls.asked, recalls.served) == (asked + 1, served + 1)


def test_the_lane_stays_bounded_and_keeps_no_token(
    gated: Callable[..., Any], emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gate.adapters.lane, "MAX_KEPT", 8)
    url, booking_gate = gated(token_cookie="wix_member_token")
    tokens = [emulator.token(member) for member in ("ana", "eve", "fay")]
    cookie = emulator.token("ana")
    sizes = []
    for index in range(30):
        token = tokens[index % 3]
        path = f"{CHECKOUT}&visit={index}"
        assert get_as(url, token, path=path).status_code == 200
        assert get_as(url, None, path=path, Cookie=f"wix_member_token={cookie}").status_code \
            == 200
        sizes.append(len(booking_gate._lane))
    assert max(sizes) == 8  # it filled up (so the checkouts were kept) and never grew past it
    assert all(size <= 8 for size in sizes)
    lane = booking_gate._lane
    assert lane is not None
    # The keys, the kept decisions and what their checks hold on to: the tables they watch
    # (the token cache among them) and what each check's closure holds.
    cells = [cell.cell_contents for kept_one, _ in lane._kept.values()
             for check in kept_one.checks for cell in getattr(check, "__closure__", ()) or ()]
    kept = repr((list(lane._kept.items()), cells)).encode() + b"".join(
        part for key in lane._kept for part in key if isinstance(part, bytes))
    assert b"wix-token" in kept  # the Wix token cache's entries are there to be searched
    for secret in (*tokens, cookie):
        assert secret.encode() not in kept


def test_a_kept_signed_cookie_allow_follows_itsdangerous_when_the_clock_steps_back(
    cookie_gate: CookieGate,
) -> None:
    """itsdangerous refuses a cookie signed "in the future" (the wall clock stepped back): a
    kept allow must stop being served then too, as a fresh decision would."""
    url, recalls, cookie, offset = (cookie_gate.url, cookie_gate.recalls, cookie_gate.cookie,
                                    cookie_gate.offset)
    for _ in range(3):
        assert httpx.get(url + SVC_CHECKOUT, headers=cookie).status_code == 200
    assert recalls.served == 1
    offset[0] = -5.0
    unkept = httpx.get(url + SVC_CHECKOUT + "&other=1", headers=cookie, follow_redirects=False)
    assert unkept.headers.get("x-gate-rule") == "sign-in-first"
    kept = httpx.get(url + SVC_CHECKOUT, headers=cookie, follow_redirects=False)
    assert (kept.status_code, kept.headers.get("x-gate-rule")) == (303, "sign-in-first")


def test_a_checkout_that_names_no_service_is_answered_by_the_lane_too(as_ana: StartAsAna) -> None:
    """The catalog gives one object for "no service": a kept refusal of it can be given again
    (a new object each time would make every such request decide and be kept again)."""
    url, _, recalls, token = as_ana()
    answers = [get_as(url, token, path="/booking-form") for _ in range(4)]
    assert {(r.status_code, r.headers.get("x-gate-rule")) for r in answers} == {
        (answers[0].status_code, "unknown-service")}
    assert recalls.served == 2  # the 3rd and the 4th


class Revocable(SignedCookieResolver):
    """A site's own rule on top of the cookie: one member is signed out, whatever it says."""

    def resolve_now(self, scope: Any) -> Identity | None:
        found = super().resolve_now(scope)
        return Identity(None, self.name) if found and found.member_id == "m-rich" else found


def test_a_resolver_whose_resolve_now_is_its_own_is_never_bypassed() -> None:
    """A subclass that overrides ``resolve_now`` alone is asked through it: no lane, and the
    kept-answer path falls back to it too."""
    resolver = Revocable(secret=SECRET, max_age=60)
    assert not keeps_answers(resolver)
    assert gate.adapters.lane.Lane.over([resolver], strips=False) is None
    assert keeps_answers(SignedCookieResolver(secret=SECRET, max_age=60))
    cookie = f"gate_session={resolver.sign('m-rich')}".encode()
    scope = {"type": "http", "headers": [(b"cookie", cookie)], "client": ("127.0.0.1", 1)}
    identity, still = resolve_chain_kept([resolver], scope)
    assert isinstance(identity, Identity) and identity.member_id is None
    assert still is None


def test_an_allowed_checkout_s_send_is_still_a_coroutine_function() -> None:
    """asgiref's WsgiToAsgi (Flask, WSGI Django) warns on a send that is not one (it checks
    the callable, then its ``__call__``); others check the callable alone. ``inspect`` sees the
    mark from 3.12, ``asyncio`` before."""
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    check = inspect.iscoroutinefunction if sys.version_info >= (3, 12) \
        else asyncio.iscoroutinefunction
    allowed = Decision(Outcome("allow", 200), "(default)", "v")
    wrapped = private_send(send, PrivateSend().extra(allowed))
    assert check(wrapped) and check(wrapped.__call__)
    asyncio.run(wrapped({"type": "http.response.start", "status": 200,  # type: ignore[arg-type]
                         "headers": [(b"cache-control", b"max-age=60")]}))
    assert (b"cache-control", b"private, no-store") in sent[0]["headers"]
    assert (b"cache-control", b"max-age=60") not in sent[0]["headers"]


def test_a_naive_clock_with_rules_that_read_the_date_is_decided_each_time(
    gated: Callable[..., Any], emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A clock without a time zone cannot be compared with a day's end: never kept, never a
    500."""
    folder = write_policies(tmp_path / "policies", HOLIDAY_RULE)
    url, booking_gate = gated(policies=folder, reload_interval=None,
                              now=lambda: dt.datetime(2026, 12, 24, 12))
    token = emulator.token("ana")
    assert [get_as(url, token).status_code for _ in range(4)] == [200] * 4
    assert len(booking_gate._lane) == 0


def test_a_long_query_is_decided_but_not_kept(
    gated: Callable[..., Any], emulator: Emulator
) -> None:
    url, booking_gate = gated()
    token = emulator.token("ana")
    long_path = CHECKOUT + "&utm=" + "x" * gate.adapters.lane.MAX_KEY_TEXT
    assert [get_as(url, token, path=long_path).status_code for _ in range(3)] == [200] * 3
    assert len(booking_gate._lane) == 0
    assert [get_as(url, token).status_code for _ in range(2)] == [200] * 2
    assert len(booking_gate._lane) == 1  # the short one is


def test_a_service_the_static_source_does_not_price_is_answered_by_the_lane(
    serve_static: Callable[..., tuple[str, BookingGate]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its price is equal each time (a new object each time): the kept refusal stands."""
    url, booking_gate = serve_static(TrustedHeaderResolver(trusted_proxies=["127.0.0.1"]))
    recalls = Recalls(booking_gate, monkeypatch)
    headers = {"X-Member-Id": "m-rich"}
    path = "/booking-form?bookings_serviceId=not-priced"
    answers = [httpx.get(url + path, headers=headers) for _ in range(3)]
    assert {(r.status_code, r.headers.get("x-gate-rule")) for r in answers} == {
        (answers[0].status_code, "unknown-service")}
    assert recalls.served == 1


def test_what_was_kept_under_an_older_policy_set_is_let_go(
    gated: Callable[..., Any], emulator: Emulator, tmp_path: Path,
) -> None:
    """An old set's compiled rules must not stay in memory through the lane's entries."""
    folder = write_policies(tmp_path / "policies")
    url, booking_gate = gated(policies=folder, reload_interval=None)
    token = emulator.token("ana")
    for visit in range(3):
        for _ in range(2):
            get_as(url, token, path=f"{CHECKOUT}&visit={visit}")
    assert len(booking_gate._lane) == 3
    write_policies(folder, CLOSED_RULE)
    assert asyncio.run(booking_gate.reload()).changed
    get_as(url, token)
    lane = booking_gate._lane
    assert lane is not None and len(lane) == 1
    assert all(kept.policies is booking_gate.policies for kept, _ in lane._kept.values())


def test_a_kept_refusal_is_sent_as_each_accept_header_asked_for_it(
    as_ana: StartAsAna, tmp_path: Path,
) -> None:
    """The lane keeps a refusal's page with the decision: a request asking for JSON must not
    get the HTML page kept for a browser (nor the other way round)."""
    folder = write_policies(tmp_path / "policies", CLOSED_RULE)
    url, _, recalls, token = as_ana(policies=folder, reload_interval=None)
    html, json = {"Accept": "text/html"}, {"Accept": "application/json"}
    for _ in range(2):
        for accept in (html, json):
            assert get_as(url, token, **accept).status_code == 403
    served = recalls.served
    as_html, as_json = get_as(url, token, **html), get_as(url, token, **json)
    assert recalls.served == served + 2
    assert as_html.headers["content-type"].startswith("text/html")
    assert "Closed today." in as_html.text
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json()["rule"] == "closed-today"
    assert as_json.json()["message"] == "Closed today."


def test_a_kept_checkout_on_a_host_not_allowed_gets_the_400(as_ana: StartAsAna) -> None:
    url, _, recalls, token = as_ana(allowed_hosts=["127.0.0.1"])
    kept_allow(url, token, recalls)
    served = recalls.served
    response = get_as(url, token, Host="studio.example")
    assert (response.status_code, response.headers["x-gate-rule"]) == (400, "(bad-host)")
    assert recalls.served == served


def test_a_page_next_to_a_kept_checkout_is_never_answered_by_the_lane(
    as_ana: StartAsAna,
) -> None:
    """Only a kept request's own path is looked up: the same credentials on another page go
    to the app without the lane's lookup (the app here knows no such page: its 404)."""
    url, booking_gate, recalls, token = as_ana()
    kept_allow(url, token, recalls)
    lane = booking_gate._lane
    assert lane is not None and lane.paths == {CHECKOUT.partition("?")[0]}
    asked = recalls.asked
    response = get_as(url, token, path="/book-online")
    assert response.status_code == 404 and "x-gate-data" not in response.headers
    assert recalls.asked == asked  # a page that is not kept costs no lookup at all


@pytest.mark.parametrize("length", [17, 1200], ids=["short", "wix-sized"])
def test_lane_keys_tell_credentials_apart_by_digest_alone(length: int) -> None:
    """A key tells any two lists of credential headers apart (names, order, where one value
    ends), and none holds a credential's text."""
    lane = gate.adapters.lane.Lane(frozenset({b"authorization", b"cookie"}), client=False)

    def key(*headers: tuple[bytes, bytes]) -> Any:
        return lane.key({"type": "http", "method": "GET", "path": "/book", "query_string": b"",
                         "root_path": "", "headers": [(b"host", b"a"), *headers]})

    token = b"t" * (length - 1)
    one, other = token + b"1", token + b"2"
    assert key((b"authorization", one)) == key((b"authorization", one))
    keys = [
        key((b"authorization", one)), key((b"authorization", other)), key((b"cookie", one)),
        key((b"authorization", one), (b"authorization", one)),
        key((b"authorization", one), (b"cookie", other)),
        key((b"authorization", one[:-1]), (b"cookie", b"1" + other)),
        key((b"authorization", one), (b"accept", b"application/json")),
        key(),
    ]
    assert len(set(keys)) == len(keys)
    assert not any(token[:16] in repr(k).encode() for k in keys)


def test_each_recalled_checkout_writes_its_own_decision_line(
    as_ana: StartAsAna, caplog: pytest.LogCaptureFixture
) -> None:
    """A kept decision queues its own line (``Kept.line``): one per request, each with its
    own time, the text of a decided one; none once the level is off, and still answered."""
    url, booking_gate, recalls, token = as_ana()
    caplog.set_level(logging.INFO, logger="booking_gate.decision")
    kept_allow(url, token, recalls)  # two decided, one recalled
    for _ in range(2):
        assert get_as(url, token).status_code == 200
    assert recalls.served == 3
    booking_gate.core.lines.flush()
    lines = [r for r in caplog.records if r.name == "booking_gate.decision"]
    assert len(lines) == 5
    assert len({r.getMessage() for r in lines}) == 1
    assert lines[0].getMessage().startswith("decision action=allow ")
    assert f"service={YOGA!r} path='/booking-form'" in lines[0].getMessage()
    assert len({id(r) for r in lines}) == 5
    assert [r.created for r in lines] == sorted(r.created for r in lines)
    caplog.set_level(logging.WARNING, logger="booking_gate.decision")
    assert get_as(url, token).status_code == 200
    assert recalls.served == 4
    booking_gate.core.lines.flush()
    assert len([r for r in caplog.records if r.name == "booking_gate.decision"]) == 5
