"""A loaded, compiled, immutable set of rules; swapped whole on reload, never edited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from gate.policy.decision import Decision, Outcome
from gate.policy.engine import CelEngine, Condition, EvalFailure

__all__ = ["DEFAULT_ON_ERROR", "CompiledRule", "PolicySet"]

DEFAULT_ON_ERROR = Outcome(
    action="deny",
    status=503,
    reason="gate-unavailable",
    message="We couldn't check your booking credits just now. Please try again in a minute.",
)
DEFAULT_DEFAULT = Outcome(action="allow", status=200)


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
    on_error: Outcome
    timezone: ZoneInfo
    version: str
    files: tuple[str, ...]
    engine: CelEngine
    _by_name: dict[str, CompiledRule] = field(init=False, repr=False, compare=False)
    _max_age: float | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {r.name: r for r in self.rules})
        ages = [r.max_age for r in self.rules if r.max_age is not None and not r.shadow]
        object.__setattr__(self, "_max_age", min(ages) if ages else None)

    def rule(self, name: str) -> CompiledRule | None:
        """The rule called ``name``, if this set has one."""
        return self._by_name.get(name)

    def today(self, now: dt.datetime) -> str:
        return now.astimezone(self.timezone).date().isoformat()

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
                    self.on_error, rule.name, self.version,
                    error=f"rule '{rule.name}' could not be evaluated: {result.message}",
                    shadow=tuple(shadow), member_id=member_id,
                )
            if result:
                if rule.shadow:
                    shadow.append(rule.name)
                    continue
                return Decision(rule.outcome, rule.name, self.version, shadow=tuple(shadow),
                                member_id=member_id)
        return Decision(self.default, "(default)", self.version, shadow=tuple(shadow),
                        member_id=member_id)

    def failed(self, error: str, member_id: str | None = None) -> Decision:
        """The declared fail mode, for when the facts themselves could not be gathered."""
        return Decision(self.on_error, "(on_error)", self.version, error=error,
                        member_id=member_id)
