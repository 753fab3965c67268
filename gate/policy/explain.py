"""Why a decision came out as it did: every rule, the values it saw, and its result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from gate.policy.context import variables_read
from gate.policy.decision import Decision
from gate.policy.engine import EvalFailure
from gate.policy.policyset import PolicySet

__all__ = ["Explanation", "RuleTrace", "explain", "render_text"]


@dataclass(frozen=True, slots=True)
class RuleTrace:
    name: str
    file: str
    line: int
    when: str
    shadow: bool
    result: bool | None  # None: the condition could not be evaluated
    error: str | None
    values: dict[str, Any]
    decided: bool
    reached: bool


@dataclass(frozen=True, slots=True)
class Explanation:
    decision: Decision
    rules: tuple[RuleTrace, ...]

    def as_dict(self) -> dict[str, Any]:
        outcome = self.decision.outcome
        return {
            "decision": {
                "action": outcome.action, "status": outcome.status, "location": outcome.location,
                "reason": outcome.reason, "message": outcome.message,
                "rule": self.decision.rule, "policy": self.decision.policy_version,
                "error": self.decision.error, "cause": self.decision.cause,
                "shadow": list(self.decision.shadow),
            },
            "rules": [
                {"name": r.name, "file": r.file, "line": r.line, "when": r.when,
                 "mode": "shadow" if r.shadow else "enforce", "result": r.result,
                 "error": r.error, "values": {k: _jsonable(v) for k, v in r.values.items()},
                 "decided": r.decided, "reached": r.reached}
                for r in self.rules
            ],
        }


def explain(policy_set: PolicySet, facts: dict[str, Any], member_id: str | None) -> Explanation:
    """Decide exactly as the gate does, then evaluate every rule to show what each saw."""
    decision = policy_set.decide(facts, member_id)
    activation = policy_set.engine.activation(facts)
    traces: list[RuleTrace] = []
    reached = True
    for rule in policy_set.rules:
        result = rule.condition.evaluate(activation)
        error = result.message if isinstance(result, EvalFailure) else None
        decided = reached and rule.name == decision.rule
        traces.append(RuleTrace(
            name=rule.name, file=rule.file, line=rule.line, when=rule.condition.source,
            shadow=rule.shadow, result=None if error else bool(result), error=error,
            values={n: facts[n] for n in variables_read(rule.condition.source)},
            decided=decided, reached=reached,
        ))
        if decided:
            reached = False
    return Explanation(decision, tuple(traces))


def render_text(explanation: Explanation) -> str:
    decision = explanation.decision
    outcome = decision.outcome
    lines = []
    if outcome.action == "redirect":
        lines.append(f"Decision: redirect to {outcome.location} (HTTP 303)")
    elif outcome.action == "deny":
        lines.append(f"Decision: deny with HTTP {outcome.status}: {outcome.message}")
    else:
        lines.append("Decision: allow, the checkout opens")
    decider = next((r for r in explanation.rules if r.decided), None)
    if decider is not None:
        lines.append(f"Decided by: rule '{decider.name}' ({decider.file}:{decider.line})")
    elif decision.rule == "(default)":
        lines.append("Decided by: the default, because no rule matched")
    else:
        lines.append(f"Decided by: on_error for cause {decision.cause}, because "
                     f"{decision.error}")
    lines.append(f"Policy version: {decision.policy_version}")
    if decision.shadow:
        lines.append("Shadow rules that would have acted: " + ", ".join(decision.shadow))
    lines.append("")
    lines.append("Rules, in order:")
    for rule in explanation.rules:
        seen = ", ".join(f"{k} = {_show(v)}" for k, v in rule.values.items()) or "no values"
        if rule.error:
            verdict = f"could not be evaluated ({rule.error})"
        else:
            verdict = "true" if rule.result else "false"
        tag = " [shadow: logged, not enforced]" if rule.shadow else ""
        if rule.decided:
            note = "matched: this rule decided"
        elif not rule.reached:
            note = "not reached: an earlier rule decided"
        elif rule.result and rule.shadow:
            note = "matched, but shadow rules only log"
        else:
            note = "did not match" if not rule.error else "failed"
        lines.append(f"  {rule.name}{tag}: {rule.when}")
        lines.append(f"      saw {seen} -> {verdict}; {note}")
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return repr(value)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value
