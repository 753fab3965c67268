"""Whole-number literals rewritten as decimals, where CEL would refuse to mix the two.

A condition is compiled as written first. Where the checker refuses an operator applied to a
decimal and a whole number (``available <= 0``), the whole-number *literal* beside it is
rewritten (``0`` → ``0.0``) and the text compiled again. ``Text`` holds both texts and the map
from each position of the rewritten one back to the text as written, so anything still wrong
is reported, and its operands quoted, exactly where staff wrote it.
"""

from __future__ import annotations

from typing import NamedTuple

from gate.policy.cel_checker import (
    ARITHMETIC,
    BINARY,
    QUOTED,
    WHOLE,
    CompileFailure,
    Issue,
    base_type,
    mixes_whole_and_decimal,
)
from gate.policy.cel_tokens import Token, Tokens
from gate.policy.positions import line_column, offset

__all__ = ["Edit", "Text"]


class Edit(NamedTuple):
    """Replace ``start:end`` of the current text with ``text``."""

    start: int
    end: int
    text: str


class Text:
    """The condition being compiled: the text as written, the rewritten text, and the map
    from each position of the rewritten text back to the text as written."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.current = source
        self._origin: list[int] | None = None
        self._tokens: Tokens | None = None

    @property
    def origin(self) -> list[int]:
        """For each position of the rewritten text, its position in the text as written."""
        if self._origin is None:
            self._origin = list(range(len(self.source) + 1))
        return self._origin

    @property
    def tokens(self) -> Tokens:
        if self._tokens is None:
            self._tokens = Tokens(self.current)
        return self._tokens

    def _operator(self, issue: Issue) -> int | None:
        return self.tokens.at(offset(self.current, issue.line, issue.column))

    def fixes(self, issue: Issue) -> list[Edit]:
        """Whole-number literals to write as decimals so that ``issue`` goes away."""
        kinds = [base_type(t) for t in issue.types]
        op = self._operator(issue) if len(kinds) >= 2 else None
        if op is None:
            return []
        tokens = self.tokens
        literals: list[int | None] = []
        if issue.operator in BINARY and len(kinds) == 2:
            if kinds[0] == "double" and kinds[1] in WHOLE:
                literals = [tokens.literal(tokens.value_at(op + 1))]
            elif kinds[0] in WHOLE and kinds[1] == "double":
                literals = [tokens.literal(tokens.primary_before(op - 1))]
        elif issue.operator == "@in" and len(kinds) == 2:
            inner = base_type(issue.types[1][len("list("):-1]) if kinds[1] == "list" else ""
            if kinds[0] == "double" and inner in WHOLE:
                literals = [*tokens.list_items(tokens.primary_after(op + 1))]
            elif kinds[0] in WHOLE and inner == "double":
                literals = [tokens.literal(tokens.primary_before(op - 1))]
        elif issue.operator == "_?_:_" and len(kinds) == 3:
            if kinds[1] == "double" and kinds[2] in WHOLE:
                literals = [tokens.literal(tokens.branch(op, third=True))]
            elif kinds[1] in WHOLE and kinds[2] == "double":
                literals = [tokens.literal(tokens.branch(op, third=False))]
        return [_as_decimal(tokens.items[i]) for i in literals if i is not None]

    def apply(self, edits: list[Edit]) -> None:
        """Replace the edited spans (they never overlap: each is one literal), in one pass."""
        old, origin = self.current, self.origin
        parts: list[str] = []
        mapped: list[int] = []
        at = 0
        for edit in sorted(set(edits)):
            parts += [old[at : edit.start], edit.text]
            mapped += [*origin[at : edit.start], *([origin[edit.start]] * len(edit.text))]
            at = edit.end
        parts.append(old[at:])
        mapped += origin[at:]
        self.current, self._origin, self._tokens = "".join(parts), mapped, None

    def copy(self) -> Text:
        twin = Text(self.source)
        twin.current, twin._origin, twin._tokens = self.current, self._origin, self._tokens
        return twin

    def failure(self, issue: Issue) -> CompileFailure:
        """The problem, placed and quoted in the text as written."""
        at = self.origin[offset(self.current, issue.line, issue.column)]
        line, column = line_column(self.source, at)
        op = self._operator(issue) if issue.operator in QUOTED else None
        if op is None:
            return CompileFailure(issue.message, line, column)
        tokens = self.tokens
        sides = (tokens.operand_before(op), tokens.operand_after(op))
        if issue.operator in ARITHMETIC or mixes_whole_and_decimal(issue):
            # Of a whole number, quote just the value next to the operator: that is the one
            # to put in double() (or int() for %).
            near = (tokens.primary_before(op - 1), tokens.value_at(op + 1))
            whole = [base_type(t) in WHOLE or issue.operator == "_%_" for t in issue.types]
            sides = (near[0] if whole[0] else sides[0], near[1] if whole[1] else sides[1])
        operands = tuple(self._written(span) for span in sides if span is not None)
        return CompileFailure(issue.message, line, column, operands if len(operands) == 2 else ())

    def _written(self, span: tuple[int, int]) -> str:
        items = self.tokens.items
        start, end = self.origin[items[span[0]].start], self.origin[items[span[1]].end]
        return self.source[start:end].strip()


def _as_decimal(token: Token) -> Edit:
    digits = token.text.rstrip("uU")
    value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits)
    return Edit(token.start, token.end, f"{value}.0")
