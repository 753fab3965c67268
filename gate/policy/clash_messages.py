"""An operator or function used on values it does not work with, said with both sides.

The type checker says ``no matching overload for '_==_' applied to '(double, string)'``; staff
wrote ``available == "0"`` and need to read that a number is compared with text, and that
``available == 0`` is what to write. The wording here works from the kinds of the two values
and, when the engine found them, the operands as written.
"""

from __future__ import annotations

import re

from gate.policy.context import QUOTED_TEXT

__all__ = ["OPERATORS", "TYPE_WORDS", "operand_clash", "type_clash"]

_MACROS = re.compile(r"\.\s*(?:exists|all|exists_one|filter|map)\s*\(")
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
_ARITHMETIC = {"+", "-", "*", "/", "%"}
#: The engine's operator names as staff write them.
OPERATORS = {
    "_<=_": "<=", "_<_": "<", "_>=_": ">=", "_>_": ">", "_==_": "==", "_!=_": "!=",
    "_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%", "_&&_": "&&", "_||_": "||",
    "!_": "!", "@in": "in", "_[_]": "[ ]", "_?_:_": "? :", "<jump_condition>": "? :",
    "-_": "-",
}
_INT_LITERAL = re.compile(r"(?<![\w.])(\d+)(?![\w.])")
#: The engine's type names in plain words.
TYPE_WORDS = {
    "double": "a number", "int": "a whole number", "int64": "a whole number",
    "uint": "a whole number", "uint64": "a whole number", "string": "text",
    "bool": "true/false", "google.protobuf.Timestamp": "a time", "timestamp": "a time",
    "list": "a list", "map": "a pool", "null_type": "nothing", "null": "nothing",
    "duration": "a length of time", "bytes": "bytes", "dyn": "a value",
}
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




def type_clash(op: str, args: list[str], source: str) -> str:
    """An operator or function used on values it does not work with."""
    symbol = OPERATORS.get(op, op.strip("_"))
    words = [_type_word(a) for a in args]
    kinds = {a.split("(")[0].lower() for a in args}
    if symbol in {"+", "-", "*", "/", "%"} and kinds <= _NUMERIC and "double" in kinds:
        whole = _whole_number_near(symbol, QUOTED_TEXT.sub('""', source))
        if whole is None:
            return (f"credits can have decimals, so a whole number used with {symbol} must be "
                    "turned into one that can too: put double() around it, like "
                    "double(size(plans))")
        return (f"credits can have decimals, so numbers used with {symbol} need a decimal "
                f"point: write {whole}.0 instead of {whole}")
    if symbol in _COMPARISONS and "string" in kinds and kinds & _NUMERIC:
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


def operand_clash(symbol: str, types: list[str], left: str, right: str) -> str | None:
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
    return TYPE_WORDS.get(base) or TYPE_WORDS.get(base.lower(), engine_type)


def _operator_hint(symbol: str, words: list[str], source: str) -> str | None:
    """Operators whose purpose is worth explaining, not just their argument types."""
    code = QUOTED_TEXT.sub('""', source)
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
