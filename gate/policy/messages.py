"""Plain-language wording for everything that can be wrong in a policy file.

The people reading these run a studio. Each message says what is wrong in their words and
what to write instead; engine jargon ("overload", "int64") never reaches them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from gate.policy.context import VARIABLE_NAMES, VARIABLES
from gate.policy.yaml_source import YAML11_BOOLEANS

__all__ = ["condition_message", "did_you_mean", "field_message"]

_KIND = {v.name: v.kind for v in VARIABLES}
_UNDECLARED = re.compile(r"undeclared reference to '([^']+)'")
_OVERLOAD = re.compile(r"(?:no matching overload for '([^']+)' applied to '\(([^)]*)\)'|"
                       r"No matching overloads found : ([^(]+)\(([^)]*)\))")
_OPERATORS = {
    "_<=_": "<=", "_<_": "<", "_>=_": ">=", "_>_": ">", "_==_": "==", "_!=_": "!=",
    "_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%", "_&&_": "&&", "_||_": "||",
    "!_": "!", "@in": "in",
}
_TYPE_WORDS = {
    "double": "a number", "int": "a whole number", "int64": "a whole number",
    "uint": "a whole number", "uint64": "a whole number", "string": "text",
    "bool": "true/false", "google.protobuf.Timestamp": "a time", "timestamp": "a time",
    "list": "a list", "map": "a pool",
}


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return found[0] if found else None


def condition_message(engine_message: str, source: str) -> str:
    """Turn a CEL compile or evaluation error into a sentence for studio staff."""
    undeclared = _UNDECLARED.search(engine_message)
    if undeclared:
        return _unknown_name(undeclared.group(1), source)
    overload = _OVERLOAD.search(engine_message)
    if overload:
        op = overload.group(1) or overload.group(3) or ""
        args = [a.strip() for a in (overload.group(2) or overload.group(4) or "").split(",")]
        return _type_clash(op.strip(), args)
    if "Syntax error" in engine_message:
        detail = engine_message.split("Syntax error:", 1)[-1].strip()
        if "'='" in detail or "token recognition error at: '='" in detail:
            return "to compare, write == (two equals signs), not ="
        return ("this condition is not written correctly here; check for a missing value, "
                "bracket or quote (the engine says: " + _short(detail) + ")")
    if "No such key" in engine_message or "Key not found" in engine_message:
        return f"this condition reads a field that does not exist ({_short(engine_message)})"
    if "index out of bounds" in engine_message.lower() or "invalid_argument: index" in (
        engine_message.lower()
    ):
        return "this condition reads a list position that may not exist; use exists() instead"
    return f"this condition cannot be used: {_short(engine_message)}"


def _unknown_name(name: str, source: str) -> str:
    guess = did_you_mean(name, VARIABLE_NAMES)
    if guess:
        return f"`{name}` is not something a rule can check; did you mean `{guess}`?"
    if name.upper() == name and name.replace("_", "").isalpha():
        subject = "status" if "status" in source else "the value"
        return f"`{subject}` is text: put {name} in quotes, like \"{name}\""
    if name in YAML11_BOOLEANS or name in {"True", "False", "TRUE", "FALSE"}:
        return f"write true or false in lowercase, not `{name}`"
    known = ", ".join(sorted(VARIABLE_NAMES))
    return f"`{name}` is not something a rule can check. A rule can check: {known}"


def _type_clash(op: str, args: list[str]) -> str:
    symbol = _OPERATORS.get(op, op.strip("_"))
    words = [_TYPE_WORDS.get(a.split("(")[0].split("<")[0], a) for a in args]
    numeric = {"double", "int", "int64", "uint", "uint64"}
    kinds = {a.split("(")[0] for a in args}
    if symbol in {"+", "-", "*", "/", "%"} and kinds <= numeric and "double" in kinds:
        return (f"credits can have decimals, so use a decimal number with {symbol}: "
                "write 1.0 instead of 1")
    if "string" in kinds and kinds & numeric:
        return (f"this compares {words[0]} with {words[-1]} using {symbol}; numbers are "
                "written without quotes and text with quotes")
    if len(words) == 2:
        return f"{symbol} cannot be used between {words[0]} and {words[1]}"
    return f"{symbol} cannot be used with {', '.join(words)}"


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
    if kind == "literal_error":
        if field == "action":
            return f"unknown action `{value}`: use one of allow, redirect, deny"
        if field == "apiVersion":
            return f"apiVersion must be booking-gate/v1, not `{value}`"
        if field == "mode":
            return f"unknown mode `{value}`: use enforce or shadow"
        return f"`{value}` is not allowed for `{field}`: {error['msg']}"
    if kind in {"bool_type", "bool_parsing"}:
        if isinstance(value, str) and value in YAML11_BOOLEANS:
            return f"`{value}` is not read as yes/no in these files; write true or false"
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
        return f"`{field}` must be text; put it in quotes"
    if kind == "string_pattern_mismatch":
        if field == "name":
            return ("rule names may use letters, digits, spaces, '-', '_' and '.', and are at "
                    "most 80 characters")
        if field == "reason":
            return "reason codes use lowercase letters, digits, '-' and '_', like no-credits"
    if kind == "string_too_short":
        return f"`{field}` is empty; write something or remove it"
    if kind == "string_too_long":
        limit = (error.get("ctx") or {}).get("max_length")
        return f"`{field}` is too long; keep it under {limit} characters"
    if kind == "list_type":
        return f"`{field}:` must be a list; start each item on its own line with '- '"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        if isinstance(loc[-1], int):
            return "each rule must be a group of settings (name:, when:, action: ...)"
        return f"`{field}:` must be a group of settings on the lines below it"
    return f"`{field}`: {error['msg']}"


def _short(text: str) -> str:
    first = text.strip().split("\n")[0]
    return first[:160]
