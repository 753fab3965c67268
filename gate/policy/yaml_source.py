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
from gate.policy.positions import offset
from gate.policy.yaml_positions import align, file_line_column, mark
from gate.policy.yaml_problems import character_problem, yaml_problem

__all__ = ["MAX_FILE_BYTES", "YAML11_BOOLEANS", "Located", "Path", "read_yaml"]

#: A policy file larger than this is refused before parsing; real ones are a few KB.
MAX_FILE_BYTES = 256 * 1024
#: Words YAML 1.1 read as booleans. Under YAML 1.2 they are text, which surprises people.
YAML11_BOOLEANS = frozenset(
    {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"}
)

Path = tuple[str | int, ...]

_SURROGATE = re.compile("[\ud800-\udfff]")


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
        index = align(self.text, span, value, offset(value, line, column))
        if index is None:
            return self.at(path)
        return file_line_column(self.text, index)


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
    """An anchor or alias, refused where the parser met it."""

    def __init__(self, message: str, where: Any) -> None:
        super().__init__(message)
        self.message = message
        self.where = where


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
        raw = text
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Point at the bad byte: count lines and characters in the readable part before it.
            readable = raw[: exc.start].decode("utf-8", "replace")
            line, col = file_line_column(readable, len(readable))
            return None, [
                PolicyProblem(file, line, col, "this file is not UTF-8 text; save it as UTF-8 "
                              "(in most editors: Save As, Encoding: UTF-8)", code="encoding")
            ]
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _StrictComposer
    try:
        node = yaml.compose(text)
    except _RefusedFeature as exc:
        line, col = mark(exc.where)
        return None, [PolicyProblem(file, line, col, exc.message, code="yaml-alias")]
    except MarkedYAMLError as exc:
        return None, [yaml_problem(file, text, exc)]
    except ReaderError as exc:
        return None, [character_problem(file, text, exc)]
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
    out.values.setdefault(path, mark(node.start_mark))
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
                line, col = mark(key_node.start_mark)
                problems.append(PolicyProblem(file, line, col, "keys must be plain words, "
                                              "like  name:  or  when:", code="yaml-key"))
                continue
            if key in result:
                line, col = mark(key_node.start_mark)
                first_line = out.keys[(*path, key)][0]
                problems.append(PolicyProblem(
                    file, line, col,
                    f"'{key}' appears twice here (first on line {first_line}); keep only one",
                    code="duplicate-key",
                ))
                continue
            out.keys[(*path, key)] = mark(key_node.start_mark)
            if _is_empty(value_node):
                # ruamel places an empty value at the next token, often on a later line;
                # `when:` with nothing after it is best shown at `when`.
                out.values[(*path, key)] = out.keys[(*path, key)]
            result[key] = _convert(value_node, (*path, key), out, problems, file)
        return result
    line, col = mark(node.start_mark)  # pragma: no cover - the composer makes only the above
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
    tag, value = node.tag or "", node.value
    if tag not in _SCALAR_TAGS:
        line, col = mark(node.start_mark)
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
            line, col = mark(node.start_mark)
            problems.append(PolicyProblem(
                file, line, col, "this value contains a character code that is not a real "
                "character (like \\ud800); remove it", code="yaml-character"))
            return None
        return value
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
