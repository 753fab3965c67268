"""Lines and columns inside a piece of text, counted from 1 as every message shows them.

Used for conditions (the engine reports a line and column within the expression) and for text
values read from YAML; the file positions of a YAML document are ``yaml_positions``' job.
"""

from __future__ import annotations

__all__ = ["line_column", "offset"]


def offset(text: str, line: int, column: int) -> int:
    """Index in ``text`` of a 1-based line and column, kept within the text."""
    lines = text.split("\n")
    line = min(max(line, 1), len(lines))
    before = sum(len(part) + 1 for part in lines[: line - 1])
    return min(before + min(max(column, 1), len(lines[line - 1]) + 1) - 1, len(text))


def line_column(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of ``text[index]`` (lines end with \\n only)."""
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1
