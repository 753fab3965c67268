"""Plain-language wording for everything that can be wrong in a policy file.

The people reading these run a studio. Each message says what is wrong in their words and
what to write instead; engine jargon ("overload", "int64") never reaches them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from gate.policy.context import VARIABLE_NAMES, VARIABLES
from gate.policy.engine import split_types
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
_ARITHMETIC = {"+", "-", "*", "/", "%"}
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
_NUMERIC = {"double", "int", "int64", "uint", "uint64"}
_WHOLE_TYPES = {"int", "int64", "uint", "uint64"}
_FAMILIES = {
    "string": "text", "bool": "yes/no", "google.protobuf.timestamp": "time", "timestamp": "time",
    "list": "list", "map": "pool", "null_type": "null", "duration": "duration",
}
_FAMILY_WORDS = {
    "number": "a number", "text": "text", "yes/no": "true or false", "time": "a time",
    "list": "a list", "pool": "a pool", "null": "nothing (null)", "duration": "a length of time",
}
_STRING_LITERAL = re.compile(r"""(["'])((?:(?!\1)[^\\]|\\.)*)\1""")
_NUMBER_LITERAL = re.compile(
    r"[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?)[uU]?")
#: Text or numbers people write for true and false.
_TRUTH = {"true": True, "yes": True, "y": True, "on": True, "1": True,
          "false": False, "no": False, "n": False, "off": False, "0": False}


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
            clash = _operand_clash(_OPERATORS.get(op, op.strip("_")), args, *operands)
            if clash:
                return clash
        return _type_clash(op, args, source)
    method = _OVERLOAD_METHOD.search(engine_message)
    if method:
        args = split_types(method.group(3))
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
        if whole is None:
            return (f"credits can have decimals, so a whole number used with {symbol} must be "
                    "turned into one that can too: put double() around it, like "
                    "double(size(plans))")
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


def _family(engine_type: str) -> str:
    """What kind of value an engine type is, in the words rules use."""
    base = engine_type.split("(")[0].strip().lower()
    if base in _NUMERIC:
        return "number"
    return _FAMILIES.get(base, "value")


def _shown(operand: str) -> str:
    """An operand quoted back: literals as written, anything else in backticks."""
    if _STRING_LITERAL.fullmatch(operand) or _NUMBER_LITERAL.fullmatch(operand) or (
        operand in {"true", "false", "null"}
    ):
        return operand
    return f"`{operand}`"


def _text_inside(operand: str) -> str | None:
    """What a quoted text literal holds, or None when the operand is not one."""
    found = _STRING_LITERAL.fullmatch(operand)
    return found.group(2) if found else None


def _written_as(left: str, symbol: str, right: str) -> str:
    return f"{left} {symbol} {right}"


def _negated(check: str) -> str:
    return f"!{check}" if re.fullmatch(r"[\w.]+", check) else f"!({check})"


def _operand_clash(symbol: str, types: list[str], left: str, right: str) -> str | None:
    """A two-sided operator whose sides can never work together, said with both sides and
    the condition as it should be written; None when there is nothing better to say."""
    kinds = (_family(types[0]), _family(types[1]))
    ordered = symbol in {"<", "<=", ">", ">="}
    never = (f"they cannot be compared with {symbol}" if ordered
             else "they can never be equal" if symbol in {"==", "!="} else "")

    def side(kind: str) -> int | None:
        return 0 if kinds[0] == kind else 1 if kinds[1] == kind else None

    def swap(index: int, replacement: str) -> str:
        return _written_as(replacement if index == 0 else left, symbol,
                           replacement if index == 1 else right)

    operands = (left, right)
    if kinds == ("number", "number"):
        return _numbers_clash(symbol, types, left, right)
    number, text, flag = side("number"), side("text"), side("yes/no")
    listed, time = side("list"), side("time")
    if number is not None and text is not None and (never or symbol in _ARITHMETIC):
        num, txt = operands[number], operands[text]
        inside = _text_inside(txt)
        if inside is not None and _NUMBER_LITERAL.fullmatch(inside.strip()):
            return (f"{_shown(num)} is a number, but {txt} is text: write "
                    f"{swap(text, inside.strip())}")
        if not never:
            return None
        if inside is not None:
            example = swap(text, "0")
            return (f"{_shown(num)} is a number, but {txt} is text, so {never}: compare it "
                    f"with a number, written without quotes, like {example}")
        if _NUMBER_LITERAL.fullmatch(num):
            quoted = '"' + num.lstrip("+") + '"'
            return (f"{_shown(txt)} is text, but {num} is a number, so {never}: put the value "
                    f"in quotes, like {swap(number, quoted)}")
        return (f"{_shown(num)} is a number and {_shown(txt)} is text, so {never}; compare "
                "numbers with numbers and text with text")
    if flag is not None and (text is not None or number is not None) and never and (
        re.fullmatch(r"[\w.]+", operands[flag])
    ):
        other = operands[1 - flag]
        word = _text_inside(other) if text is not None else other
        truth = None if word is None else _TRUTH.get(word.strip().lower())
        what = "text" if text is not None else "a number"
        name = operands[flag]
        if truth is not None and symbol in {"==", "!="}:
            wanted = truth == (symbol == "==")
            return (f"{_shown(name)} is true or false, but {other} is {what}: write "
                    f"{name if wanted else _negated(name)}")
        return (f"{_shown(name)} is true or false, not {what}: write {name} for true, or "
                f"{_negated(name)} for false, without quotes or numbers")
    if listed is not None and kinds[1 - listed] in {"number", "text", "yes/no"} and never:
        items, item = operands[listed], operands[1 - listed]
        if kinds[1 - listed] == "number":
            return (f"{_shown(items)} is a list, not a number: to count its items, write "
                    f"{swap(listed, f'size({items})')}")
        if symbol in {"==", "!="}:
            check = f"{item} in {items}"
            return (f"{_shown(items)} is a list, but {_shown(item)} is a single value: to "
                    "check whether it is in the list, write "
                    f"{check if symbol == '==' else _negated(check)}")
        return None
    if time is not None and never and kinds[1 - time] in {"text", "number"}:
        when = operands[time]
        if kinds[1 - time] == "text":
            return (f"{_shown(when)} is a time, but {_shown(operands[1 - time])} is text: to "
                    "compare with a date, use today (the date as text), like "
                    f"{swap(time, 'today')}")
        hours = f'{when}.getHours("Europe/Lisbon")' if when.isidentifier() else "the hour"
        return (f"{_shown(when)} is a time, not a number: to compare the hour, write "
                f"{swap(time, hours)} (with your time zone)")
    if symbol == "in" and listed == 1 and kinds[0] in {"number", "text"}:
        held = _family(types[1][types[1].find("(") + 1:-1])
        if {kinds[0], held} == {"number", "text"}:
            texts = _STRING_LITERAL.findall(right)
            if kinds[0] == "number" and texts and all(
                _NUMBER_LITERAL.fullmatch(t.strip()) for _, t in texts
            ):
                fixed = _STRING_LITERAL.sub(lambda m: m.group(2).strip(), right)
                return (f"{_shown(left)} is a number, but the list holds text: write "
                        f"{left} in {fixed}")
            return (f"{_shown(left)} is {_FAMILY_WORDS[kinds[0]]}, but the list holds "
                    f"{_FAMILY_WORDS[held]}, so it is never in it: write "
                    + ("numbers without quotes" if kinds[0] == "number"
                       else "text in quotes, like status in [\"PAUSED\", \"ENDED\"]"))
        return None
    if never and "null" in kinds and "text" in kinds:
        txt = operands[kinds.index("text")]
        return (f"{_shown(txt)} is text and is never null; to check that it is empty, write "
                f"{txt} {'==' if symbol == '==' else '!='} \"\"")
    if never and "value" not in kinds and kinds[0] != kinds[1]:
        return (f"{_shown(left)} is {_FAMILY_WORDS[kinds[0]]} and {_shown(right)} is "
                f"{_FAMILY_WORDS[kinds[1]]}, so {never}")
    return None


def _numbers_clash(symbol: str, types: list[str], left: str, right: str) -> str | None:
    """Whole numbers and decimals the engine could not mix by itself."""
    whole = [t.split("(")[0].strip().lower() in _WHOLE_TYPES for t in types]
    operands = (left, right)
    if symbol == "%":
        fixed = [o if w or _NUMBER_LITERAL.fullmatch(o) else f"int({o})"
                 for o, w in zip(operands, whole, strict=True)]
        decimal = next((o for o, w in zip(operands, whole, strict=True) if not w), left)
        return ("% (the remainder after dividing) works with whole numbers only, and "
                f"{_shown(decimal)} can have decimals: write "
                f"{_written_as(fixed[0], '%', fixed[1])}")
    if whole[0] == whole[1]:
        return None
    number = operands[whole.index(True)]
    decimal = operands[whole.index(False)]
    if _NUMBER_LITERAL.fullmatch(number):
        return (f"credits can have decimals, so numbers used with {symbol} need a decimal "
                f"point: write {number}.0 instead of {number}")
    fix = (f"write double({_unwrapped(number)}) instead of {number}, so the two can be used "
           "together")
    if _NUMBER_LITERAL.fullmatch(decimal):  # a number written out, read as a decimal
        return (f"{_shown(number)} is a whole number, but the other side of {symbol} can have "
                f"decimals: {fix}")
    return f"{_shown(decimal)} can have decimals, but {_shown(number)} is a whole number: {fix}"


def _unwrapped(operand: str) -> str:
    """``operand`` without brackets around the whole of it: (a - b) → a - b."""
    while operand.startswith("(") and operand.endswith(")"):
        depth = 0
        for i, ch in enumerate(operand):
            depth += (ch == "(") - (ch == ")")
            if depth == 0 and i < len(operand) - 1:
                return operand
        operand = operand[1:-1].strip()
    return operand


def _whole_number_near(symbol: str, code: str) -> str | None:
    """The whole number written next to ``symbol`` (the one to fix), else the first one."""
    op = re.escape(symbol)
    beside = re.search(rf"{op}\s*(\d+)(?![\w.])|(?<![\w.])(\d+)\s*{op}", code)
    if beside:
        return beside.group(1) or beside.group(2)
    number = _INT_LITERAL.search(code)
    return number.group(1) if number else None


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
