"""A policy file's shape, checked field by field: one bad rule never hides the others.

Each rule is validated on its own; a rule that fails is validated again without its wrong
fields, so its other mistakes are found in the same run, and a rule that cannot be rescued
still has its name and condition checked. ``when`` values YAML did not read as text are fixed
up or refused here first, in words staff recognise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gate.errors import PolicyProblem
from gate.policy.field_messages import field_message
from gate.policy.model import (
    PAGE_NAME_PATTERN,
    OnErrorModel,
    OutcomeModel,
    PolicyFileModel,
    RuleModel,
)
from gate.policy.policyset import CAUSES
from gate.policy.suggest import did_you_mean
from gate.policy.yaml_source import YAML11_BOOLEANS, Located

__all__ = ["OUTCOME_FIELDS", "LooseRule", "ParsedFile", "ValidRule", "validate_file"]

_FILE_FIELDS = tuple(PolicyFileModel.model_fields)
_RULE_FIELDS = tuple(RuleModel.model_fields)
OUTCOME_FIELDS = tuple(OutcomeModel.model_fields)
_ON_ERROR_FIELDS = tuple(OnErrorModel.model_fields)
_PAGE_NAME = re.compile(PAGE_NAME_PATTERN)
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ValidRule:
    """A rule that validated, possibly only once its wrong optional fields were left out."""

    index: int
    model: RuleModel
    #: Fields already reported as wrong and left out: later checks must not call them missing.
    dropped: frozenset[str]


@dataclass(frozen=True, slots=True)
class LooseRule:
    """A rule that did not validate: its name and condition are still checked."""

    index: int
    name: str | None
    when: str


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """One file that parsed: its settings and the rules that validated, by list position."""

    name: str
    located: Located
    #: None when the settings are wrong beyond repair; its rules are still checked.
    model: PolicyFileModel | None
    rules: list[ValidRule]
    #: Rules that failed validation: still checked, to report their other mistakes too.
    loose: list[LooseRule]
    #: The entries of ``pages:`` that validated, even when others did not (those are reported).
    pages: dict[str, str]


def validate_file(file: str, located: Located, problems: list[PolicyProblem]) -> ParsedFile | None:
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
    rules: list[ValidRule] = []
    loose: list[LooseRule] = []
    for index, raw in enumerate(raw_rules):
        if isinstance(raw, dict):
            _check_condition_value(file, located, index, raw, problems)
        rule, dropped = _parse(RuleModel, raw, ("rules", index), file, located, problems)
        if rule is not None:
            rules.append(ValidRule(index, rule, dropped))
        elif isinstance(raw, dict) and isinstance(raw.get("when"), str):
            name = raw.get("name") if isinstance(raw.get("name"), str) else None
            loose.append(LooseRule(index, name, raw["when"]))
    return ParsedFile(file, located, model, rules, loose, _pages(model, data.get("pages")))


def _pages(model: PolicyFileModel | None, raw: Any) -> dict[str, str]:
    """The pages that validated: a wrong page drops ``pages:`` from the model, not its others."""
    if model is not None and model.pages is not None:
        return dict(model.pages)
    if not isinstance(raw, dict):
        return {}
    return {name: path for name, path in raw.items()
            if isinstance(name, str) and _PAGE_NAME.match(name) and isinstance(path, str)}


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
        return OUTCOME_FIELDS if len(loc) >= 3 and loc[1] in CAUSES else _ON_ERROR_FIELDS
    if loc[:1] == ("default",):
        return OUTCOME_FIELDS
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
    elif allowed is OUTCOME_FIELDS and loc[0] == "on_error":
        owner = f"`{loc[1]}:` under `on_error:`"
        where = owner if error["type"] == "missing" else f"{owner} can have"
    elif allowed in (OUTCOME_FIELDS, _ON_ERROR_FIELDS):
        where = f"`{loc[0]}:`" if error["type"] == "missing" else f"`{loc[0]}` can have"
    else:
        where = "this file" if error["type"] == "missing" else "of a policy file"
    message = field_message(error, allowed, where)
    if error["type"] == "extra_forbidden":
        line, col = located.key_at(loc)
    elif loc[-1:] == ("[key]",):
        line, col = located.key_at(loc[:-1])  # a mapping's key is what is wrong: `pages:`
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
