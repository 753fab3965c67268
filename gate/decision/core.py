"""The decision core: "can this member pay for one session of this service, now?"

Every way of asking (the ASGI middleware, the decision API, forward-auth) calls
``DecisionCore.decide`` with how to learn the member, the service, the path and the method.
The core owns everything else: the policy set in force, the balance cache, the service
catalog, the fail mode, shadow counts and the decision log line. No adapter decides anything
itself, so the answer is the same wherever the question comes from.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from gate.credits.balances import BalanceSnapshot, ServiceInfo
from gate.data.expiring import StillTrue
from gate.data.loader import BalanceLoader
from gate.data.sources.base import BalanceSource
from gate.decision.holds import HoldBook
from gate.decision.kept import Kept, keep
from gate.decision.memo import DecisionMemo, memo_key
from gate.decision.prices import Prices
from gate.errors import SourceError
from gate.identity.base import Identify, Identity
from gate.observe.events import DecisionEvent, DecisionObserver, DecisionTracer
from gate.observe.lines import DecisionLines
from gate.policy.context import Facts
from gate.policy.decision import Decision
from gate.policy.policyset import Cause, PolicySet
from gate.policy.reload import PolicyReloader
from gate.wix.client import WixClient

__all__ = ["DecisionCore", "Identify", "utcnow"]

logger = logging.getLogger("booking_gate")
decision_logger = logging.getLogger("booking_gate.decision")


def _member(identity: Identity | None) -> str | None:
    return identity.member_id if identity else None


#: Failures that mean the gate is set up wrong (or broken), not that Wix is down.
_CONFIG_KINDS = frozenset({"upstream_auth", "upstream_not_found", "upstream_rejected",
                           "internal_error"})


def _cause(identity: Identity | None, kind: str) -> Cause:
    """Which fail mode applies: anything that failed before the member was known is identity
    (a visitor can cause it, so it never fails open); after that, config or upstream."""
    if identity is None:
        return "identity"
    if kind == "upstream_budget":
        # Anyone can spend the budget (made-up tokens or service ids): like an identity
        # failure, it must never be what opens the gate.
        return "identity"
    return "config" if kind in _CONFIG_KINDS else "upstream"


_VERBS = {"redirect": "redirected", "deny": "denied", "allow": "allowed"}


def utcnow() -> dt.datetime:
    """The wall clock the rules read by default (``now``)."""
    return dt.datetime.now(dt.UTC)


class DecisionCore:
    """Decides checkouts: identity → balance (cached) → service price → rules → Decision."""

    def __init__(
        self,
        *,
        reloader: PolicyReloader,
        source: BalanceSource,
        loader: BalanceLoader,
        service_costs: Mapping[str, Decimal] | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = utcnow,
        client: WixClient | None = None,
        deadline: float = 3.0,
        holds: HoldBook | None = None,
        hold_methods: Collection[str] = ("POST",),
        observers: Sequence[DecisionObserver] = (),
        tracer: DecisionTracer | None = None,
    ) -> None:
        self.reloader = reloader
        self._client = client
        self.source = source
        self.loader = loader
        self.prices = Prices(source, service_costs)
        self._clock = clock
        self._now = now
        #: ``now`` as a POSIX time, for ``recall``'s day check: the default's costs 20 times less.
        self._wall: Callable[[], float] = time.time if now is utcnow \
            else lambda: now().timestamp()
        #: Seconds one decision may take, retries included; then the fail mode decides.
        self.deadline = deadline
        self.holds = holds if holds is not None else HoldBook(clock=clock)
        #: Methods whose allowed checkouts hold credits (submissions).
        self.hold_methods = frozenset(m.upper() for m in hold_methods)
        #: How often each shadow rule would have acted, since start-up.
        self.shadow_counts: Counter[str] = Counter()
        self._memo = DecisionMemo()
        #: Who sees each decision (metrics, decision log, traces); empty costs nothing.
        self.observers: tuple[DecisionObserver, ...] = tuple(observers)
        self._tracer = tracer
        #: The decision log line, written by a thread of its own (see gate.observe.lines).
        self.lines = DecisionLines(decision_logger)
        #: An observer that reads the rules' inputs (the decision log) needs them every time.
        self._wants_facts = any(getattr(o, "wants_facts", False) for o in self.observers)

    @property
    def policies(self) -> PolicySet:
        return self.reloader.current

    async def facts(
        self, identity: Identity, service_id: str, path: str, method: str, policies: PolicySet
    ) -> Facts:
        """Gather what the rules read; raises SourceError when upstream cannot say."""
        member = identity.member_id
        balance: BalanceSnapshot | None = None
        data = "none"
        known = self.prices.known(service_id)
        if member:
            if known is None:
                # Neither is known yet: read the credits and the item sets at the same time.
                loaded, service = await asyncio.gather(
                    self.loader.load(member, policies.max_age), self.prices.get(service_id))
            else:
                loaded, service = await self.loader.load(member, policies.max_age), known
            balance, data = self.holds.apply(loaded.snapshot), loaded.data
        else:
            service = known or await self.prices.get(service_id)
        return self._facts(identity, balance, service, path, method, data, policies)

    def _facts(
        self, identity: Identity, balance: BalanceSnapshot | None, service: ServiceInfo,
        path: str, method: str, data: str, policies: PolicySet,
    ) -> Facts:
        now = self._now()
        return Facts(
            identity=identity,
            balance=balance,
            service=service,
            path=path,
            method=method,
            now=now,
            today=policies.today(now),
            balance_age=max(0.0, self._clock() - balance.fetched_at) if balance else 0.0,
            data=data,
        )

    async def decide(
        self, identify: Identify, *, service_id: str, path: str, method: str,
        hold: bool = True,
    ) -> Decision:
        """The decision for one checkout; never raises, always logs one line.

        ``hold=False`` asks again about a submission already decided (nginx fetching the page
        to show): it must not hold the credits a second time.
        """
        if self._tracer is None:
            return await self._decide_observed(identify, service_id, path, method, hold)
        with self._tracer.decision_span(service_id, method):
            return await self._decide_observed(identify, service_id, path, method, hold)

    async def _decide_observed(
        self, identify: Identify, service_id: str, path: str, method: str, hold: bool,
    ) -> Decision:
        started = time.perf_counter()
        policies = self.reloader.current  # one read: a reload mid-request cannot mix sets
        identity: Identity | None = None
        facts: Facts | None = None
        waiting: list[str] = []  # the member, while a submission waits for its turn
        try:
            async with asyncio.timeout(self.deadline):
                identity = await identify()
                decision, facts = await self._decide(identity, service_id, path, method,
                                                     policies, hold, waiting)
        except SourceError as exc:
            decision = policies.failed(f"{exc.kind}: {exc}", _member(identity),
                                       cause=_cause(identity, exc.kind))
        except TimeoutError:
            if waiting:
                # Still waiting for this member's other submission: letting this one through
                # (a fail mode that opens on upstream trouble) would spend a held credit twice.
                decision = policies.failed(
                    f"deadline_exceeded: another submission of this member was still being "
                    f"decided after {self.deadline:g} s", _member(identity), cause="identity")
            else:
                decision = policies.failed(
                    f"deadline_exceeded: no answer within {self.deadline:g} s",
                    _member(identity), cause=_cause(identity, "deadline_exceeded"))
        except Exception as exc:
            # A bug must not open the gate or become a 500: take the declared fail mode, loudly.
            logger.exception("booking-gate failed while deciding; applying on_error")
            decision = policies.failed(f"internal_error: {type(exc).__name__}", _member(identity),
                                       cause=_cause(identity, "internal_error"))
        self._finish(decision, policies, service_id, path, method, facts, started, False)
        return decision

    def decide_now(
        self, identity: Identity, *, service_id: str, path: str, method: str,
    ) -> Decision | None:
        """The decision when everything it needs is in memory, without awaiting anything;
        None when something must be fetched or waited for (then ask ``decide``).

        The hot path: a member whose credits are cached, a service the catalog knows, and no
        submission to hold credits for. Same rules, same memo, same log line as ``decide``.
        """
        return self.decide_now_kept(identity, None, service_id=service_id, path=path,
                                    method=method)[0]

    def decide_now_kept(
        self, identity: Identity, still: tuple[StillTrue, ...] | None, *, service_id: str,
        path: str, method: str,
    ) -> tuple[Decision | None, Kept | None]:
        """``decide_now``, and, given ``still`` (the identity's own checks, from
        ``resolve_chain_kept``), what lets ``recall`` give the decision again for the same
        request (see ``gate.decision.kept``); None when it may not be given again unasked."""
        member = identity.member_id
        if member is not None and method in self.hold_methods and self.holds.ttl:
            return None, None  # a submission decides in turn with the member's others
        # Only observers read how long it took; the clock is not read for nobody.
        started = time.perf_counter() if self.observers else 0.0
        policies = self.reloader.current
        service = self.prices.known(service_id)
        if service is None:
            return None, None
        snapshot: BalanceSnapshot | None = None
        balance: BalanceSnapshot | None = None
        key: str | None = None
        if member is not None:
            key = self.loader.key(member)
            snapshot = self.loader.peek_key(key, policies.max_age)
            if snapshot is None:
                return None, None
            balance = self.holds.apply(snapshot)
            data = "fresh"
        else:
            data = "none"
        facts: Facts | None = None
        decision = None
        repeatable = policies.repeatable and not self._wants_facts
        now = self._now() if repeatable and policies.reads_today else None
        if repeatable:
            today = policies.today(now) if now is not None else None
            decision = self._memo.get(balance, memo_key(service, method, data, policies, path,
                                                         today))
        if decision is None:
            facts = self._facts(identity, balance, service, path, method, data, policies)
            decision = self._evaluate(facts, policies)
        self._finish(decision, policies, service_id, path, method, facts, started, True)
        # Kept only what the memo may give again: the same inputs, no holds taken off, no fail
        # mode. Its day ends at ``now``'s midnight: the rules saw that day (or, had it turned
        # since, a later one, whose answer then ends sooner than it needs to, never later).
        if still is None or not repeatable or balance is not snapshot \
                or decision.error is not None \
                or (now is not None and now.tzinfo is None):  # a naive clock: no day's end
            return decision, None
        stills = [*still, *self.prices.held(service_id, service)]
        if member is not None:
            assert key is not None and snapshot is not None
            stills += [self.loader.held_key(key, snapshot, policies.max_age),
                       self.holds.none_held(member)]
        return decision, keep(decision, service_id, path, method, policies, stills, self._clock,
                              policies.day_ends(now).timestamp() if now is not None else None,
                              self.lines.line(decision, service_id, path))

    def recall(self, kept: Kept) -> Decision | None:
        """``kept``'s decision if everything it was made from still stands (and then its log
        line, counts and observers, as for any decision); None: decide the usual way."""
        # Inline, no calls: this is the whole cost of a checkout seen before.
        policies = kept.policies
        if policies is not self.reloader.current or self._clock() >= kept.until:
            return None
        for table, key, entry in kept.watches:
            if table.get(key) is not entry:
                return None
        for still in kept.checks:
            if not still():
                return None
        if kept.day_ends is not None and self._wall() >= kept.day_ends:
            return None
        decision = kept.decision
        if decision.shadow or self.observers:
            self._finish(decision, policies, kept.service_id, kept.path, kept.method, None,
                         time.perf_counter(), True)
        else:  # all that ``_finish`` would do
            self.lines.add_line(kept.line)
        return decision

    def _finish(
        self, decision: Decision, policies: PolicySet, service_id: str, path: str, method: str,
        facts: Facts | None, started: float, cached: bool,
    ) -> None:
        """What every decision does once made: shadow counts, the log line, the observers."""
        if decision.shadow:
            self._count_shadow(decision, policies)
        self.lines.add(decision, service_id, path)
        if self.observers:
            self._notify(DecisionEvent(decision, service_id, path, method, facts,
                                       time.perf_counter() - started, cached))

    def _notify(self, event: DecisionEvent) -> None:
        for observer in self.observers:
            try:
                observer.observe(event)
            except Exception:
                # Watching must never change or break what the gate decided.
                logger.exception("booking-gate observer %r failed", observer)

    async def _decide(
        self, identity: Identity, service_id: str, path: str, method: str, policies: PolicySet,
        hold: bool, waiting: list[str],
    ) -> tuple[Decision, Facts]:
        member = identity.member_id
        if member is None or not hold or method not in self.hold_methods or not self.holds.ttl:
            facts = await self.facts(identity, service_id, path, method, policies)
            return self._evaluate(facts, policies), facts
        # A submission: decide in turn with this member's other submissions, and hold the
        # credits of one that goes through, so a second tab cannot spend them again.
        waiting.append(member)  # until the turn comes: see the deadline's handler
        async with self.holds.turn(member):
            waiting.clear()
            facts = await self.facts(identity, service_id, path, method, policies)
            decision = self._evaluate(facts, policies)
            credits = facts.credits
            if decision.allows and credits.paying_pool is not None and facts.balance:
                pool = next(p for p in facts.balance.pools if p.pool_id == credits.paying_pool)
                self.holds.hold(member, pool.pool_id, credits.cost, baseline=pool.available)
            return decision, facts

    def _evaluate(self, facts: Facts, policies: PolicySet) -> Decision:
        key = memo_key(facts.service, facts.method, facts.data, policies, facts.path,
                        facts.today if policies.reads_today else None)
        remembered = self._memo.get(facts.balance, key) if policies.repeatable else None
        if remembered is not None:
            return remembered
        data_age = facts.balance_age if facts.balance is not None else None
        decision = policies.decide(facts.as_cel(), facts.identity.member_id, data_age)
        if facts.data != "none":
            decision = replace(decision, data=facts.data)
        if policies.repeatable and facts.identity.member_id == (
                facts.balance.member_id if facts.balance else None):
            self._memo.put(facts.balance, key, decision)
        return decision

    async def invalidate(self, member_id: str) -> None:
        """Forget a member's balance, pools and holds, e.g. when a webhook says they booked or
        bought a plan: the next decision reads what Wix says now."""
        self.source.forget(member_id)
        self.holds.release(member_id)
        await self.loader.invalidate(member_id)

    async def aclose(self) -> None:
        """Stop watching policies and close the connections the gate opened itself."""
        await self.reloader.stop()
        self.lines.close()
        for observer in self.observers:
            # Observers that write (the decision log) flush what they hold.
            close = getattr(observer, "aclose", None)
            if close is not None:
                await close()
        await self.loader.aclose()
        await self.source.aclose()
        if self._client is not None:
            await self._client.aclose()

    def _count_shadow(self, decision: Decision, policies: PolicySet) -> None:
        for name in decision.shadow:
            self.shadow_counts[name] += 1
            rule = policies.rule(name)
            action = rule.outcome.action if rule else "act"
            decision_logger.info(
                "shadow rule=%s would have %s policy=%s member=%s", name,
                _VERBS.get(action, action), decision.policy_version, decision.member_id or "-",
                extra={"booking_gate": {"shadow_rule": name, "would": action}},
            )
