"""File positions of a YAML document, counted exactly as ruamel counts them.

Every problem in a policy file carries a line and column; the parser's own marks, the places
found by scanning the text, and the places traced inside a quoted or folded value must agree,
or two problems in one file would disagree about where line 5 is.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["LINE_BREAK", "align", "file_line_column", "mark"]

#: What ends a line for the YAML parser: Windows, Unix and old Mac line ends.
LINE_BREAK = re.compile("\r\n|[\r\n]")


def mark(found: Any) -> tuple[int, int]:
    """A ruamel mark (0-based) as a 1-based line and column; (1, 1) when there is none."""
    return (found.line + 1, found.column + 1) if found is not None else (1, 1)


def file_line_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``, counted exactly as ruamel counts them.

    Windows (\\r\\n) and old Mac (\\r) line ends, and byte-order marks (which take no
    column), must give the same place as the parser's own positions.
    """
    line, line_start = 1, 0
    for found in LINE_BREAK.finditer(text, 0, index):
        if found.group() == "\r" and found.end() == index and text[index : index + 1] == "\n":
            break  # the \r of a \r\n pair is not a line end by itself
        line, line_start = line + 1, found.end()
    return line, index - line_start + 1 - text.count("\ufeff", line_start, index)


def align(text: str, span: tuple[int, int], value: str, offset: int) -> int | None:
    """Index in ``text`` of ``value[offset]`` (or just after the value when at its end).

    Every character of the value appears, in order, in the file: an escape (\\" or '')
    only adds characters before it, and a folded line break becomes a space.
    """
    position, end = span
    for wanted in value[:offset]:
        found = _find(text, position, end, wanted)
        if found is None:
            return None
        position = found + 1
    if offset < len(value):
        return _find(text, position, end, value[offset])
    return min(position, len(text))


def _find(text: str, start: int, end: int, wanted: str) -> int | None:
    if not wanted.isspace():
        found = text.find(wanted, start, end)
        return found if found >= 0 else None
    for index in range(start, end):
        if text[index].isspace():
            return index
    return None
