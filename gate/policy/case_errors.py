"""What is wrong in a policy-test case, in plain words: for test files, and for ``explain``.

pydantic reports a union (``member: signed-out`` or a balance) once per branch, and names
branches in the error's path; only the branch the writer meant is worth telling them about.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from gate.errors import PolicyProblem
from gate.policy.cases_model import CaseModel, PolicyTestFileModel, fields_at
from gate.policy.field_messages import field_message
from gate.policy.yaml_source import Located

__all__ = ["read_case", "validate_test_file"]


def validate_test_file(
    file: str, located: Located, problems: list[PolicyProblem]
) -> PolicyTestFileModel | None:
    """The test file's cases, or None with each mistake in ``problems`` at its position."""
    try:
        return PolicyTestFileModel.model_validate(located.data)
    except ValidationError as exc:
        for loc, kind, message in _explained(exc, located.data):
            line, col = located.key_at(loc) if kind == "extra_forbidden" else located.at(loc)
            problems.append(PolicyProblem(file, line, col, message, code=kind))
        return None


def read_case(data: dict[str, Any]) -> CaseModel:
    """One case given as values (``booking-gate explain``), or ValueError saying what is wrong."""
    try:
        return CaseModel.model_validate(data, strict=False)
    except ValidationError as exc:
        raise ValueError("; ".join(message for _, _, message in _explained(exc, data))) from None


def _explained(exc: ValidationError, data: Any) -> Iterator[tuple[tuple[Any, ...], str, str]]:
    """Each error the writer needs to see: where (without union branches), kind, message."""
    for error in exc.errors():
        raw_loc = tuple(error["loc"])
        # Union branches show up in the path as type names: "literal[...]", "MemberModel",
        # or "function-after[...]" for a model with a validator. None is a place to report.
        branch = next((p for p in raw_loc if isinstance(p, str) and (
            p[:1].isupper() or p.startswith(("literal[", "function-")))), None)
        # Unions report one error per branch; keep only the branch the writer meant.
        if branch is not None and branch.startswith("literal[") == isinstance(
                _value_at(data, raw_loc[:raw_loc.index(branch)]), dict):
            continue
        loc = tuple(p for p in raw_loc if p != branch)
        error["loc"] = loc
        if error["type"] == "timezone_aware":
            message = (f"`{loc[-1]}` needs its time zone: write it like "
                       "\"2026-12-25T10:00:00Z\" (Z means UTC) or \"...T10:00:00+01:00\"")
        elif error["type"] == "value_error" and loc[-1:] == ("expect",):
            message = ("`expect` needs exactly one of  allow: true,  redirect: /page  or  "
                       "deny: 403 (or just  expect: allow)")
        elif error["type"] == "string_pattern_mismatch" and loc[-1] in ("redirect", "path"):
            message = (f"`{loc[-1]}` is a page of this site: start it with /, like "
                       "/plans-pricing")
        elif branch is not None and branch.startswith("literal["):
            message = (f"`{error.get('input')}` is not a kind of {loc[-1]}: use one of "
                       f"{_choices(branch)}, or the settings of one")
        else:
            message = field_message(dict(error), fields_at(loc), "in a test file")
        yield loc, error["type"], message


def _choices(branch: str) -> str:
    return ", ".join(c.strip(" '") for c in branch.removeprefix("literal[")[:-1].split(","))


def _value_at(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
