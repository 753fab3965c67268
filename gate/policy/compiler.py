"""Policy files → a compiled PolicySet, or every problem found in them, with positions.

Runs at start-up and on reload only. Steps per file: read YAML strictly, validate the shape,
check what the shape cannot (a redirect needs ``to``...), compile each condition, then try
each condition against sample members so type mistakes fail here and not at a checkout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from gate.balances import BalanceSnapshot, Benefit, PoolBalance, ServiceInfo
from gate.errors import PolicyError, PolicyProblem
from gate.identity.base import ANONYMOUS, Identity
from gate.paths import site_path_trouble
from gate.policy.context import Facts, variables_read
from gate.policy.decision import Outcome
from gate.policy.engine import CelEngine, CompileFailure, Condition, EvalFailure
from gate.policy.messages import condition_message, did_you_mean, field_message
from gate.policy.model import OnErrorModel, OutcomeModel, PolicyFileModel, RuleModel
from gate.policy.policyset import (
    CAUSES,
    DEFAULT_DEFAULT,
    Cause,
    CompiledRule,
    FailModes,
    PolicySet,
)
from gate.policy.yaml_source import YAML11_BOOLEANS, Located, read_yaml

__all__ = ["check_policies", "discover_policy_files", "load_policies"]

_TEST_SUFFIXES = (".test.yaml", ".test.yml")
_FILE_FIELDS = tuple(PolicyFileModel.model_fields)
_RULE_FIELDS = tuple(RuleModel.model_fields)
_OUTCOME_FIELDS = tuple(OutcomeModel.model_fields)
_ON_ERROR_FIELDS = tuple(OnErrorModel.model_fields)
#: Variables a sample member cannot stand for: a rule about one service id, one member, one
#: plan id, one date or one page matches no sample, and that proves nothing.
_SPECIFIC = frozenset({"service", "member", "plans", "today", "now", "path"})
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class _Rule:
    """A rule that validated, possibly only once its wrong optional fields were left out."""

    index: int
    model: RuleModel
    #: Fields already reported as wrong and left out: later checks must not call them missing.
    dropped: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Loose:
    """A rule that did not validate: its name and condition are still checked."""

    index: int
    name: str | None
    when: str


@dataclass(frozen=True, slots=True)
class _File:
    """One file that parsed: its settings and the rules that validated, by list position."""

    name: str
    located: Located
    #: None when the settings are wrong beyond repair; its rules are still checked.
    model: PolicyFileModel | None
    rules: list[_Rule]
    #: Rules that failed validation: still checked, to report their other mistakes too.
    loose: list[_Loose]


def load_policies(paths: Sequence[str | Path], engine: CelEngine | None = None) -> PolicySet:
    """Load and compile a policy set, or raise PolicyError listing every problem."""
    policy_set, problems = check_policies(paths, engine)
    if policy_set is None:
        raise PolicyError(problems)
    return policy_set


def discover_policy_files(
    paths: Sequence[str | Path], *, tests: bool = False
) -> tuple[list[Path], list[PolicyProblem]]:
    """Policy files (or, with ``tests``, policy-test files) under ``paths``, in name order."""
    found: list[Path] = []
    problems: list[PolicyProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            children = sorted(
                p for p in path.iterdir()
                if p.is_file() and p.suffix in (".yaml", ".yml")
                and p.name.endswith(_TEST_SUFFIXES) == tests
            )
            found.extend(children)
        elif path.is_file():
            if path.name.endswith(_TEST_SUFFIXES) == tests:
                found.append(path)
        else:
            problems.append(PolicyProblem(str(path), 1, 1, "this file or folder does not exist",
                                          code="not-found"))
    if not found and not problems:
        kind = "policy test" if tests else "policy"
        names = ", ".join(str(p) for p in paths)
        problems.append(PolicyProblem(names, 1, 1, f"no {kind} files (*.yaml) found here",
                                      code="no-files"))
    return found, problems


def check_policies(
    paths: Sequence[str | Path], engine: CelEngine | None = None
) -> tuple[PolicySet | None, list[PolicyProblem]]:
    """Compile a policy set; returns it with no problems, or None with all of them."""
    engine = engine or CelEngine()
    files, problems = discover_policy_files(paths)
    digest = hashlib.sha256()
    parsed: list[_File] = []
    for path in files:
        name = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            problems.append(PolicyProblem(name, 1, 1, f"cannot read this file: {exc.strerror}",
                                          code="unreadable"))
            continue
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        located, found = read_yaml(raw, name)
        problems.extend(found)
        if located is None:
            continue
        checked = _validate(name, located, problems)
        if checked is not None:
            parsed.append(checked)
    warnings: list[PolicyProblem] = []
    rules = _compile_rules(engine, parsed, problems, warnings)
    settings = _set_settings(parsed, problems, warnings)
    if problems:
        problems.sort(key=lambda p: (p.file, p.line, p.column))
        return None, problems
    default, on_error, timezone = settings
    warnings.sort(key=lambda p: (p.file, p.line, p.column))
    return PolicySet(
        rules=tuple(rules),
        default=default,
        on_error=on_error,
        timezone=timezone,
        version=digest.hexdigest()[:12],
        files=tuple(str(p) for p in files),
        engine=engine,
        warnings=tuple(warnings),
    ), []


def _validate(file: str, located: Located, problems: list[PolicyProblem]) -> _File | None:
    """Validate the file's settings and each rule on its own, so one bad rule hides no others."""
    data = located.data
    if not isinstance(data, dict):
        problems.append(_not_a_policy(file, located))
        return None
    raw_rules = data.get("rules")
    settings = {k: v for k, v in data.items() if k != "rules"}
    if not isinstance(raw_rules, list):
        if "rules" in data:
            settings["rules"] = raw_rules  # let the model explain what is wrong with it
        raw_rules = []
    # A wrong setting at the top must not hide the rules' mistakes: check them regardless.
    model, _ = _parse(PolicyFileModel, settings, (), file, located, problems)
    rules: list[_Rule] = []
    loose: list[_Loose] = []
    for index, raw in enumerate(raw_rules):
        if isinstance(raw, dict):
            _check_condition_value(file, located, index, raw, problems)
        rule, dropped = _parse(RuleModel, raw, ("rules", index), file, located, problems)
        if rule is not None:
            rules.append(_Rule(index, rule, dropped))
        elif isinstance(raw, dict) and isinstance(raw.get("when"), str):
            name = raw.get("name") if isinstance(raw.get("name"), str) else None
            loose.append(_Loose(index, name, raw["when"]))
    return _File(file, located, model, rules, loose)


def _not_a_policy(file: str, located: Located) -> PolicyProblem:
    shape = "a policy file starts with  apiVersion: booking-gate/v1  and a  rules:  list"
    if located.data is None:
        return PolicyProblem(file, 1, 1, f"this file is empty; {shape}", code="empty-file")
    kind = "a list" if isinstance(located.data, list) else "a single value"
    line, col = located.at(())
    return PolicyProblem(file, line, col, f"this file is {kind}, not a policy; {shape}",
                         code="not-a-policy")


def _parse(
    model: type[_M],
    data: Any,
    prefix: tuple[Any, ...],
    file: str,
    located: Located,
    problems: list[PolicyProblem],
) -> tuple[_M | None, frozenset[str]]:
    """Validate ``data``, reporting every error, and the names of the fields that were wrong.

    When it fails, it is validated again without those fields: if the rest holds together
    it comes back too, so its other mistakes (a redirect to another site...) get reported
    in the same run. The problems already listed keep the policy set from loading.
    """
    try:
        return model.model_validate(data), frozenset()
    except ValidationError as exc:
        errors = exc.errors()
    guessed = _guessed_fields([(*prefix, *e["loc"]) for e in errors if
                               e["type"] == "extra_forbidden"])
    for error in errors:
        error["loc"] = loc = (*prefix, *error["loc"])
        if located.was_reported(loc):
            continue
        if error["type"] == "missing" and loc in guessed:
            continue  # `acton:` already says "did you mean `action`?"; no "add action"
        problems.append(_field_problem(file, located, dict(error)))
    wrong = frozenset(str(e["loc"][len(prefix)]) for e in errors if len(e["loc"]) > len(prefix))
    if not isinstance(data, dict) or not wrong:
        return None, wrong
    try:
        return model.model_validate({k: v for k, v in data.items() if k not in wrong}), wrong
    except ValidationError:
        return None, wrong


def _guessed_fields(extra_keys: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    """Fields that a misspelt key in the same place was taken to mean."""
    guessed: set[tuple[Any, ...]] = set()
    for loc in extra_keys:
        guess = did_you_mean(str(loc[-1]), _allowed(loc)) if loc else None
        if guess:
            guessed.add((*loc[:-1], guess))
    return guessed


def _allowed(loc: tuple[Any, ...]) -> tuple[str, ...]:
    if loc[:1] == ("rules",) and len(loc) >= 2:
        return _RULE_FIELDS
    if loc[:1] == ("on_error",):
        return _OUTCOME_FIELDS if len(loc) >= 3 and loc[1] in CAUSES else _ON_ERROR_FIELDS
    if loc[:1] == ("default",):
        return _OUTCOME_FIELDS
    return _FILE_FIELDS


def _check_condition_value(
    file: str, located: Located, index: int, rule: dict[str, Any], problems: list[PolicyProblem]
) -> None:
    """Fix up or reject ``when`` values YAML did not read as text, before pydantic sees them."""
    when = rule.get("when")
    path = ("rules", index, "when")
    line, col = located.at(path)
    name = rule.get("name") if isinstance(rule.get("name"), str) else None
    if located.was_reported(path):
        rule["when"] = " "  # already explained while reading the YAML
    elif isinstance(when, bool):
        rule["when"] = "true" if when else "false"  # `when: true` means "always"
    elif isinstance(when, str) and when in YAML11_BOOLEANS:
        problems.append(PolicyProblem(
            file, line, col, f"`{when}` is not a condition; write true to always match, or a "
            "check like available <= 0", rule=name, code="yaml11-bool"))
        rule["when"] = " "  # reported once here, not again as an unknown name
    elif isinstance(when, str) and not when.strip():
        problems.append(PolicyProblem(
            file, line, col, "the condition is empty; write what must be true for this rule, "
            "like available <= 0", rule=name, code="empty-condition"))
    elif when is None and "when" in rule:
        problems.append(PolicyProblem(
            file, line, col, "the condition is empty; write what must be true for this rule, "
            "like available <= 0", rule=name, code="empty-condition"))
        rule["when"] = " "  # reported once here, not again as "must be text"
    elif isinstance(when, int | float):
        problems.append(PolicyProblem(
            file, line, col, f"`{when}` is a number, not a condition; write a check like "
            "available <= 0", rule=name, code="condition-type"))
        rule["when"] = " "


def _field_problem(file: str, located: Located, error: dict[str, Any]) -> PolicyProblem:
    loc = tuple(error["loc"])
    rule_name = _rule_name(located, loc)
    allowed = _allowed(loc)
    if allowed is _RULE_FIELDS:
        where = "a rule can have"
        if error["type"] == "missing":
            where = f"rule '{rule_name}'" if rule_name else "this rule"
    elif allowed is _OUTCOME_FIELDS and loc[0] == "on_error":
        owner = f"`{loc[1]}:` under `on_error:`"
        where = owner if error["type"] == "missing" else f"{owner} can have"
    elif allowed in (_OUTCOME_FIELDS, _ON_ERROR_FIELDS):
        where = f"`{loc[0]}:`" if error["type"] == "missing" else f"`{loc[0]}` can have"
    else:
        where = "this file" if error["type"] == "missing" else "of a policy file"
    message = field_message(error, allowed, where)
    if error["type"] == "extra_forbidden":
        line, col = located.key_at(loc)
    elif error["type"] == "missing":
        line, col = located.key_at(loc[:-1])  # `default:` itself, or the rule's first line
    else:
        line, col = located.at(loc)
    return PolicyProblem(file, line, col, message, rule=rule_name, code=error["type"])


def _rule_name(located: Located, loc: tuple[Any, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = located.data.get("rules") if isinstance(located.data, dict) else None
        if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
            name = rules[loc[1]].get("name")
            return name if isinstance(name, str) else None
    return None


def _compile_rules(
    engine: CelEngine,
    parsed: list[_File],
    problems: list[PolicyProblem],
    warnings: list[PolicyProblem],
) -> list[CompiledRule]:
    compiled: list[CompiledRule] = []
    first_seen: dict[str, tuple[str, int]] = {}
    always: CompiledRule | None = None
    samples = [(label, engine.activation(facts.as_cel())) for label, facts in _samples()]
    for checked in parsed:
        file, located = checked.name, checked.located
        items: list[_Rule | _Loose] = [*checked.rules, *checked.loose]
        for item in sorted(items, key=lambda r: r.index):
            base = ("rules", item.index)
            if isinstance(item, _Loose):
                if item.name is not None:
                    _check_name(file, located, base, item.name, first_seen, problems)
                _condition(engine, file, located, base, item.when, item.name, problems, samples)
                continue
            rule = item.model
            line, col = located.at(base)
            _check_name(file, located, base, rule.name, first_seen, problems)
            outcome = _outcome(file, located, base, rule, problems, rule.name, item.dropped)
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
            if always is None and not entry.shadow and _always_true(condition, samples):
                always = entry
    if not problems:
        warnings.extend(_sample_warnings(compiled, samples))
    return compiled


def _sample_warnings(
    rules: list[CompiledRule], samples: list[tuple[str, Any]]
) -> list[PolicyProblem]:
    """Rules that no sample member matches, or that every one does, visitors included.

    Warnings, not problems: samples cannot prove a rule useless. A rule about one service id
    or one date matches no sample and is fine; a rule that catches everyone is fine last.
    """
    found: list[PolicyProblem] = []
    enforced = [r for r in rules if not r.shadow]
    last = enforced[-1] if enforced else None
    for rule in rules:
        results = [rule.condition.evaluate(activation) is True for _, activation in samples]
        read = set(variables_read(rule.condition.source))
        if not any(results) and not read & _SPECIFIC:
            found.append(PolicyProblem(
                rule.file, rule.line, 1, f"this rule matched none of the "
                f"{len(samples)} sample requests (a visitor, no plan, 0, 0.5 and 2.5 credits, a "
                "negative balance, a paused or ended plan, old credits...), so it may never act; "
                "check its condition", rule=rule.name, code="never-matches"))
        elif all(results) and not rule.shadow and rule is not last and read:
            after = enforced[enforced.index(rule) + 1]
            found.append(PolicyProblem(
                rule.file, rule.line, 1, "this rule matched every sample request, "
                f"signed-out visitors included, so the rules after it (from '{after.name}') "
                "may never run; narrow its condition, or move it last if it is meant to catch "
                "everyone", rule=rule.name, code="always-matches"))
    return found


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


def _always_true(condition: Condition, samples: list[tuple[str, Any]]) -> bool:
    """True when the condition reads no variable and is true: nothing after it can run."""
    if variables_read(condition.source):
        return False
    return all(condition.evaluate(a) is True for _, a in samples)


def _outcome(
    file: str,
    located: Located,
    base: tuple[Any, ...],
    model: OutcomeModel,
    problems: list[PolicyProblem],
    rule: str | None,
    dropped: frozenset[str] = frozenset(),
) -> Outcome | None:
    """The outcome of a rule or setting, after the checks its shape alone cannot make.

    ``dropped`` fields were wrong and already reported; they are not "missing" as well.
    """
    start = len(problems)

    def problem(field: str, message: str, code: str) -> None:
        line, col = located.key_at((*base, field))
        problems.append(PolicyProblem(file, line, col, message, rule=rule, code=code))

    unused = {
        "allow": ("to", "reason", "return_to", "status", "message"),
        "redirect": ("status", "message"),
        "deny": ("to", "return_to"),
    }[model.action]
    for field in unused:
        if field in model.model_fields_set:
            problem(field, f"a rule that does `{model.action}` does not use `{field}`; remove it",
                    "unused-field")
    if model.action == "redirect":
        if model.to is None and "to" not in dropped:
            line, col = located.at(base)
            problems.append(PolicyProblem(
                file, line, col, "a redirect needs `to:`, the page to send the visitor to, like "
                "to: /plans-pricing", rule=rule, code="missing-to"))
        elif model.to is not None:
            trouble = _redirect_target_problem(model.to)
            if trouble:
                line, col = located.at((*base, "to"))  # the address itself is what is wrong
                problems.append(PolicyProblem(file, line, col, trouble, rule=rule,
                                              code="redirect-target"))
    if model.action == "deny" and model.message is None and "message" not in dropped:
        line, col = located.at(base)
        problems.append(PolicyProblem(
            file, line, col, "a deny needs `message:`, the sentence the visitor sees",
            rule=rule, code="missing-message"))
    if len(problems) > start or dropped:
        return None  # a rule missing a wrong field is checked, never turned into an outcome
    if model.action == "allow":
        return Outcome("allow", 200)
    if model.action == "redirect":
        assert model.to is not None
        location = model.to
        if model.reason:
            location += ("&" if "?" in location else "?") + "reason=" + quote(model.reason)
        return Outcome("redirect", 303, location=location, reason=model.reason,
                       return_to=model.return_to)
    return Outcome("deny", model.status or 403, reason=model.reason, message=model.message)


def _redirect_target_problem(target: str) -> str | None:
    """What is wrong with a policy's redirect target, in the words staff read, or None.

    On top of the same-site check (gate.paths), a target is an address written by hand: no
    spaces, and no fragment, which would swallow the ``?reason=`` the gate appends.
    """
    shown = target if len(target) <= 60 else target[:57] + "..."
    trouble = site_path_trouble(target)
    if trouble == "elsewhere":
        return (f"`{shown}` points to another site; redirects must stay on this site. Write "
                "a path that starts with /, like /plans-pricing")
    if trouble == "relative":
        return f"`{shown}` must start with /, like /plans-pricing"
    if trouble == "control" or any(ch.isspace() for ch in target):
        return f"`{shown}` contains spaces or control characters; remove them"
    if "#" in target:
        return f"`{shown}` has a fragment (#…); remove it"
    path, _, query = target.partition("?")
    lowered = path.lower()
    if "//" in path or "%2f" in lowered or "%5c" in lowered or "\\" in path or any(
            segment in (".", "..") for segment in path.split("/")):
        # Browsers keep these on the site, but a server that tidies the path and redirects
        # again could turn "/.//evil.example" into "//evil.example".
        return (f"`{shown}` has empty or dot segments (// . ..) or an encoded slash; write the "
                "page's plain path, like /plans-pricing")
    names = {pair.partition("=")[0] for pair in query.split("&")}
    taken = sorted(names & {"return_to", "reason"})
    if taken:
        # The gate adds these itself; a second copy could send the visitor somewhere else.
        return (f"`{shown}` sets {', '.join(taken)} in its query; the gate adds "
                f"{' and '.join(taken)} itself (use `reason:` and `return_to: true`)")
    return None


def _set_settings(
    parsed: list[_File], problems: list[PolicyProblem], warnings: list[PolicyProblem]
) -> tuple[Outcome, FailModes, ZoneInfo]:
    default, on_error, timezone = DEFAULT_DEFAULT, FailModes(), ZoneInfo("UTC")
    seen: dict[str, str] = {}
    for checked in parsed:
        file, located, model = checked.name, checked.located, checked.model
        if model is None:
            continue  # its problems are reported; nothing here can be trusted
        for field in ("default", "on_error", "timezone"):
            if getattr(model, field) is None:
                continue
            if field in seen:
                line, col = located.key_at((field,))
                problems.append(PolicyProblem(
                    file, line, col, f"`{field}` is already set in {seen[field]}; set it in one "
                    "file only", code="duplicate-setting"))
                continue
            seen[field] = file
        if model.default is not None:
            outcome = _outcome(file, located, ("default",), model.default, problems, None)
            default = outcome or default
        if model.on_error is not None:
            modes = _fail_modes(file, located, model.on_error, problems)
            if modes is not None:
                on_error = modes
                warnings.extend(_fails_open(file, located, model.on_error, modes))
        if model.timezone is not None:
            try:
                timezone = ZoneInfo(model.timezone)
            except (ZoneInfoNotFoundError, ValueError, OSError):  # keys are file paths
                line, col = located.at(("timezone",))
                problems.append(PolicyProblem(
                    file, line, col, f"unknown time zone `{model.timezone}`; use a name like "
                    "Europe/Lisbon or America/New_York", code="timezone"))
    return default, on_error, timezone


def _fail_modes(
    file: str, located: Located, model: OnErrorModel, problems: list[PolicyProblem]
) -> FailModes | None:
    """``on_error`` as one outcome for every cause, or one per cause; None if it is wrong.

    An ``identity`` cause that allows is refused: a visitor can make identity fail (a junk
    token, too many of them), so it would open the checkout to anyone.
    """
    base = ("on_error",)
    causes = [c for c in CAUSES if getattr(model, c) is not None]
    plain = [f for f in _OUTCOME_FIELDS if f in model.model_fields_set]
    if causes and plain:
        line, col = located.key_at((*base, plain[0]))
        problems.append(PolicyProblem(
            file, line, col, f"`on_error` has both `{plain[0]}:` and `{causes[0]}:`; write "
            "either one action for every cause (action: ...), or one for each cause you name "
            "(upstream:, identity:, rule:, config:), not both", code="on-error-mixed"))
        return None
    if not causes:
        if model.action is None:
            line, col = located.key_at(base)
            problems.append(PolicyProblem(
                file, line, col, "`on_error:` has no `action:`; add it, or give each cause its "
                "own: upstream:, identity:, rule:, config:", code="missing"))
            return None
        values = {f: getattr(model, f) for f in _OUTCOME_FIELDS}
        every = OutcomeModel.model_construct(
            _fields_set=model.model_fields_set & set(_OUTCOME_FIELDS), **values)
        outcome = _outcome(file, located, base, every, problems, None)
        return None if outcome is None else FailModes.every(outcome)
    outcomes: dict[str, Outcome] = {}
    for cause in causes:
        given: OutcomeModel = getattr(model, cause)
        if cause == "identity" and given.action == "allow":
            line, col = located.at((*base, cause, "action"))
            problems.append(PolicyProblem(
                file, line, col, "`identity` cannot be `allow`: when the gate cannot check who "
                "is asking, anyone could be let in (a visitor can cause it with a made-up "
                "sign-in token). Use deny or redirect, or remove `identity:` for the standard "
                "503 page", code="identity-fails-open"))
            continue
        outcome = _outcome(file, located, (*base, cause), given, problems, None)
        if outcome is not None:
            outcomes[cause] = outcome
    if len(outcomes) < len(causes):
        return None
    return FailModes(**outcomes)


_OPEN_WHEN: dict[Cause, str] = {
    "upstream": "while Wix cannot answer (down, slow, or the gate's share of calls used up)",
    "identity": "when who is asking cannot be checked",
    "rule": "when a rule fails while running (anyone who can make it fail gets in)",
    "config": "when the gate is set up wrong or hits a bug (a wrong API key lets everyone in)",
}


def _fails_open(
    file: str, located: Located, model: OnErrorModel, modes: FailModes
) -> list[PolicyProblem]:
    """A warning for every cause whose fail mode lets people book without a credit check."""
    opened = modes.open_causes
    if not opened:
        return []
    if model.action is not None:  # one action for every cause
        line, col = located.key_at(("on_error", "action"))
        return [PolicyProblem(
            file, line, col, "on_error lets everyone book without a credit check whenever Wix "
            "cannot answer, a rule fails or the gate is set up wrong (never when who is asking "
            "cannot be checked: that always gets the 503 page). If only Wix being down is "
            "meant, write it for that cause alone: on_error: {upstream: {action: allow}}",
            code="fails-open")]
    found = []
    for cause in opened:
        line, col = located.key_at(("on_error", cause, "action"))
        found.append(PolicyProblem(
            file, line, col, f"on_error lets everyone book without a credit check "
            f"{_OPEN_WHEN[cause]}", code="fails-open"))
    return found


def _samples() -> Iterable[tuple[str, Facts]]:
    """Members every condition must handle without an error; ``check`` also reports a rule
    that none of them, or all of them, match.

    Realistic inputs, the ones that break rules written with only a typical member in mind:
    visitors, no plan, zero, fractional and negative balances, old credits, the credits used
    while Wix is down, plans that cannot pay, classes that cost more than one credit, forms
    sent (POST) as well as opened.
    """
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    item_set = "sample-item-set"
    service = ServiceInfo("sample-service", known=True, item_sets=frozenset({item_set}))
    unknown = ServiceInfo("made-up-service", known=False)

    def snapshot(*pools: PoolBalance) -> BalanceSnapshot:
        return BalanceSnapshot(member_id="sample", pools=pools, fetched_at=0.0, source="sample")

    def pool(status: str, available: str, covers: bool = True, reserved: str = "0",
             price: str = "1") -> PoolBalance:
        benefits = (Benefit(item_set, Decimal(price)),) if covers else ()
        return PoolBalance("pool", Decimal(available), Decimal(reserved), status,
                           plan_id="plan", benefits=benefits)

    member = Identity("sample", "sample")
    cases = [
        ("a signed-out visitor", ANONYMOUS, None, service, 0.0),
        ("a member with no plan", member, snapshot(), service, 0.0),
        ("a member with 2.5 credits", member, snapshot(pool("ACTIVE", "2.5")), service, 0.0),
        ("a member with 0 credits", member, snapshot(pool("ACTIVE", "0")), service, 0.0),
        ("a member with credits split over two plans", member,
         snapshot(pool("ACTIVE", "0.5"), pool("ACTIVE", "0.5")), service, 0.0),
        ("a member whose balance is negative", member, snapshot(pool("ACTIVE", "-1")),
         service, 0.0),
        ("a member whose plan does not include the class", member,
         snapshot(pool("ACTIVE", "3", covers=False)), service, 0.0),
        ("a member whose plan is paused", member, snapshot(pool("PAUSED", "5")), service, 0.0),
        ("a member whose balance is an hour old", member, snapshot(pool("ACTIVE", "1")),
         service, 3600.0),
        ("a service Wix does not know", member, snapshot(pool("ACTIVE", "1")), unknown, 0.0),
        # Added after the ones above, so "it fails for ..." keeps naming the same first one.
        ("a member with 0.5 credits", member, snapshot(pool("ACTIVE", "0.5")), service, 0.0),
        ("a member with 10 credits", member, snapshot(pool("ACTIVE", "10")), service, 0.0),
        ("a member with credits held for a booking not yet confirmed", member,
         snapshot(pool("ACTIVE", "2", reserved="1")), service, 0.0),
        ("a member with 3 credits booking a class that costs 2", member,
         snapshot(pool("ACTIVE", "3", price="2")), service, 0.0),
        ("a member whose plan has ended", member, snapshot(pool("ENDED", "0")), service, 0.0),
        ("a member whose plan starts later", member, snapshot(pool("PENDING", "5")),
         service, 0.0),
        ("a member whose plan is renewing", member, snapshot(pool("RENEWING", "2")),
         service, 0.0),
        ("a member whose credits were read before Wix went down", member,
         snapshot(pool("ACTIVE", "1")), service, 330.0),
    ]
    for label, identity, balance, info, age in cases:
        for method in ("GET", "POST"):
            yield (label if method == "GET" else f"{label}, sending the form"), Facts(
                identity=identity, balance=balance, service=info, path="/booking-form",
                method=method, now=now, today="2026-01-01", balance_age=age)


def _seconds(max_age: int | str | None) -> float | None:
    """``10``, ``"10s"`` or ``"2m"`` as seconds (the model already checked the form)."""
    if max_age is None or isinstance(max_age, int):
        return None if max_age is None else float(max_age)
    text = max_age.strip()
    return float(text[:-1].strip()) * (60 if text.endswith("m") else 1)
