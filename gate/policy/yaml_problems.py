"""What to tell studio staff when their file is not YAML at all, in their words.

ruamel's messages ("mapping values are not allowed here") are about the parser, not the file:
each is matched to the slip that usually causes it (a tab, a ``: `` inside a condition, an
unclosed quote...) and to the place where that slip is, which is sometimes where the trouble
*started* rather than where the parser noticed it.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

from gate.errors import PolicyProblem
from gate.policy.yaml_positions import LINE_BREAK, file_line_column, mark

__all__ = ["character_problem", "yaml_problem"]

_KEY_ALONE = re.compile(r"\s+[A-Za-z_][\w-]*")


def character_problem(file: str, text: str, exc: ReaderError) -> PolicyProblem:
    """A character YAML cannot read (a control character), where it is."""
    line, col = file_line_column(text, min(max(exc.position, 0), len(text)))
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    return PolicyProblem(
        file, line, col, f"there is an invisible control character here (U+{code:04X}) that "
        "policy files cannot contain; delete it (retyping the line usually does it)",
        code="yaml-character")


#: ruamel's wording → what to tell studio staff, and whether the place where the trouble
#: *started* (the context mark, like an opening quote) is more useful than where it was noticed.
_YAML_HINTS: tuple[tuple[str, str, str, bool], ...] = (
    ("'\\t'", "a tab character is used for indentation; YAML needs spaces. Replace the tab "
     "with spaces", "yaml-tab", False),
    ("mapping values are not allowed", "there is a ': ' inside a value. If this is a "
     "condition, put the whole condition in quotes, like  when: \"status == 'PAUSED'\"",
     "yaml-colon", False),
    ("found undefined tag", "YAML tags (!name) are not allowed in policy files", "yaml-tag",
     False),
    ("could not determine a constructor", "YAML tags (!name) are not allowed in policy files",
     "yaml-tag", False),
    ("escape", "inside \"double quotes\" a backslash starts a special character; write "
     "the value in 'single quotes' instead", "yaml-escape", False),
    ("quoted scalar", "this quote is never closed; add the matching closing quote at the end "
     "of the value", "yaml-quote", True),
    ("another document", "this file holds a second document (a line with ---); keep one "
     "policy per file, or move the rest to a new file", "yaml-documents", False),
    ("flow sequence", "a [ list is never closed; add the matching ]", "yaml-bracket", True),
    ("flow mapping", "a { group is never closed; add the matching }", "yaml-bracket", True),
    ("cannot start any token", "a value cannot start with this character; put the whole "
     "value in quotes", "yaml-character", False),
    ("block end", "this line is not lined up with the lines above it; indent settings of "
     "the same rule by the same number of spaces", "yaml-indent", False),
    ("expected URI", "YAML tags (!name) are not allowed in policy files; if this is a "
     "condition, put the whole condition in quotes", "yaml-tag", False),
    ("a tag", "YAML tags (!name) are not allowed in policy files; if this is a "
     "condition, put the whole condition in quotes", "yaml-tag", False),
    ("could not find expected ':'", "a setting here has no ':' after its name; write it as "
     " name: value, or put the whole value in quotes", "yaml-colon", True),
    ("<document start>", "something here does not belong to any setting: text after a "
     "closing quote, or a line that is not indented under anything. Check the quotes and "
     "indentation", "yaml-stray", False),
    ("expected the node content", "a value here starts with a character YAML reserves "
     "(like , ] } or @); put the whole value in quotes", "yaml-character", False),
    ("chomping or indentation", "after | or > nothing may follow on the same line; move the "
     "text to the lines below, or put the whole value in quotes", "yaml-block", False),
    ("indentation indicator", "after | or > nothing may follow on the same line; move the "
     "text to the lines below, or put the whole value in quotes", "yaml-block", False),
    ("scanning a block scalar", "after | or > nothing may follow on the same line; move the "
     "text to the lines below, or put the whole value in quotes", "yaml-block", False),
    ("sequence entries are not allowed", "a '- ' list item is not allowed here; check the "
     "indentation, or put the value in quotes", "yaml-indent", False),
    ("mapping keys are not allowed", "a setting name is not allowed here; check the "
     "indentation, or put the value in quotes", "yaml-indent", False),
    ("alphabetic or numeric character", "a value cannot start with & or *; put the whole "
     "value in quotes", "yaml-character", False),
)


def _overindented_key(text: str, at: Any) -> tuple[int, int] | None:
    """Where `key:` starts, when the ': ' YAML stumbled on is a key alone on its line.

    An extra space before `action:` makes YAML read the line as the rest of the value on
    the line above; "put the condition in quotes" would be the wrong advice then.
    """
    if at is None or at.line == 0:
        return None
    lines = LINE_BREAK.split(text)
    if at.line >= len(lines):
        return None
    before = lines[at.line][: at.column]
    if not _KEY_ALONE.fullmatch(before):
        return None
    return at.line + 1, len(before) - len(before.lstrip()) + 1


def yaml_problem(file: str, text: str, exc: MarkedYAMLError) -> PolicyProblem:
    """The parser's complaint as the slip that usually causes it, at the place to fix."""
    problem = exc.problem or exc.context or "this is not valid YAML"
    wording = f"{exc.context or ''} {problem}"
    if "mapping values are not allowed" in wording:
        overindented = _overindented_key(text, exc.problem_mark)
        if overindented:
            return PolicyProblem(
                file, *overindented, "this line is indented further than the settings above "
                "it, so it reads as part of the value before it; line it up with them",
                code="yaml-indent")
    for needle, message, code, at_start in _YAML_HINTS:
        if needle in wording:
            start = exc.context_mark if at_start else exc.problem_mark
            line, col = mark(start or exc.problem_mark or exc.context_mark)
            return PolicyProblem(file, line, col, message, code=code)
    line, col = mark(exc.problem_mark or exc.context_mark)
    message = f"this is not valid YAML: {problem}. Check the indentation and quotes here"
    return PolicyProblem(file, line, col, message, code="yaml")
