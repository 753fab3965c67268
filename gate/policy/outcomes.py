"""A rule's action compiled into an Outcome, after the checks its shape alone cannot make.

A redirect needs ``to:`` and a deny needs ``message:``; a field the action does not use is
refused rather than ignored; a redirect target must be a plain path on this site, or the name
of one of the site's pages (``to: login``, see ``pages``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from gate.errors import PolicyProblem
from gate.policy.decision import Outcome
from gate.policy.model import OutcomeModel
from gate.policy.pages import Pages
from gate.policy.targets import redirect_target_problem
from gate.policy.yaml_source import Located

__all__ = ["compile_outcome"]


def compile_outcome(
    file: str,
    located: Located,
    base: tuple[Any, ...],
    model: OutcomeModel,
    pages: Pages,
    problems: list[PolicyProblem],
    rule: str | None,
    dropped: frozenset[str] = frozenset(),
) -> Outcome | None:
    """The outcome of a rule or setting, after the checks its shape alone cannot make.

    ``dropped`` fields were wrong and already reported; they are not "missing" as well.
    A ``to:`` that names one of ``pages`` goes to that page's path.
    """
    start = len(problems)
    target = model.to

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
        elif model.to is not None and model.to in pages:
            target = pages[model.to]
            if target is None:
                dropped |= {"to"}  # the page's own path is wrong, and reported where it is set
        elif model.to is not None:
            trouble = redirect_target_problem(model.to, pages)
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
        assert target is not None
        location = target
        if model.reason:
            location += ("&" if "?" in location else "?") + "reason=" + quote(model.reason)
        return Outcome("redirect", 303, location=location, reason=model.reason,
                       return_to=model.return_to)
    return Outcome("deny", model.status or 403, reason=model.reason, message=model.message)
