"""Each rule compiled: its name checked, its outcome built, its condition compiled and tried.

Rules keep their order across files (first match wins); a rule after one that always matches
can never run and is refused, and a rule name used twice is refused, since names identify
rules in logs and headers.
"""

from __future__ import annotations

from typing import Any

from gate.errors import PolicyProblem
from gate.policy.engine import CelEngine, CompileFailure, Condition, EvalFailure
from gate.policy.messages import condition_message
from gate.policy.outcomes import compile_outcome
from gate.policy.pages import Pages
from gate.policy.policyset import CompiledRule
from gate.policy.samples import always_true, sample_requests, sample_warnings
from gate.policy.validation import LooseRule, ParsedFile, ValidRule
from gate.policy.yaml_source import Located

__all__ = ["compile_rules"]


def compile_rules(
    engine: CelEngine,
    parsed: list[ParsedFile],
    pages: Pages,
    problems: list[PolicyProblem],
    warnings: list[PolicyProblem],
) -> list[CompiledRule]:
    """Every rule that compiled, in order; what is wrong goes to ``problems``, what is worth a
    look (a rule no sample matches...) to ``warnings``."""
    compiled: list[CompiledRule] = []
    first_seen: dict[str, tuple[str, int]] = {}
    always: CompiledRule | None = None
    samples = [(label, engine.activation(facts.as_cel())) for label, facts in sample_requests()]
    for checked in parsed:
        file, located = checked.name, checked.located
        items: list[ValidRule | LooseRule] = [*checked.rules, *checked.loose]
        for item in sorted(items, key=lambda r: r.index):
            base = ("rules", item.index)
            if isinstance(item, LooseRule):
                if item.name is not None:
                    _check_name(file, located, base, item.name, first_seen, problems)
                _condition(engine, file, located, base, item.when, item.name, problems, samples)
                continue
            rule = item.model
            line, col = located.at(base)
            _check_name(file, located, base, rule.name, first_seen, problems)
            outcome = compile_outcome(file, located, base, rule, pages, problems, rule.name,
                                      item.dropped)
            condition = _condition(engine, file, located, base, rule.when, rule.name, problems,
                                   samples)
            if outcome is None or condition is None:
                continue
            if always is not None:
                problems.append(PolicyProblem(
                    file, line, col, f"this rule can never match: rule '{always.name}' "
                    f"({always.file}:{always.line}) comes first and always matches. Move this "
                    "rule above it, or narrow that rule's condition", rule=rule.name,
                    code="unreachable"))
            entry = CompiledRule(rule.name, condition, outcome, rule.mode == "shadow", file, line,
                                 _seconds(rule.max_age))
            compiled.append(entry)
            if always is None and not entry.shadow and always_true(condition, samples):
                always = entry
    if not problems:
        warnings.extend(sample_warnings(compiled, samples))
    return compiled


def _check_name(
    file: str,
    located: Located,
    base: tuple[Any, ...],
    name: str,
    first_seen: dict[str, tuple[str, int]],
    problems: list[PolicyProblem],
) -> None:
    """Rule names identify rules in logs and headers, so each must be used once."""
    if name not in first_seen:
        first_seen[name] = (file, located.at(base)[0])
        return
    other_file, other_line = first_seen[name]
    problems.append(PolicyProblem(
        file, *located.at((*base, "name")), f"two rules are named '{name}' (the other is at "
        f"{other_file}:{other_line}); give each rule its own name", rule=name,
        code="duplicate-rule"))


def _condition(
    engine: CelEngine,
    file: str,
    located: Located,
    base: tuple[Any, ...],
    source: str,
    rule: str | None,
    problems: list[PolicyProblem],
    samples: list[tuple[str, Any]],
) -> Condition | None:
    if not source.strip():
        return None  # already reported as an empty condition
    result = engine.compile(source)
    line, col = located.at((*base, "when"))
    if isinstance(result, CompileFailure):
        # Point at the exact spot inside the condition, through quotes and folded lines.
        line, col = located.inside((*base, "when"), source, result.line, result.column)
        message = condition_message(result.message, source, result.operands)
        problems.append(PolicyProblem(file, line, col, message, rule=rule, code="condition"))
        return None
    failures = [
        (label, outcome) for label, activation in samples
        if isinstance(outcome := result.evaluate(activation), EvalFailure)
    ]
    if failures:
        label, failure = failures[0]
        # Say who it fails for only when it works for someone: that is the useful hint.
        who = f" (it fails for {label})" if len(failures) < len(samples) else ""
        problems.append(PolicyProblem(
            file, line, col, condition_message(failure.message, source) + who, rule=rule,
            code="condition-runtime"))
        return None
    return result


def _seconds(max_age: int | str | None) -> float | None:
    """``10``, ``"10s"`` or ``"2m"`` as seconds (the model already checked the form)."""
    if max_age is None or isinstance(max_age, int):
        return None if max_age is None else float(max_age)
    text = max_age.strip()
    return float(text[:-1].strip()) * (60 if text.endswith("m") else 1)
