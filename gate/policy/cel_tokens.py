"""A condition's tokens, with the operands on each side of an operator found by CEL's precedence.

The engine rewrites a whole-number literal beside a decimal, and the messages quote both sides
of an operator used on the wrong kinds of values, in the text as written. Both need to know
where an operand starts and ends (through calls, indexes, fields, brackets and unary signs)
without a parser of their own: this reads the tokens and pairs the brackets once.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["Token", "Tokens"]

_TOKEN = re.compile(
    r"""(?P<space>\s+|//[^\n]*)
    |(?P<string>(?:[rR][bB]?|[bB][rR]?)?
        (?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))
    |(?P<float>\d*\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
    |(?P<int>0[xX][0-9a-fA-F]+[uU]?|\d+[uU]?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}])
    |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}
#: Binary operators by precedence, lowest first, as CEL groups them.
_PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "in": 3,
               "+": 4, "-": 4, "*": 5, "/": 5, "%": 5}
_VALUES = {"int", "float", "string", "name"}


class Token(NamedTuple):
    """One token: its kind (a group of ``_TOKEN``), its text and where it is."""

    kind: str
    text: str
    start: int
    end: int


def _tokens(text: str) -> list[Token]:
    out = []
    for found in _TOKEN.finditer(text):
        kind = found.lastgroup or "other"
        if kind == "space":
            continue
        word = found.group()
        if kind == "name" and word == "in":
            kind = "op"
        start, end = found.span()
        out.append(Token(kind, word, start, end))
    return out


class Tokens:
    """A condition's tokens with their bracket pairs, to find the operands of an operator."""

    def __init__(self, text: str) -> None:
        self.items = _tokens(text)
        self._starts: dict[int, int] | None = None
        self.pair: dict[int, int] = {}
        stack: list[int] = []
        for i, token in enumerate(self.items):
            if token.text in _OPEN and token.kind == "op":
                stack.append(i)
            elif token.text in _CLOSE and token.kind == "op" and stack and (
                self.items[stack[-1]].text == _CLOSE[token.text]
            ):
                opener = stack.pop()
                self.pair[opener], self.pair[i] = i, opener

    def at(self, offset: int) -> int | None:
        """The token that starts at ``offset``, if one does."""
        if self._starts is None:
            self._starts = {token.start: i for i, token in enumerate(self.items)}
        return self._starts.get(offset)

    def text(self, i: int) -> str:
        return self.items[i].text if 0 <= i < len(self.items) else ""

    def _ends_value(self, i: int) -> bool:
        if i < 0:
            return False
        token = self.items[i]
        return token.kind in _VALUES or (token.kind == "op" and token.text in _CLOSE)

    def primary_after(self, i: int) -> tuple[int, int] | None:
        """First and last token of the value starting at ``i`` (a call, index or field too)."""
        items = self.items
        if i >= len(items):
            return None
        token = items[i]
        if token.kind == "op" and token.text in _OPEN:
            end = self.pair.get(i)
        elif token.kind in _VALUES:
            end = i
            if token.kind == "name" and self.text(i + 1) == "(":
                end = self.pair.get(i + 1)
        elif token.text == "." and i + 1 < len(items) and items[i + 1].kind == "name":
            end = i + 1
        else:
            return None
        while end is not None:
            if self.text(end + 1) == "." and end + 2 < len(items) and (
                items[end + 2].kind == "name"
            ):
                end += 2
                if self.text(end + 1) == "(":
                    end = self.pair.get(end + 1)
            elif self.text(end + 1) == "[":
                end = self.pair.get(end + 1)
            else:
                break
        return None if end is None else (i, end)

    def primary_before(self, i: int) -> tuple[int, int] | None:
        """First and last token of the value ending at ``i`` (a call, index or field too)."""
        last = i
        while i >= 0:
            token = self.items[i]
            if token.kind == "op" and token.text in _CLOSE:
                opener = self.pair.get(i)
                if opener is None:
                    return None
                i = opener
                if token.text == ")" and i > 0 and self.items[i - 1].kind == "name":
                    i -= 1  # a call: size(pools)
                elif token.text == "]" and self._ends_value(i - 1):
                    i -= 1  # an index: plans[0]
                    continue
            elif token.kind not in _VALUES:
                return None
            if i >= 2 and self.text(i - 1) == "." and self._ends_value(i - 2):
                i -= 2  # a field or method: p.available, plans.size()
                continue
            return i, last
        return None

    def _unary_before(self, i: int) -> int:
        while i > 0 and self.text(i - 1) in {"-", "!"} and not self._ends_value(i - 2):
            i -= 1
        return i

    def operand_before(self, op: int) -> tuple[int, int] | None:
        """The whole left operand of the binary operator at ``op``, by CEL's precedence."""
        level = _PRECEDENCE.get(self.text(op), 0)
        found = self.primary_before(op - 1)
        if found is None:
            return None
        first = self._unary_before(found[0])
        while first >= 2 and _PRECEDENCE.get(self.text(first - 1), 0) >= level and (
            self._ends_value(first - 2)
        ):
            more = self.primary_before(first - 2)
            if more is None:
                break
            first = self._unary_before(more[0])
        return first, op - 1

    def operand_after(self, op: int) -> tuple[int, int] | None:
        """The whole right operand of the binary operator at ``op``, by CEL's precedence."""
        level = _PRECEDENCE.get(self.text(op), 0)
        start = i = op + 1
        while self.text(i) in {"-", "!"}:
            i += 1
        found = self.primary_after(i)
        if found is None:
            return None
        last = found[1]
        while _PRECEDENCE.get(self.text(last + 1), 0) > level:
            i = last + 2
            while self.text(i) in {"-", "!"}:
                i += 1
            more = self.primary_after(i)
            if more is None:
                break
            last = more[1]
        return start, last

    def literal(self, span: tuple[int, int] | None) -> int | None:
        """The whole-number literal token that ``span`` is, through ( ) and a leading -."""
        if span is None:
            return None
        first, last = span
        while True:
            if self.pair.get(first) == last and self.text(first) == "(":
                first, last = first + 1, last - 1
            elif first < last and self.text(first) == "-":
                first += 1
            else:
                break
        if first == last and self.items[first].kind == "int":
            return first
        return None

    def branch(self, question: int, third: bool) -> tuple[int, int] | None:
        """The first value of the second (or, with ``third``, the last) part of ``a ? b : c``."""
        if not third:
            return self.value_at(question + 1)
        depth = nested = 0
        for i in range(question + 1, len(self.items)):
            text = self.text(i)
            if self.items[i].kind != "op":
                continue
            if text in _OPEN:
                depth += 1
            elif text in _CLOSE:
                depth -= 1
                if depth < 0:
                    return None
            elif depth == 0 and text == "?":
                nested += 1
            elif depth == 0 and text == ":":
                if not nested:
                    return self.value_at(i + 1)
                nested -= 1
        return None

    def value_at(self, i: int) -> tuple[int, int] | None:
        while self.text(i) in {"-", "!"}:
            i += 1
        return self.primary_after(i)

    def list_items(self, span: tuple[int, int] | None) -> list[int]:
        """The whole-number literal items of a list written out, like [1, 2]."""
        if span is None or self.text(span[0]) != "[" or self.pair.get(span[0]) != span[1]:
            return []
        found, item_start, depth = [], span[0] + 1, 0
        for i in range(span[0] + 1, span[1] + 1):
            text = self.text(i)
            if self.items[i].kind == "op" and text in _OPEN:
                depth += 1
            elif self.items[i].kind == "op" and text in _CLOSE and i != span[1]:
                depth -= 1
            elif depth == 0 and (text == "," or i == span[1]):
                if item_start <= i - 1:
                    literal = self.literal((item_start, i - 1))
                    if literal is not None:
                        found.append(literal)
                item_start = i + 1
        return found
