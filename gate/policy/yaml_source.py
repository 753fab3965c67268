"""Read a YAML file into plain Python values plus the line and column of every value and key.

Studio staff edit these files by hand, so this reader is strict where YAML is surprising:
aliases and anchors are refused, duplicate keys are errors (not "last one wins"), booleans
follow YAML 1.2 (``yes`` stays text, and the validator then says so), tabs and stray ``: ``
become plain-language messages. Every problem carries a 1-based line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from gate.errors import PolicyProblem

__all__ = ["MAX_FILE_BYTES", "YAML11_BOOLEANS", "Located", "Path", "read_yaml"]

#: A policy file larger than this is refused before parsing; real ones are a few KB.
MAX_FILE_BYTES = 256 * 1024
#: Words YAML 1.1 read as booleans. Under YAML 1.2 they are text, which surprises people.
YAML11_BOOLEANS = frozenset(
    {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"}
)

Path = tuple[str | int, ...]

_LINE_BREAK = re.compile("\r\n|[\r\n]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_KEY_ALONE = re.compile(r"\s+[A-Za-z_][\w-]*")


@dataclass
class Located:
    """A parsed document: ``data`` as plain dict/list/str/int/float/bool/None, and positions."""

    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    #: Values already reported while reading; later checks stay quiet about them.
    reported: set[Path] = field(default_factory=set)
    #: The document text, and where each text value's content starts and ends in it, so a
    #: position inside a condition can be traced back through quotes and folded lines.
    text: str = ""
    spans: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def was_reported(self, path: Path) -> bool:
        return any(path[:end] in self.reported for end in range(len(path) + 1))

    def at(self, path: Path) -> tuple[int, int]:
        """The position of the value at ``path``, or of its nearest parent that has one."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return (1, 1)

    def key_at(self, path: Path) -> tuple[int, int]:
        """The position of the key naming ``path`` (falls back to the value's position)."""
        return self.keys.get(path) or self.at(path)

    def inside(self, path: Path, value: str, line: int, column: int) -> tuple[int, int]:
        """The file position of ``line``:``column`` (1-based) inside the text value at ``path``.

        Quotes, escapes and YAML's line folding mean the value is not a plain slice of the
        file, so its characters are matched one by one against the file text. Falls back
        to the value's own position when the two cannot be lined up.
        """
        span = self.spans.get(path)
        if span is None:
            return self.at(path)
        offset = _offset(value, line, column)
        index = _align(self.text, span, value, offset)
        if index is None:
            return self.at(path)
        return _line_col(self.text, index)


class _StrictComposer(Composer):
    """Refuses anchors and aliases as the parser meets them, before any expansion happens."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
            kind = "aliases (*name)" if isinstance(event, AliasEvent) else "anchors (&name)"
            raise _RefusedFeature(
                f"{kind} are not allowed in policy files; write the value out in full",
                event.start_mark,
            )
        return super().compose_node(parent, index)


class _RefusedFeature(YAMLError):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


def read_yaml(text: str | bytes, file: str) -> tuple[Located | None, list[PolicyProblem]]:
    """Parse one document into values and positions, with the problems found on the way.

    ``None`` when the text is not YAML at all; otherwise the document, in which values that
    had a problem are None and listed in ``reported``.
    """
    size = len(text if isinstance(text, bytes) else text.encode("utf-8", "replace"))
    if size > MAX_FILE_BYTES:
        return None, [
            PolicyProblem(
                file, 1, 1,
                f"this file is {size // 1024} KB; policy files may be at most "
                f"{MAX_FILE_BYTES // 1024} KB. Split it into several files",
                code="file-too-large",
            )
        ]
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Point at the bad byte: count lines and characters in the readable part before it.
            readable = text[: exc.start].decode("utf-8", "replace")
            line, col = _line_col(readable, len(readable))
            return None, [
                PolicyProblem(file, line, col, "this file is not UTF-8 text; save it as UTF-8 "
                              "(in most editors: Save As, Encoding: UTF-8)", code="encoding")
            ]
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _StrictComposer
    try:
        node = yaml.compose(text)
    except _RefusedFeature as exc:
        line, col = _mark(exc.mark)
        return None, [PolicyProblem(file, line, col, exc.message, code="yaml-alias")]
    except MarkedYAMLError as exc:
        return None, [_yaml_problem(file, text, exc)]
    except ReaderError as exc:
        return None, [_character_problem(file, text, exc)]
    except YAMLError as exc:  # pragma: no cover - ruamel raises marked errors for bad input
        return None, [PolicyProblem(file, 1, 1, f"this is not valid YAML: {exc}", code="yaml")]
    except RecursionError:
        return None, [PolicyProblem(file, 1, 1, "this file is nested too deeply to read",
                                    code="yaml-depth")]
    located = Located(data=None, text=text)
    if node is None:
        return located, []
    problems: list[PolicyProblem] = []
    try:
        located.data = _convert(node, (), located, problems, file)
    except RecursionError:
        return None, [PolicyProblem(file, 1, 1, "this file is nested too deeply to read",
                                    code="yaml-depth")]
    return located, problems


def _mark(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``, counted exactly as ruamel counts them.

    Windows (\\r\\n) and old Mac (\\r) line ends, and byte-order marks (which take no
    column), must give the same place as the parser's own positions, or two problems in
    one file would disagree about where line 5 is.
    """
    line, line_start = 1, 0
    for found in _LINE_BREAK.finditer(text, 0, index):
        if found.group() == "\r" and found.end() == index and text[index : index + 1] == "\n":
            break  # the \r of a \r\n pair is not a line end by itself
        line, line_start = line + 1, found.end()
    return line, index - line_start + 1 - text.count("\ufeff", line_start, index)


def _offset(value: str, line: int, column: int) -> int:
    """Index in ``value`` of a 1-based line and column, kept within the value."""
    lines = value.split("\n")
    line = min(max(line, 1), len(lines))
    before = sum(len(text) + 1 for text in lines[: line - 1])
    return min(before + min(max(column, 1), len(lines[line - 1]) + 1) - 1, len(value))


def _align(text: str, span: tuple[int, int], value: str, offset: int) -> int | None:
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


def _character_problem(file: str, text: str, exc: ReaderError) -> PolicyProblem:
    line, col = _line_col(text, min(max(exc.position, 0), len(text)))
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


def _overindented_key(text: str, mark: Any) -> tuple[int, int] | None:
    """Where `key:` starts, when the ': ' YAML stumbled on is a key alone on its line.

    An extra space before `action:` makes YAML read the line as the rest of the value on
    the line above; "put the condition in quotes" would be the wrong advice then.
    """
    if mark is None or mark.line == 0:
        return None
    lines = _LINE_BREAK.split(text)
    if mark.line >= len(lines):
        return None
    before = lines[mark.line][: mark.column]
    if not _KEY_ALONE.fullmatch(before):
        return None
    return mark.line + 1, len(before) - len(before.lstrip()) + 1


def _yaml_problem(file: str, text: str, exc: MarkedYAMLError) -> PolicyProblem:
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
            mark = exc.context_mark if at_start else exc.problem_mark
            line, col = _mark(mark or exc.problem_mark or exc.context_mark)
            return PolicyProblem(file, line, col, message, code=code)
    line, col = _mark(exc.problem_mark or exc.context_mark)
    message = f"this is not valid YAML: {problem}. Check the indentation and quotes here"
    return PolicyProblem(file, line, col, message, code="yaml")


_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


def _convert(
    node: Node, path: Path, out: Located, problems: list[PolicyProblem], file: str
) -> Any:
    out.values.setdefault(path, _mark(node.start_mark))
    if isinstance(node, ScalarNode):
        before = len(problems)
        value = _scalar(node, problems, file, path[-1] if path else None)
        if len(problems) > before:
            out.reported.add(path)
        if isinstance(value, str):
            out.spans[path] = _content_span(out.text, node)
        return value
    if isinstance(node, SequenceNode):
        return [
            _convert(item, (*path, i), out, problems, file) for i, item in enumerate(node.value)
        ]
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, problems, file, None) if isinstance(key_node, ScalarNode) \
                else None
            if not isinstance(key, str):
                line, col = _mark(key_node.start_mark)
                problems.append(PolicyProblem(file, line, col, "keys must be plain words, "
                                              "like  name:  or  when:", code="yaml-key"))
                continue
            if key in result:
                line, col = _mark(key_node.start_mark)
                first_line = out.keys[(*path, key)][0]
                problems.append(PolicyProblem(
                    file, line, col,
                    f"'{key}' appears twice here (first on line {first_line}); keep only one",
                    code="duplicate-key",
                ))
                continue
            out.keys[(*path, key)] = _mark(key_node.start_mark)
            if _is_empty(value_node):
                # ruamel places an empty value at the next token, often on a later line;
                # `when:` with nothing after it is best shown at `when`.
                out.values[(*path, key)] = out.keys[(*path, key)]
            result[key] = _convert(value_node, (*path, key), out, problems, file)
        return result
    line, col = _mark(node.start_mark)  # pragma: no cover - the composer makes only the above
    problems.append(PolicyProblem(file, line, col, "unsupported YAML here", code="yaml"))
    return None


def _is_empty(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.style is None and node.value == ""


def _content_span(text: str, node: ScalarNode) -> tuple[int, int]:
    """Where a text value's characters lie in the file, past any quote or | > header."""
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ("|", ">"):
        newline = text.find("\n", start, end)
        start = newline + 1 if newline >= 0 else end
    elif node.style in ('"', "'"):
        start += 1
    return start, max(start, end)


def _scalar(node: ScalarNode, problems: list[PolicyProblem], file: str, key: Any) -> Any:
    tag, value = node.tag, node.value
    if tag not in _SCALAR_TAGS:
        line, col = _mark(node.start_mark)
        if tag.startswith("!") and not tag.startswith("!!"):
            text = f"{tag} {value}".strip()
            text = text if len(text) <= 60 else text[:57] + "..."
            what = "condition" if key == "when" else "value"
            example = f"{key}: \"{text}\"" if isinstance(key, str) else f"\"{text}\""
            message = (f"`{text}` starts with !, which YAML reads as a tag; put the whole "
                       f"{what} in quotes, like  {example}")
        else:
            message = "YAML tags (!!name) are not allowed in policy files"
        problems.append(PolicyProblem(file, line, col, message, code="yaml-tag"))
        return None
    if tag == "tag:yaml.org,2002:str":
        if _SURROGATE.search(value):
            # Only an escape like "\ud800" makes one; nothing downstream can read it.
            line, col = _mark(node.start_mark)
            problems.append(PolicyProblem(
                file, line, col, "this value contains a character code that is not a real "
                "character (like \\ud800); remove it", code="yaml-character"))
            return None
        return _PlainStr(value) if node.style is None else value
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:int":
        return _integer(value)
    try:
        return float(value)
    except ValueError:
        return _special_float(value)


def _integer(value: str) -> int | str:
    try:
        return int(value, 0)  # 0x1F, 0o17, 1_000
    except ValueError:
        pass
    try:
        return int(value, 10)  # 0403: base 0 refuses leading zeros, YAML 1.2 does not
    except ValueError:
        return value


def _special_float(value: str) -> float | str:
    """YAML 1.2 writes infinity and not-a-number as .inf and .nan."""
    lowered = value.lower().lstrip("+")
    if lowered in (".inf", "-.inf"):
        return float(lowered.replace(".", ""))
    if lowered == ".nan":
        return float("nan")
    return value


class _PlainStr(str):
    """Text written without quotes; lets the validator explain ``yes``/``no`` precisely."""

    __slots__ = ()


def is_unquoted(value: object) -> bool:
    """True for text that was written without quotes in the YAML file."""
    return isinstance(value, _PlainStr)
