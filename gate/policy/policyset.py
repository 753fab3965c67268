"""A loaded, compiled, immutable set of rules; swapped whole on reload, never edited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from gate.errors import PolicyProblem
from gate.policy.context import VOLATILE_VARIABLES, variables_read
from gate.policy.decision import Decision, Outcome
from gate.policy.engine import CelEngine, Condition, EvalFailure

__all__ = ["CAUSES", "DEFAULT_ON_ERROR", "Cause", "CompiledRule", "FailModes", "PolicySet"]

#: Why the gate could not decide: each cause has its own fail mode (``on_error``).
#:
#: - ``upstream``: Wix down, too slow, bad data, the call budget spent, the deadline passed
#: - ``identity``: who is asking could not be verified (anything raised while identifying)
#: - ``rule``: a condition failed at run time, or a rule's ``max_age`` could not be met
#: - ``config``: Wix refuses the gate's key or requests (401, 403, 404, other 4xx), or a bug
Cause = Literal["upstream", "identity", "rule", "config"]
CAUSES: tuple[Cause, ...] = ("upstream", "identity", "rule", "config")

DEFAULT_ON_ERROR = Outcome(
    action="deny",
    status=503,
    reason="gate-unavailable",
    message="We couldn't check your booking credits just now. Please try again in a minute.",
)
DEFAULT_DEFAULT = Outcome(action="allow", status=200)


@dataclass(frozen=True, slots=True)
class FailModes:
    """The outcome for each cause of failure; the standard 503 page for those not declared.

    ``identity`` never allows: the compiler refuses it, and so does this class.
    """

    upstream: Outcome = DEFAULT_ON_ERROR
    identity: Outcome = DEFAULT_ON_ERROR
    rule: Outcome = DEFAULT_ON_ERROR
    config: Outcome = DEFAULT_ON_ERROR

    def __post_init__(self) -> None:
        if self.identity.allows:
            raise ValueError("identity failures can never allow")

    @classmethod
    def every(cls, outcome: Outcome) -> FailModes:
        """One outcome for every cause; identity keeps the 503 page if that outcome allows."""
        return cls(outcome, DEFAULT_ON_ERROR if outcome.allows else outcome, outcome, outcome)

    def outcome(self, cause: Cause) -> Outcome:
        result: Outcome = getattr(self, cause)
        return result

    @property
    def open_causes(self) -> tuple[Cause, ...]:
        """The causes whose fail mode lets the request through."""
        return tuple(c for c in CAUSES if self.outcome(c).allows)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    condition: Condition
    outcome: Outcome
    shadow: bool
    file: str
    line: int
    #: Seconds: the oldest credits this rule accepts; None when any age will do.
    max_age: float | None = None


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Rules in order (first match wins), the no-match default and the fail mode.

    ``version`` is a hash of the files' contents, so a decision names exactly which text
    produced it.
    """

    rules: tuple[CompiledRule, ...]
    default: Outcome
    on_error: FailModes
    timezone: ZoneInfo
    version: str
    files: tuple[str, ...]
    engine: CelEngine
    #: What the loader found worth a look without refusing the set: a fail mode that lets
    #: people in, a rule no sample member matches... (``booking-gate check`` prints them).
    warnings: tuple[PolicyProblem, ...] = ()
    _by_name: dict[str, CompiledRule] = field(init=False, repr=False, compare=False)
    _max_age: float | None = field(init=False, repr=False, compare=False)
    _repeatable: bool = field(init=False, repr=False, compare=False)
    _reads_today: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {r.name: r for r in self.rules})
        ages = [r.max_age for r in self.rules if r.max_age is not None and not r.shadow]
        object.__setattr__(self, "_max_age", min(ages) if ages else None)
        read = {name for r in self.rules for name in variables_read(r.condition.source)}
        if any(q in r.condition.source for r in self.rules for q in ("'''", '"""')):
            read.add("now")  # triple-quoted text hides names from variables_read: be safe
        # A set whose rules read only the member's credits, the service, the method, the path
        # and the date gives the same decision for the same snapshot and those: it can be
        # remembered instead of evaluated (path and date are part of the memo's key).
        object.__setattr__(self, "_repeatable",
                           not read & VOLATILE_VARIABLES and not ages)
        object.__setattr__(self, "_reads_today", "today" in read)

    def rule(self, name: str) -> CompiledRule | None:
        """The rule called ``name``, if this set has one."""
        return self._by_name.get(name)

    def today(self, now: dt.datetime) -> str:
        return now.astimezone(self.timezone).date().isoformat()

    def day_ends(self, now: dt.datetime) -> dt.datetime:
        """When ``today(now)`` stops being today: the next midnight in this set's time zone."""
        tomorrow = now.astimezone(self.timezone).date() + dt.timedelta(days=1)
        # In ``now``'s own time zone: two datetimes with one tzinfo compare without conversion.
        return dt.datetime.combine(tomorrow, dt.time(), tzinfo=self.timezone).astimezone(
            now.tzinfo)

    @property
    def repeatable(self) -> bool:
        """Same snapshot, service, method, path, date and data → same decision (no rule reads
        the clock or the data's age)."""
        return self._repeatable

    @property
    def reads_today(self) -> bool:
        """Whether a rule reads ``today``: then the date is part of a remembered decision's key."""
        return self._reads_today

    @property
    def max_age(self) -> float | None:
        """The youngest data any enforced rule asks for: what the loader must provide."""
        return self._max_age

    def decide(
        self, facts: dict[str, Any], member_id: str | None = None,
        data_age: float | None = None,
    ) -> Decision:
        """The first enforced rule whose condition holds decides; ``data_age`` is how old the
        member's credits are (None: no credits were read, a visitor)."""
        activation = self.engine.activation(facts)
        shadow: list[str] = []
        for rule in self.rules:
            if rule.max_age is not None and data_age is not None and data_age > rule.max_age:
                result: bool | EvalFailure = EvalFailure(
                    f"it needs credits at most {rule.max_age:g} s old; these are "
                    f"{data_age:.0f} s old and Wix could not be asked again")
            else:
                result = rule.condition.evaluate(activation)
            if isinstance(result, EvalFailure):
                if rule.shadow:
                    # A rule on trial must not change what members get, even by failing.
                    continue
                # Never guess: a rule that cannot be evaluated applies the fail mode.
                return Decision(
                    self.on_error.rule, rule.name, self.version,
                    error=f"rule '{rule.name}' could not be evaluated: {result.message}",
                    shadow=tuple(shadow), member_id=member_id, cause="rule",
                )
            if result:
                if rule.shadow:
                    shadow.append(rule.name)
                    continue
                return Decision(rule.outcome, rule.name, self.version, shadow=tuple(shadow),
                                member_id=member_id)
        return Decision(self.default, "(default)", self.version, shadow=tuple(shadow),
                        member_id=member_id)

    def failed(self, error: str, member_id: str | None = None, *, cause: Cause) -> Decision:
        """The declared fail mode for ``cause``, when the facts could not be gathered."""
        return Decision(self.on_error.outcome(cause), "(on_error)", self.version, error=error,
                        member_id=member_id, cause=cause)
