"""The decision log: one JSON line per decision, the inputs the rules saw, off the hot path.

``run_population`` makes a real log by running the decision core (``gate.config.assemble``) over a
varied population: 0 to 5 credits, fractions, paused, pending and ended plans, a yoga-only
plan, two half-credit plans, members without a plan, visitors, a service Wix does not know, a
service with a fixed cost, several paths, GET and POST, and failures before the facts are known
(a balance Wix cannot read, an identity it cannot check). ``tests/test_replay.py`` replays it.
Clocks are injected: no sleeps, no timing assertions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import HTTPConnection

from gate import BookingGate
from gate.cli.replay import open_log, replay
from gate.config.assemble import assemble
from gate.config.settings import GateSettings
from gate.credits.balances import BalanceSnapshot
from gate.data.sources.static import StaticBalanceSource
from gate.errors import ConfigError, UpstreamUnavailable
from gate.identity.base import Identity, resolve_chain
from gate.identity.signed_cookie import SignedCookieResolver
from gate.identity.trusted_header import TrustedHeaderResolver
from gate.observe.decision_log import DecisionLog
from gate.observe.events import DecisionEvent
from gate.observe.records import (
    SCHEMA,
    RecordError,
    decision_from_record,
    facts_from_record,
    parse_record,
    record_from_event,
)
from gate.policy.compiler import load_policies
from gate.policy.decision import Decision, Outcome
from gate.tooling.testing import run_server
from tests.conftest import CHECKOUT_APP, PILATES, SITE_ID, YOGA, Emulator, FakeClock
from tests.serving import API_SECRET, serve, serve_env

SESSION_SECRET = "session-secret-9f3a7c1e5b2d4068a1c3e5f7"
BEARER = "wix-token-must-never-be-logged-6d1f0e2a"
START = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
UNKNOWN_SERVICE = "00000000-0000-4000-8000-0000000000ff"

_YOGA_PILATES = "benefits: [{item_set: yoga-set, price: '1'}, {item_set: pilates-set, price: '2'}]"
BALANCES = f"""
services:
  yoga: [yoga-set]
  pilates: [pilates-set]
members:
  c0: [{{pool: c0-pool, available: "0", plan: ten-pack, {_YOGA_PILATES}}}]
  c1: [{{pool: c1-pool, available: "1", plan: ten-pack, {_YOGA_PILATES}}}]
  c2: [{{pool: c2-pool, available: "2", plan: ten-pack, {_YOGA_PILATES}}}]
  c3: [{{pool: c3-pool, available: "3", reserved: "1", plan: ten-pack, {_YOGA_PILATES}}}]
  c4: [{{pool: c4-pool, available: "4", plan: five-pack, {_YOGA_PILATES}}}]
  c5: [{{pool: c5-pool, available: "5", plan: five-pack, {_YOGA_PILATES}}}]
  pi: [{{pool: pi-pool, available: "3.1415", plan: ten-pack, {_YOGA_PILATES}}}]
  frac: [{{pool: frac-pool, available: "2.5", plan: five-pack, {_YOGA_PILATES}}}]
  halves:
    - {{pool: half-a, available: "0.5", plan: five-pack, {_YOGA_PILATES}}}
    - {{pool: half-b, available: "0.5", plan: five-pack, {_YOGA_PILATES}}}
  paused: [{{pool: paused-pool, available: "5", status: PAUSED, plan: ten-pack, {_YOGA_PILATES}}}]
  pending: [{{pool: pending-pool, available: "5", status: PENDING, {_YOGA_PILATES}}}]
  ended: [{{pool: ended-pool, available: "4", status: ENDED, plan: ten-pack, {_YOGA_PILATES}}}]
  yogaonly: [{{pool: yoga-pool, available: "4", plan: yoga-pack,
               benefits: [{{item_set: yoga-set, price: "1"}}]}}]
  mixed:
    - {{pool: mixed-live, available: "1", plan: yoga-pack, benefits: [{{item_set: yoga-set}}]}}
    - {{pool: mixed-paused, available: "6", status: PAUSED, plan: ten-pack, {_YOGA_PILATES}}}
  nobenefits: [{{pool: plain-pool, available: "2", plan: legacy}}]
"""
#: The studio's rules for these tests: the shipped checkout rules of this release, written out so
#: that an edit to policies/ does not change what the tests expect.
POLICY = """\
apiVersion: booking-gate/v1

rules:
  - name: unknown-service
    when: "!service_known"
    action: redirect
    to: /book-online
    reason: unknown-service

  - name: sign-in-first
    when: "!signed_in"
    action: redirect
    to: /sign-in
    reason: sign-in-required
    return_to: true

  - name: plan-paused
    when: status == "PAUSED"
    action: deny
    status: 403
    message: Your plan is paused. Resume it from your account to book again.
    reason: plan-paused

  - name: plan-not-started
    when: status == "PENDING"
    action: deny
    status: 403
    message: Your plan has not started yet. You can book from its start date.
    reason: plan-not-started

  - name: no-plan
    when: "!has_plan"
    action: redirect
    to: /plans-pricing
    reason: no-plan

  - name: not-in-plan
    when: "!covered"
    action: redirect
    to: /plans-pricing
    reason: not-in-plan

  - name: no-credits
    when: "!can_book && available <= 0"
    action: redirect
    to: /plans-pricing
    reason: no-credits

  - name: not-enough-credits
    when: "!can_book"
    action: redirect
    to: /plans-pricing
    reason: not-enough-credits
"""


def write_policy(folder: Path, text: str = POLICY) -> Path:
    """A policy folder holding ``text`` as its one file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "10-checkout.yaml").write_text(text)
    return folder


MEMBERS = ["c0", "c1", "c2", "c3", "c4", "c5", "pi", "frac", "halves", "paused", "pending",
           "ended", "yogaonly", "mixed", "nobenefits", "noplan", "down"]
SERVICES = ["yoga", "pilates", "ghost", "workshop"]  # ghost: unknown; workshop: a fixed cost
PATHS = ["/booking-form", "/booking-form/yoga", "/checkout"]


class _FlakySource(StaticBalanceSource):
    """The static file, except that member ``down``'s credits cannot be read (Wix down)."""

    async def fetch(self, member_id: str) -> BalanceSnapshot:
        if member_id == "down":
            raise UpstreamUnavailable("balances/query answered 503")
        return await super().fetch(member_id)


class _Capture:
    """An observer beside the log: what the core handed over, to compare the log with."""

    def __init__(self) -> None:
        self.events: list[DecisionEvent] = []

    def observe(self, event: DecisionEvent) -> None:
        self.events.append(event)


class _Now:
    """The gate's wall clock: 97 s later at every call, so a day and more goes by."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dt.datetime:
        self.calls += 1
        return START + dt.timedelta(seconds=97 * self.calls)


@dataclass
class Population:
    log: Path
    #: The policy folder that made the decisions.
    policies: Path
    events: list[DecisionEvent]
    decisions: list[Decision]
    #: Every credential value sent (cookies, tokens): none may appear in the log.
    credentials: set[str]


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/booking-form", "query_string": b"",
            "headers": headers, "client": ("127.0.0.1", 50000)}


def run_population(tmp_path: Path, count: int = 1200, seed: int = 7) -> Population:
    """``count`` decisions of the real decision core, logged to ``tmp_path/decisions.jsonl``."""
    balances = tmp_path / "balances.yaml"
    balances.write_text(BALANCES)
    clock = FakeClock()
    now = _Now()
    cookies = SignedCookieResolver(secret=SESSION_SECRET)
    capture = _Capture()
    log_path = tmp_path / "decisions.jsonl"
    policies = write_policy(tmp_path / "policies")
    parts = assemble(
        policies=[policies], source=_FlakySource(balances, clock=clock),
        resolvers=[cookies, TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])],
        service_costs={"workshop": "1.5"}, clock=clock, now=now, reload_interval=None,
        observers=[capture], decision_log=log_path,
    )
    rng = random.Random(seed)
    credentials: set[str] = {SESSION_SECRET, BEARER}
    decisions: list[Decision] = []

    async def run() -> None:
        for i in range(count):
            member = rng.choice([*MEMBERS, None, None])  # visitors: about one in ten
            headers = [(b"authorization", f"Bearer {BEARER}".encode())]
            if member is not None and i % 3 == 0:
                value = cookies.sign(member)
                credentials.add(value)
                headers.append((b"cookie", f"gate_session={value}".encode()))
            elif member is not None:
                headers.append((b"x-member-id", member.encode()))
            conn = HTTPConnection(_scope(headers))

            async def identify(conn: HTTPConnection = conn, broken: bool = i % 97 == 13
                               ) -> Identity:
                if broken:  # token-info down: who is asking cannot be checked
                    raise UpstreamUnavailable("token-info answered 503")
                return await resolve_chain(parts.resolvers, conn)

            decisions.append(await parts.core.decide(
                identify, service_id=rng.choice(SERVICES), path=rng.choice(PATHS),
                method=rng.choice(["GET", "GET", "POST"])))
            clock.advance(rng.choice([0.5, 2.0, 11.0]))  # balances age; cached ones go stale
        assert parts.decision_log is not None
        await parts.decision_log.aclose()
        await parts.core.aclose()

    asyncio.run(run())
    return Population(log_path, policies, capture.events, decisions, credentials)


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Population:
    return run_population(tmp_path_factory.mktemp("population"))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_line_per_decision_with_what_the_rules_saw(population: Population) -> None:
    records = _lines(population.log)
    assert len(records) == len(population.decisions) == 1200
    for record, decision, event in zip(records, population.decisions, population.events,
                                       strict=True):
        assert record["schema"] == SCHEMA
        assert record["policy"] == decision.policy_version
        assert record["member"] == decision.member_id
        outcome = record["outcome"]
        assert (outcome["action"], outcome["status"], outcome["location"], outcome["rule"]) == (
            decision.action, decision.outcome.status, decision.outcome.location, decision.rule)
        assert (outcome["error_kind"], outcome["cause"]) == (decision.error_kind, decision.cause)
        assert (record["service"], record["path"], record["method"]) == (
            event.service_id, event.path, event.method)
        assert (record["inputs"] is None) == (event.facts is None)
    # The population is as varied as promised.
    rules = {r["outcome"]["rule"] for r in records}
    assert {"(default)", "(on_error)", "unknown-service", "sign-in-first", "plan-paused",
            "plan-not-started", "no-plan", "not-in-plan", "no-credits",
            "not-enough-credits"} <= rules
    causes = {r["outcome"]["cause"] for r in records}
    assert {"upstream", "identity"} <= causes
    assert {r["method"] for r in records} == {"GET", "POST"}
    assert {r["path"] for r in records} == set(PATHS)
    via = {r["inputs"]["identity"]["via"] for r in records if r["inputs"]}
    assert {"session-cookie", "proxy-header", "none"} <= via
    data = {r["inputs"]["data"] for r in records if r["inputs"]}
    assert {"fresh", "stale", "none"} <= data


def test_records_rebuild_the_facts_the_rules_saw(population: Population) -> None:
    """Record → Facts gives the very activation the core evaluated, for every decision."""
    for line, event in zip(population.log.read_text().splitlines(), population.events,
                           strict=True):
        record = parse_record(line)
        rebuilt = facts_from_record(record)
        if event.facts is None:
            assert rebuilt is None
            continue
        assert rebuilt is not None
        assert rebuilt.as_cel() == event.facts.as_cel()
        assert rebuilt.data == event.facts.data
        assert rebuilt.identity == event.facts.identity
        old = decision_from_record(record)
        assert (old.outcome.action, old.outcome.status, old.outcome.location, old.rule) == (
            event.decision.outcome.action, event.decision.outcome.status,
            event.decision.outcome.location, event.decision.rule)


def test_no_credential_or_secret_is_ever_written(population: Population) -> None:
    text = population.log.read_text()
    assert population.credentials  # cookies were signed, a bearer token sent every time
    for secret in population.credentials:
        assert secret not in text
    assert "gate_session" not in text and "Bearer" not in text


def test_credits_are_exact_decimal_strings(population: Population) -> None:
    text = population.log.read_text()
    assert '"available":"3.1415"' in text and '"available":"2.5"' in text
    assert '"fixed_cost":"1.5"' in text
    for record in _lines(population.log):
        inputs = record["inputs"]
        if inputs is None or inputs["balance"] is None:
            continue
        for pool in inputs["balance"]["pools"]:
            assert isinstance(pool["available"], str) and isinstance(pool["reserved"], str)
            Decimal(pool["available"])  # a decimal, in plain notation
            assert "E" not in pool["available"]
            for benefit in pool["benefits"] or ():
                assert isinstance(benefit["price"], str)
    # Read back, they are Decimal again: 3.1415 is not 3.14150000000000018...
    pi = next(parse_record(line) for line in text.splitlines() if "3.1415" in line)
    assert pi.inputs is not None and pi.inputs.balance is not None
    assert pi.inputs.balance.pools[0].available == Decimal("3.1415")


def test_a_float_where_credits_belong_is_refused(population: Population) -> None:
    line = next(line for line in population.log.read_text().splitlines()
                if '"available":"2.5"' in line)
    with pytest.raises(RecordError) as caught:
        parse_record(line.replace('"available":"2.5"', '"available":2.5'))
    assert caught.value.kind == "invalid"
    assert "decimal string" in str(caught.value)


# -- the writer never blocks -----------------------------------------------------------------

class _BlockedHandler(logging.Handler):
    """A handler whose disk is stuck until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.unblock = threading.Event()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.entered.set()
        assert self.unblock.wait(30), "the test never released the writer"
        self.lines.append(record.getMessage())


def _event(member: str = "m-1") -> DecisionEvent:
    decision = Decision(Outcome("deny", 503), "(on_error)", "v1", error="upstream_unavailable: x",
                        member_id=member, cause="upstream")
    return DecisionEvent(decision, "yoga", "/booking-form", "GET", None, 0.001, cached=False)


def test_a_full_queue_drops_and_counts_and_never_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = _BlockedHandler()
    clock = FakeClock()
    log = DecisionLog(handler, capacity=3, warn_every=60.0, clock=clock,
                      now=lambda: START)
    try:
        log.observe(_event("first"))
        assert handler.entered.wait(30)  # the writer holds "first" and is stuck on the disk
        with caplog.at_level(logging.WARNING, logger="booking_gate.decision_log"):
            for i in range(3):
                log.observe(_event(f"queued-{i}"))  # fills the queue
            for i in range(5):
                log.observe(_event(f"dropped-{i}"))  # returns at once: dropped, counted
            assert log.dropped == 5
            clock.advance(59.0)
            log.observe(_event("dropped-5"))
            clock.advance(1.0)
            log.observe(_event("dropped-6"))
        warnings = [r for r in caplog.records if r.name == "booking_gate.decision_log"]
        # At most one warning a minute, saying how many were lost so far.
        assert [re.search(r"(\d+) decision", w.getMessage()).group(1)  # type: ignore[union-attr]
                for w in warnings] == ["1", "7"]
    finally:
        handler.unblock.set()
        log.close()
    written = [json.loads(line)["member"] for line in handler.lines]
    assert written == ["first", "queued-0", "queued-1", "queued-2"]
    assert (log.written, log.dropped) == (4, 7)


def test_closing_with_a_stuck_disk_does_not_hang(caplog: pytest.LogCaptureFixture) -> None:
    handler = _BlockedHandler()
    log = DecisionLog(handler, now=lambda: START)
    try:
        log.observe(_event("first"))
        assert handler.entered.wait(30)
        log.observe(_event("second"))
        with caplog.at_level(logging.WARNING, logger="booking_gate.decision_log"):
            log.close(timeout=0)  # returns at once, saying what is still waiting
        assert "not everything was written within 0 s; 1 decision(s) were waiting" in caplog.text
    finally:
        handler.unblock.set()
    log.close()  # the writer finished meanwhile: nothing lost, nothing hangs
    assert [json.loads(x)["member"] for x in handler.lines] == ["first", "second"]
    log.observe(_event("third"))  # and a new writer starts
    log.close()
    assert len(handler.lines) == 3


def test_close_writes_everything_queued_and_a_restart_keeps_logging(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = DecisionLog(path, now=lambda: START)
    for i in range(1000):
        log.observe(_event(f"m-{i}"))
    log.close()
    assert len(path.read_text().splitlines()) == 1000
    log.observe(_event("after-restart"))  # a gate started again (ASGI lifespan) logs on
    log.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 1001 and json.loads(lines[-1])["member"] == "after-restart"
    assert path.stat().st_mode & 0o777 == 0o600  # it names members: the gate's user only


def test_a_rotated_log_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = DecisionLog(path, now=lambda: START)
    try:
        log.observe(_event("before"))
        log.flush()
        path.rename(tmp_path / "log.jsonl.1")  # logrotate moves it away
        log.observe(_event("after"))
        log.flush()
    finally:
        log.close()
    assert [json.loads(x)["member"] for x in path.read_text().splitlines()] == ["after"]
    assert "before" in (tmp_path / "log.jsonl.1").read_text()


def test_a_logging_handler_instead_of_a_file(tmp_path: Path) -> None:
    target = tmp_path / "via-handler.jsonl"
    handler = logging.FileHandler(target, encoding="utf-8")
    log = DecisionLog(handler, now=lambda: START)
    try:
        log.observe(_event("m-7"))
    finally:
        log.close()
        handler.close()
    record = parse_record(target.read_text().splitlines()[0])
    assert (record.member, record.outcome.cause, record.inputs) == ("m-7", "upstream", None)
    assert record.at == START  # a failure before the facts: dated by the log's clock


def test_a_record_that_cannot_be_encoded_is_counted_not_fatal(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "log.jsonl", now=lambda: START)
    try:
        # NaN is not JSON: refused, counted, and the writer goes on with the next one.
        log.observe(DecisionEvent(_event().decision, "yoga", "/x", "GET", None, float("nan"),
                                  cached=False))
        log.observe(_event("fine"))
    finally:
        log.close()
    members = [json.loads(x)["member"] for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert members == ["fine"]
    assert (log.failed, log.written) == (1, 1)


def test_an_unwritable_log_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write the decision log"):
        DecisionLog(tmp_path / "no-such-folder" / "log.jsonl")


# -- configuration ---------------------------------------------------------------------------

def test_the_setting_reaches_every_way_of_running_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKING_GATE_DECISION_LOG", str(tmp_path / "env.jsonl"))
    assert GateSettings.load().decision_log == tmp_path / "env.jsonl"
    monkeypatch.setenv("BOOKING_GATE_DECISION_LOG", "")
    assert GateSettings.load().decision_log is None
    monkeypatch.delenv("BOOKING_GATE_DECISION_LOG")
    config = tmp_path / "conf" / "gate.toml"
    config.parent.mkdir()
    config.write_text('decision_log = "logs/decisions.jsonl"\n')
    assert GateSettings.load(config).decision_log == config.parent / "logs/decisions.jsonl"


def test_record_from_event_is_plain_json(population: Population) -> None:
    event = next(e for e in population.events if e.facts is not None and e.facts.balance)
    record = record_from_event(event, START)
    assert json.loads(json.dumps(record)) == record
    assert record["at"] == START.isoformat()



# -- through a real server ---------------------------------------------------------------------

def test_booking_gate_serve_logs_every_decision_and_no_credential(
    emulator: Emulator, tmp_path: Path
) -> None:
    """``booking-gate serve`` with BOOKING_GATE_DECISION_LOG, asked over HTTP on 127.0.0.1 by
    the decision API and forward-auth, members named by id, Wix token and session cookie. The
    log is complete once the process has stopped (SIGTERM), without anyone closing it."""
    log = tmp_path / "serve.jsonl"
    policies = write_policy(tmp_path / "policies")
    env = serve_env(emulator.url, emulator.api_key, SITE_ID,
                    BOOKING_GATE_POLICIES=str(policies), BOOKING_GATE_DECISION_LOG=str(log),
                    BOOKING_GATE_SESSION_SECRET=SESSION_SECRET)
    cookies = SignedCookieResolver(secret=SESSION_SECRET)
    secrets = {API_SECRET, SESSION_SECRET, emulator.api_key}
    asked = 0
    with serve(env) as url, httpx.Client(base_url=url) as http:
        api = {"Authorization": f"Bearer {API_SECRET}"}
        for name in sorted(emulator.members):
            token = emulator.token(name)
            cookie = cookies.sign(emulator.members[name])
            secrets |= {token, cookie}
            for service in (YOGA, PILATES, UNKNOWN_SERVICE):
                checkout = f"/booking-form?bookings_serviceId={service}"
                answers = [
                    http.post("/v1/decisions", headers=api, json={
                        "memberId": emulator.members[name], "serviceId": service}),
                    http.post("/v1/decisions", headers=api, json={
                        "memberToken": token, "serviceId": service, "method": "POST",
                        "path": "/booking-form/confirm"}),
                    http.get("/v1/forward-auth", headers={
                        "X-Forwarded-Uri": checkout, "X-Forwarded-Method": "GET",
                        "Cookie": f"gate_session={cookie}"}),
                    http.get("/v1/forward-auth", headers={
                        "X-Forwarded-Uri": checkout, "X-Forwarded-Method": "POST",
                        "Authorization": f"Bearer {token}"}),
                ]
                assert all(a.status_code in (200, 302, 303, 403) for a in answers), answers
                asked += len(answers)
        for service in (YOGA, UNKNOWN_SERVICE):  # a visitor
            assert http.post("/v1/decisions", headers=api,
                             json={"serviceId": service}).status_code == 200
            asked += 1
    text = log.read_text()
    records = [parse_record(line) for line in text.splitlines()]
    assert len(records) == asked == 7 * 3 * 4 + 2
    for secret in secrets:
        assert secret not in text
    assert "Bearer" not in text and "gate_session" not in text
    via = Counter(r.inputs.identity.via for r in records if r.inputs is not None)
    assert {"api", "session-cookie", "wix-token", "none"} <= via.keys()
    rules = {r.outcome.rule for r in records}
    assert {"(default)", "plan-paused", "no-plan", "not-in-plan", "unknown-service",
            "sign-in-first"} <= rules
    # Wix's own data: pools with benefits, services with item sets, credits as strings.
    pools = [p for r in records if r.inputs and r.inputs.balance
             for p in r.inputs.balance.pools]
    assert any(p.available == Decimal("2.5") for p in pools)
    assert all(p.benefits for p in pools)
    # The last-credit guard held credits for allowed POSTs: later records show less.
    ana = [p.available for r in records if r.member == emulator.members["ana"] and r.inputs
           and r.inputs.balance for p in r.inputs.balance.pools]
    assert max(ana) == Decimal(3) and min(ana) < Decimal(3)
    # What the server decided, the same policies decide from the log: nothing changes.
    report = replay(open_log(log), load_policies([policies]))
    assert (report.replayed, report.changed) == (asked, 0), [
        (e.new, e.old) for c in report.changes for e in c.examples]


def test_the_middleware_and_from_env_log_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    balances = tmp_path / "balances.yaml"
    balances.write_text(BALANCES)
    policies = write_policy(tmp_path / "policies")
    log = tmp_path / "middleware.jsonl"
    clock = FakeClock()
    gate = BookingGate(CHECKOUT_APP, policies=[policies], decision_log=log, clock=clock,
                       now=lambda: START, source=StaticBalanceSource(balances, clock=clock),
                       resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])])
    assert gate.problem is None
    with run_server(gate) as url, httpx.Client(base_url=url) as http:
        for _ in range(2):  # the second from memory (the core's hot path): logged the same
            page = http.get("/booking-form?bookings_serviceId=yoga",
                            headers={"X-Member-Id": "c2"})
            assert page.status_code == 200
        refused = http.post("/booking-form?bookings_serviceId=pilates",
                            headers={"X-Member-Id": "c0"})
        assert refused.status_code == 303
    written = next(o for o in gate.core.observers if isinstance(o, DecisionLog))
    written.close()
    records = [parse_record(line) for line in log.read_text().splitlines()]
    assert [(r.member, r.method, r.outcome.rule) for r in records] == [
        ("c2", "GET", "(default)"), ("c2", "GET", "(default)"), ("c0", "POST", "no-credits")]
    assert all(r.inputs is not None for r in records)
    assert records[0].at == START
    assert json.loads(log.read_text().splitlines()[1])["cached"] is True

    monkeypatch.setenv("BOOKING_GATE_DECISION_LOG", str(tmp_path / "from-env.jsonl"))
    monkeypatch.setenv("BOOKING_GATE_POLICIES", str(policies))
    from_env = BookingGate.from_env(CHECKOUT_APP, source=StaticBalanceSource(balances,
                                    clock=clock), resolvers=[TrustedHeaderResolver(
                                        trusted_proxies=["127.0.0.1"])])
    assert from_env.problem is None
    opened = [o for o in from_env.core.observers if isinstance(o, DecisionLog)]
    assert len(opened) == 1 and (tmp_path / "from-env.jsonl").exists()
    opened[0].close()
