"""The settings a policy set has once, whichever file sets them: ``default``, ``on_error``
(its fail modes, one per cause) and ``timezone``; and a warning for every fail mode that lets
people book without a credit check.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gate.errors import PolicyProblem
from gate.policy.decision import Outcome
from gate.policy.model import OnErrorModel, OutcomeModel
from gate.policy.outcomes import compile_outcome
from gate.policy.pages import Pages
from gate.policy.policyset import CAUSES, DEFAULT_DEFAULT, Cause, FailModes
from gate.policy.validation import OUTCOME_FIELDS, ParsedFile
from gate.policy.yaml_source import Located

__all__ = ["compile_settings"]


def compile_settings(
    parsed: list[ParsedFile],
    pages: Pages,
    problems: list[PolicyProblem],
    warnings: list[PolicyProblem],
) -> tuple[Outcome, FailModes, ZoneInfo]:
    """The set's ``default``, fail modes and time zone: each set in one file at most."""
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
            outcome = compile_outcome(file, located, ("default",), model.default, pages,
                                      problems, None)
            default = outcome or default
        if model.on_error is not None:
            modes = _fail_modes(file, located, model.on_error, pages, problems)
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
    file: str, located: Located, model: OnErrorModel, pages: Pages, problems: list[PolicyProblem]
) -> FailModes | None:
    """``on_error`` as one outcome for every cause, or one per cause; None if it is wrong.

    An ``identity`` cause that allows is refused: a visitor can make identity fail (a junk
    token, too many of them), so it would open the checkout to anyone.
    """
    base = ("on_error",)
    causes = [c for c in CAUSES if getattr(model, c) is not None]
    plain = [f for f in OUTCOME_FIELDS if f in model.model_fields_set]
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
        values = {f: getattr(model, f) for f in OUTCOME_FIELDS}
        every = OutcomeModel.model_construct(
            _fields_set=model.model_fields_set & set(OUTCOME_FIELDS), **values)
        outcome = compile_outcome(file, located, base, every, pages, problems, None)
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
        outcome = compile_outcome(file, located, (*base, cause), given, pages, problems,
                                  None)
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
