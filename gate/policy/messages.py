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
_OVERLOAD = re.compile(r"(?:no matching overload for '([^']+)' applied to '\((.*)\)'|"
                       r"No matching overloads found : ([^(]+)\(([^)]*)\))")
#: Evaluation errors name the operator without the types: "No matching overloads found : !_",
#: or a method as "(double).startsWith(string)".
_OVERLOAD_METHOD = re.compile(r"No matching overloads found : \((\w+)\)\.(\w+)\(([^)]*)\)")
_OVERLOAD_BARE = re.compile(r"No matching overloads found : (\S+)\s*$")
_TOKEN = re.compile(r"(?:extraneous input|mismatched input|no viable alternative at input|"
                    r"token recognition error at:) '((?:[^'\\]|\\.)*)'")
_MACROS = re.compile(r"\.\s*(?:exists|all|exists_one|filter|map)\s*\(")
_MISSING_KEY = re.compile(r"(?:No such key|Key not found in map)\s*:?\s*\"?([^\"\s]+)")
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
_OPERATORS = {
    "_<=_": "<=", "_<_": "<", "_>=_": ">=", "_>_": ">", "_==_": "==", "_!=_": "!=",
    "_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%", "_&&_": "&&", "_||_": "||",
    "!_": "!", "@in": "in", "_[_]": "[ ]", "_?_:_": "? :", "<jump_condition>": "? :",
    "-_": "-",
}
#: Words people reach for that are not the name: the nearest spelling would be a bad guess.
_SYNONYMS = {
    "condition": "when", "if": "when", "rule": "rules",
    "url": "to", "target": "to", "redirect": "to", "redirect_to": "to", "location": "to",
    "msg": "message", "text": "message", "code": "status", "http_status": "status",
    "credits": "available", "balance": "available", "logged_in": "signed_in",
    "signedin": "signed_in", "plan_status": "status",
}
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_SINGLE_EQUALS = re.compile(r"(?<![=!<>])=(?!=)")
_WORD_OPERATORS = re.compile(r"\b(and|or|not|AND|OR|NOT)\b")
_INT_LITERAL = re.compile(r"(?<![\w.])(\d+)(?![\w.])")
_ENGINE_CODE = re.compile(r"^\s*[A-Z_]{3,}:\s*|\s*\[[A-Z_]{3,}\]\s*$")
_GAVE = re.compile(r"condition gave (\w+), not true or false|but this gives (.+)$")
_TYPE_WORDS = {
    "double": "a number", "int": "a whole number", "int64": "a whole number",
    "uint": "a whole number", "uint64": "a whole number", "string": "text",
    "bool": "true/false", "google.protobuf.Timestamp": "a time", "timestamp": "a time",
    "list": "a list", "map": "a pool", "null_type": "nothing", "null": "nothing",
    "duration": "a length of time", "bytes": "bytes", "dyn": "a value",
}
_PLAIN_KINDS = {"text", "a number", "true/false"}


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """The option ``word`` was probably meant to be, if one is close enough to suggest.

    The cut-off is high on purpose: a wrong guess ("owner"? did you mean "on_error") sends
    people the wrong way, while no guess lists every option instead.
    """
    options = list(options)
    synonym = _SYNONYMS.get(word.lower())
    if synonym in options:
        return synonym
    found = difflib.get_close_matches(word, options, n=1, cutoff=0.7)
    if not found:
        found = [o for o in options if o.lower() == word.lower()]
    return found[0] if found else None


def condition_message(engine_message: str, source: str) -> str:
    """Turn a CEL compile or evaluation error into a sentence for studio staff."""
    undeclared = _UNDECLARED.search(engine_message)
    if undeclared:
        return _unknown_name(undeclared.group(1), source)
    overload = _OVERLOAD.search(engine_message)
    if overload:
        op = overload.group(1) or overload.group(3) or ""
        args = _split_types(overload.group(2) or overload.group(4) or "")
        return _type_clash(op.strip(), args, source)
    method = _OVERLOAD_METHOD.search(engine_message)
    if method:
        args = _split_types(method.group(3))
        return _type_clash(method.group(2), [method.group(1), *args], source)
    bare = _OVERLOAD_BARE.search(engine_message)
    if bare:
        return _type_clash(bare.group(1), [], source)
    if "Syntax error" in engine_message:
        detail = engine_message.split("Syntax error:", 1)[-1].strip()
        return _syntax_message(detail, source)
    gave = _GAVE.search(engine_message)
    if gave:
        kind = _kind_words(gave.group(1) or gave.group(2) or "")
        return (f"this condition gives {kind}, not true or false; compare it with "
                "something, like  available <= 0  or  status == \"PAUSED\"")
    return _runtime_message(engine_message)


def _split_types(text: str) -> list[str]:
    """"list(int), map(string, dyn)" → its two types: split at commas outside brackets."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "(<") - (ch in ")>")
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return [p for p in parts if p]


def _runtime_message(engine_message: str) -> str:
    """Errors about what a value can do, found while compiling or trying the condition."""
    lowered = engine_message.lower()
    if "no such key" in lowered or "key not found" in lowered:
        key = _MISSING_KEY.search(engine_message)
        name = f"`{key.group(1)}`" if key else "a field"
        return (f"this condition reads {name}, which is not there; a pool has the fields id, "
                "status, available, reserved and plan")
    if "index out of bounds" in lowered or "index error" in lowered or (
        "invalid_argument: index" in lowered
    ):
        return "this condition reads a list position that may not exist; use exists() instead"
    if "divide by zero" in lowered or "modulus by zero" in lowered:
        return "this condition divides by zero; make sure the number after / or % is never 0"
    if "select operation" in lowered or "applying select" in lowered:
        return ("a .name is read from something that has no fields; only a pool has "
                "fields, like  pools.exists(p, p.status == \"PAUSED\")")
    if "invalid container type" in lowered:
        return "`in` needs a list after it, like  status in [\"PAUSED\", \"ENDED\"]"
    if "has() argument" in lowered:
        return "has() checks that a pool has a field; write it like  has(p.plan)"
    if "int literal" in lowered or "uint literal" in lowered or "out of range" in lowered:
        return "a number here is too large; use a smaller one"
    if "incompatible function arguments" in lowered:  # text the engine cannot take at all
        return "the condition contains a character that cannot be read; retype it"
    return f"this condition cannot be used: {_short(engine_message)}"


def _syntax_message(detail: str, source: str) -> str:
    """The engine's parser wording → the likely slip, most specific first."""
    if "token recognition error at: '\"" in detail or "token recognition error at: ''" in (
        detail
    ):
        return "a quote is opened but never closed; add the closing quote"
    code = _STRINGS.sub('""', source)  # what is inside quotes is text, not operators
    if _SINGLE_EQUALS.search(code):
        return "to compare, write == (two equals signs), not ="
    word = _WORD_OPERATORS.search(code)
    if word:
        return ("conditions write 'and' as &&, 'or' as || and 'not' as !; replace "
                f"`{word.group(1)}`")
    if "missing ')'" in detail:
        return "a ( is never closed; add the missing )"
    if "extraneous input ')'" in detail or "mismatched input ')'" in detail:
        return "there is a ) without a matching ( before it; remove it or add the ("
    if "'<EOF>'" in detail or "<EOF>" in detail.split("expecting")[0]:
        return ("the condition stops too early: something is missing at the end, like the "
                "value after <=, && or ||")
    token = _TOKEN.search(detail)
    if token and token.group(1).strip():
        shown = token.group(1).strip()[:20]
        if "token recognition error" in detail:
            return (f"`{shown}` cannot be used in a condition; check for a typo (&& and || "
                    "are written with two signs)")
        return (f"`{shown}` is not expected here; check for a missing operator (like && or "
                "==), bracket or quote just before it")
    return ("this condition is not written correctly here; check for a missing value, "
            "bracket or quote")


def _kind_words(engine_type: str) -> str:
    """A value type as the engine names it (DOUBLE, list(string)...) in plain words."""
    name = engine_type.strip()
    if name in _PLAIN_KINDS:
        return name
    return _TYPE_WORDS.get(name.split("(")[0].split("<")[0].lower(), "a value")


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


def _type_clash(op: str, args: list[str], source: str) -> str:
    """An operator or function used on values it does not work with."""
    symbol = _OPERATORS.get(op, op.strip("_"))
    words = [_type_word(a) for a in args]
    numeric = {"double", "int", "int64", "uint", "uint64"}
    kinds = {a.split("(")[0].lower() for a in args}
    if symbol in {"+", "-", "*", "/", "%"} and kinds <= numeric and "double" in kinds:
        whole = _whole_number_near(symbol, _STRINGS.sub('""', source))
        return (f"credits can have decimals, so numbers used with {symbol} need a decimal "
                f"point: write {whole}.0 instead of {whole}")
    if symbol in _COMPARISONS and "string" in kinds and kinds & numeric:
        return (f"this compares {words[0]} with {words[-1]} using {symbol}; numbers are "
                "written without quotes and text with quotes")
    special = _operator_hint(symbol, words, source)
    if special:
        return special
    if symbol.isidentifier():
        on = f" on {words[0]}" if words else " here"
        extra = f" with {', '.join(words[1:])}" if len(words) > 1 else ""
        return f"{symbol}() cannot be used{on}{extra}"
    if len(words) == 2:
        return f"{symbol} cannot be used between {words[0]} and {words[1]}"
    if words:
        return f"{symbol} cannot be used with {', '.join(words)}"
    return f"{symbol} cannot be used with the values here"


def _whole_number_near(symbol: str, code: str) -> str:
    """The whole number written next to ``symbol`` (the one to fix), else the first one."""
    op = re.escape(symbol)
    beside = re.search(rf"{op}\s*(\d+)(?![\w.])|(?<![\w.])(\d+)\s*{op}", code)
    if beside:
        return beside.group(1) or beside.group(2)
    number = _INT_LITERAL.search(code)
    return number.group(1) if number else "1"


def _type_word(engine_type: str) -> str:
    base = engine_type.split("(")[0].split("<")[0].strip()
    return _TYPE_WORDS.get(base) or _TYPE_WORDS.get(base.lower(), engine_type)


def _operator_hint(symbol: str, words: list[str], source: str) -> str | None:
    """Operators whose purpose is worth explaining, not just their argument types."""
    code = _STRINGS.sub('""', source)
    if symbol in {"&&", "||", "? :"} and symbol[0] not in code and _MACROS.search(code):
        # exists(), all() and exists_one() are built from these operators: say what they wrote.
        return ("the check inside exists(), all() or exists_one() must be true or false, like"
                "  pools.exists(p, p.status == \"PAUSED\")")
    if symbol == "in":
        pair = " and ".join(words[:2]) or "these values"
        return (f"`in` checks whether a value is in a list, like  status in [\"PAUSED\", "
                f"\"ENDED\"]; it cannot be used between {pair}")
    if symbol in {"&&", "||"}:
        return (f"{symbol} joins two checks that are each true or false, like  !signed_in "
                f"{symbol} available <= 0; one side here is not")
    if symbol == "!":
        return ("! turns a true/false check around, like  !signed_in; it cannot be used on "
                + (words[0] if words else "this value"))
    if symbol == "? :":
        return ("in  a ? b : c  the part before ? must be a check that is true or false, and "
                "b and c must be the same kind of value")
    if symbol == "[ ]":
        on = words[0] if words else "this value"
        return f"[ ] picks an item from a list by its position, like plans[0]; not from {on}"
    return None


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


def _short(text: str) -> str:
    first = text.strip().split("\n")[0]
    return _ENGINE_CODE.sub("", first)[:160]


def _show(value: object) -> str:
    """A value quoted back to the reader: short text as is, anything else by what it is."""
    if isinstance(value, str):
        return f"`{value[:60]}`" + ("..." if len(value) > 60 else "")
    if isinstance(value, dict):
        return "(a group of settings)"
    if isinstance(value, list):
        return "(a list)"
    return f"`{value}`"
