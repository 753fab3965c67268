"""Plain-language wording for everything that can be wrong in a policy file.

The people reading these run a studio. Each message says what is wrong in their words and
what to write instead; engine jargon ("overload", "int64") never reaches them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gate.policy.cel_checker import split_types
from gate.policy.clash_messages import OPERATORS, TYPE_WORDS, operand_clash, type_clash
from gate.policy.context import QUOTED_TEXT, VARIABLE_NAMES
from gate.policy.suggest import did_you_mean
from gate.policy.yaml_source import YAML11_BOOLEANS

__all__ = ["condition_message"]

_UNDECLARED = re.compile(r"undeclared reference to '([^']+)'")
_OVERLOAD = re.compile(r"(?:no matching overload for '([^']+)' applied to '\((.*)\)'|"
                       r"No matching overloads found : ([^(]+)\(([^)]*)\))")
#: Evaluation errors name the operator without the types: "No matching overloads found : !_",
#: or a method as "(double).startsWith(string)".
_OVERLOAD_METHOD = re.compile(r"No matching overloads found : \((\w+)\)\.(\w+)\(([^)]*)\)")
_OVERLOAD_BARE = re.compile(r"No matching overloads found : (\S+)\s*$")
_TOKEN = re.compile(r"(?:extraneous input|mismatched input|no viable alternative at input|"
                    r"token recognition error at:) '((?:[^'\\]|\\.)*)'")
_MISSING_KEY = re.compile(r"(?:No such key|Key not found in map)\s*:?\s*\"?([^\"\s]+)")
_SINGLE_EQUALS = re.compile(r"(?<![=!<>])=(?!=)")
_WORD_OPERATORS = re.compile(r"\b(and|or|not|AND|OR|NOT)\b")
_ENGINE_CODE = re.compile(r"^\s*[A-Z_]{3,}:\s*|\s*\[[A-Z_]{3,}\]\s*$")
_GAVE = re.compile(r"condition gave (\w+), not true or false|but this gives (.+)$")
_PLAIN_KINDS = {"text", "a number", "true/false"}


def condition_message(
    engine_message: str, source: str, operands: Sequence[str] = ()
) -> str:
    """Turn a CEL compile or evaluation error into a sentence for studio staff.

    ``operands``, when the engine found them, are the texts on each side of the operator
    that was used on values of the wrong kinds: the message then quotes them and shows the
    condition as it should be written.
    """
    undeclared = _UNDECLARED.search(engine_message)
    if undeclared:
        return _unknown_name(undeclared.group(1), source)
    overload = _OVERLOAD.search(engine_message)
    if overload:
        op = (overload.group(1) or overload.group(3) or "").strip()
        args = split_types(overload.group(2) or overload.group(4) or "")
        if len(operands) == 2 and len(args) == 2:
            clash = operand_clash(OPERATORS.get(op, op.strip("_")), args, *operands)
            if clash:
                return clash
        return type_clash(op, args, source)
    method = _OVERLOAD_METHOD.search(engine_message)
    if method:
        args = split_types(method.group(3))
        return type_clash(method.group(2), [method.group(1), *args], source)
    bare = _OVERLOAD_BARE.search(engine_message)
    if bare:
        return type_clash(bare.group(1), [], source)
    if "Syntax error" in engine_message:
        detail = engine_message.split("Syntax error:", 1)[-1].strip()
        return _syntax_message(detail, source)
    gave = _GAVE.search(engine_message)
    if gave:
        kind = _kind_words(gave.group(1) or gave.group(2) or "")
        return (f"this condition gives {kind}, not true or false; compare it with "
                "something, like  available <= 0  or  status == \"PAUSED\"")
    return _runtime_message(engine_message)


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
    code = QUOTED_TEXT.sub('""', source)  # what is inside quotes is text, not operators
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
    return TYPE_WORDS.get(name.split("(")[0].split("<")[0].lower(), "a value")


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


def _short(text: str) -> str:
    first = text.strip().split("\n")[0]
    return _ENGINE_CODE.sub("", first)[:160]
