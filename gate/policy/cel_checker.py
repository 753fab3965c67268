"""What CEL's type checker reports, read into issues: where, what, and on which types.

cel-cpp reports every compile problem as one text (``<input>:1:11: found no matching overload
for '_<=_' applied to '(double, string)'``). The engine needs its parts (the operator and the
types on each side) to decide which literal to rewrite, and the messages need them to say in
plain words what was compared with what.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "ARITHMETIC",
    "BINARY",
    "QUOTED",
    "WHOLE",
    "CompileFailure",
    "Issue",
    "base_type",
    "check",
    "mixes_whole_and_decimal",
    "split_types",
]

_ISSUE = re.compile(r"<input>:(\d+):(\d+): ([^\n]*)")
_OVERLOAD = re.compile(r"found no matching overload for '([^']+)' applied to '\((.*)\)'")
_TRAILER = re.compile(r"\s*\[[A-Z_]{3,}\]\s*$")
#: The engine's names of whole-number types.
WHOLE = frozenset({"int", "uint"})
ARITHMETIC = frozenset({"_+_", "_-_", "_*_", "_/_", "_%_"})
BINARY = frozenset({"_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", *ARITHMETIC})
#: Operators whose two operands a message quotes.
QUOTED = frozenset({*BINARY, "@in"})


@dataclass(frozen=True, slots=True)
class CompileFailure:
    """Why a condition did not compile; ``line``/``column`` are within the expression.

    ``operands``, when the problem is an operator used on values of the wrong kinds, holds
    the text (as written) on each side of that operator, for the message to quote.
    """

    message: str
    line: int
    column: int
    operands: tuple[str, ...] = ()


class Issue(NamedTuple):
    """One problem the checker reported, at its line and column in the compiled text."""

    line: int
    column: int
    message: str
    operator: str
    types: tuple[str, ...]


def check(env: Any, text: str) -> tuple[Any, list[Issue]]:
    """The compiled expression, or None and every problem the checker reported."""
    try:
        return env.compile(text), []
    except Exception as exc:  # cel-cpp reports every compile problem as RuntimeError
        return None, _issues(str(exc))


def _issues(text: str) -> list[Issue]:
    issues = []
    for found in _ISSUE.finditer(text):
        message = _TRAILER.sub("", found.group(3)).strip()
        overload = _OVERLOAD.search(message)
        operator, types = "", tuple[str, ...]()
        if overload:
            operator, types = overload.group(1), tuple(split_types(overload.group(2)))
        issues.append(Issue(int(found.group(1)), int(found.group(2)), message, operator, types))
    if not issues:
        issues.append(Issue(1, 1, _TRAILER.sub("", text.strip()), "", ()))
    return issues


def split_types(text: str) -> list[str]:
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


def base_type(engine_type: str) -> str:
    """"list(int)" → "list": the kind of type, without what it holds."""
    return engine_type.split("(")[0].strip().lower()


def mixes_whole_and_decimal(issue: Issue) -> bool:
    """Whether the issue is a whole number and a decimal on the two sides of an operator."""
    kinds = {base_type(t) for t in issue.types}
    return len(issue.types) == 2 and "double" in kinds and bool(kinds & WHOLE)
