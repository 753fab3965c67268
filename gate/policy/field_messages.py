"""A field of a policy or policy-test file that did not validate, said in plain words.

pydantic reports what its validator saw (``string_pattern_mismatch``, ``literal_error``...);
staff need what to write instead, with the key they wrote quoted back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gate.policy.suggest import did_you_mean
from gate.policy.yaml_source import YAML11_BOOLEANS

__all__ = ["field_message"]


def field_message(error: dict[str, Any], allowed: Iterable[str], where: str) -> str:
    """A pydantic error on a policy file field, in plain words."""
    kind = error["type"]
    loc = error["loc"]
    field = str(loc[-1]) if loc else "this"
    value = error.get("input")
    if kind == "extra_forbidden":
        guess = did_you_mean(field, allowed)
        hint = f"did you mean `{guess}`?" if guess else "use one of: " + ", ".join(allowed)
        return f"`{field}` is not a setting {where}; {hint}"
    if kind == "missing":
        return f"{where} has no `{field}:`; add it"
    if kind == "value_error" and (error.get("ctx") or {}).get("error") is not None:
        return f"`{field}`: {error['ctx']['error']}"  # the check's own words, like an amount's
    if kind == "literal_error":
        shown = _show(value)
        if field == "action":
            return f"unknown action {shown}: use one of allow, redirect, deny"
        if field == "apiVersion":
            return f"apiVersion must be booking-gate/v1, not {shown}"
        if field == "mode":
            return f"unknown mode {shown}: use enforce or shadow"
        return f"{shown} is not allowed for `{field}`: {error['msg']}"
    if kind in {"bool_type", "bool_parsing"}:
        if isinstance(value, str) and value in YAML11_BOOLEANS:
            return f"`{value}` is not read as yes/no in these files; write true or false"
        if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
            return f"`{field}` is true or false: remove the quotes around {value.strip()}"
        return f"`{field}` must be true or false"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        if isinstance(value, str) and value.strip().isdigit():
            return f"`{field}` is a number: remove the quotes around {value.strip()}"
        return f"`{field}` must be a whole number, like 403"
    if kind in {"greater_than_equal", "less_than_equal"} and field == "status":
        return f"status {value} is not an error status; use a number from 400 to 599, like 403"
    if kind == "string_type":
        if field == "when":
            return "the condition must be text, like  when: available <= 0"
        if isinstance(value, list):
            return f"`{field}` must be text, not a list; write a single value"
        if isinstance(value, dict):
            return (f"`{field}` must be text, not a group of settings; write the value on "
                    f"the same line as `{field}:`")
        return f"`{field}` must be text; put it in quotes"
    if kind == "string_unicode":
        return (f"`{field}` contains a character code that is not a real character (like "
                "\\ud800); remove it")
    if kind == "string_pattern_mismatch":
        if field == "[key]" and loc[:1] == ("pages",):
            return (f"`{value}` is not a page name: page names use lowercase letters, digits, "
                    "'-' and '_', start with a letter and are at most 40 characters, like login")
        if field == "name":
            return ("rule names may use letters, digits, spaces, '-', '_' and '.', and are at "
                    "most 80 characters")
        if field == "reason":
            return ("reason codes use lowercase letters, digits, '-' and '_', start with a "
                    "letter or digit and are at most 40 characters, like no-credits")
    if kind == "string_too_short":
        return f"`{field}` is empty; write something or remove it"
    if kind == "string_too_long":
        limit = (error.get("ctx") or {}).get("max_length")
        return f"`{field}` is too long; keep it under {limit} characters"
    if kind == "list_type":
        if value is None:
            return (f"`{field}:` has nothing under it; put its items on the lines below, each "
                    f"starting with '- ', or write  {field}: []  for none")
        return f"`{field}:` must be a list; start each item on its own line with '- '"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        if isinstance(loc[-1], int):
            return "each rule must be a group of settings (name:, when:, action: ...)"
        return f"`{field}:` must be a group of settings on the lines below it"
    return f"`{field}`: {error['msg']}"


def _show(value: object) -> str:
    """A value quoted back to the reader: short text as is, anything else by what it is."""
    if isinstance(value, str):
        return f"`{value[:60]}`" + ("..." if len(value) > 60 else "")
    if isinstance(value, dict):
        return "(a group of settings)"
    if isinstance(value, list):
        return "(a list)"
    return f"`{value}`"
