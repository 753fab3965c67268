"""Read a YAML file into plain Python values plus the line and column of every value and key.

Studio staff edit these files by hand, so this reader is strict where YAML is surprising:
aliases and anchors are refused, duplicate keys are errors (not "last one wins"), booleans
follow YAML 1.2 (``yes`` stays text, and the validator then says so), tabs and stray ``: ``
become plain-language messages. Every problem carries a 1-based line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gate.errors import PolicyProblem

__all__ = ["MAX_FILE_BYTES", "YAML11_BOOLEANS", "Located", "Path", "read_yaml"]

#: A policy file larger than this is refused before parsing; real ones are a few KB.
MAX_FILE_BYTES = 256 * 1024
#: Words YAML 1.1 read as booleans. Under YAML 1.2 they are text, which surprises people.
YAML11_BOOLEANS = frozenset(
    {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"}
)

Path = tuple[str | int, ...]


@dataclass
class Located:
    """A parsed document: ``data`` as plain dict/list/str/int/float/bool/None, and positions."""

    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    #: Values already reported while reading; later checks stay quiet about them.
    reported: set[Path] = field(default_factory=set)

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
            return None, [
                PolicyProblem(file, 1, exc.start + 1, "this file is not UTF-8 text; save it as "
                              "UTF-8", code="encoding")
            ]
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _StrictComposer
    try:
        node = yaml.compose(text)
    except _RefusedFeature as exc:
        line, col = _mark(exc.mark)
        return None, [PolicyProblem(file, line, col, exc.message, code="yaml-alias")]
    except MarkedYAMLError as exc:
        return None, [_yaml_problem(file, exc)]
    except YAMLError as exc:  # pragma: no cover - ruamel raises marked errors for bad input
        return None, [PolicyProblem(file, 1, 1, f"this is not valid YAML: {exc}", code="yaml")]
    except RecursionError:
        return None, [PolicyProblem(file, 1, 1, "this file is nested too deeply to read",
                                    code="yaml-depth")]
    located = Located(data=None)
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


def _yaml_problem(file: str, exc: MarkedYAMLError) -> PolicyProblem:
    problem = exc.problem or exc.context or "this is not valid YAML"
    line, col = _mark(exc.problem_mark or exc.context_mark)
    if "'\\t'" in problem:
        message = ("a tab character is used for indentation; YAML needs spaces. Replace the "
                   "tab with spaces")
        code = "yaml-tab"
    elif "mapping values are not allowed" in problem:
        message = ("there is a ': ' inside a value. If this is a condition, put the whole "
                   "condition in quotes, like  when: \"status == 'PAUSED'\"")
        code = "yaml-colon"
    elif "found undefined tag" in problem or "could not determine a constructor" in problem:
        message = "YAML tags (!name) are not allowed in policy files"
        code = "yaml-tag"
    else:
        message = f"this is not valid YAML: {problem}. Check the indentation and quotes here"
        code = "yaml"
    return PolicyProblem(file, line, col, message, code=code)


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
    out.values[path] = _mark(node.start_mark)
    if isinstance(node, ScalarNode):
        before = len(problems)
        value = _scalar(node, problems, file)
        if len(problems) > before:
            out.reported.add(path)
        return value
    if isinstance(node, SequenceNode):
        return [
            _convert(item, (*path, i), out, problems, file) for i, item in enumerate(node.value)
        ]
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, problems, file) if isinstance(key_node, ScalarNode) else None
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
            result[key] = _convert(value_node, (*path, key), out, problems, file)
        return result
    line, col = _mark(node.start_mark)  # pragma: no cover - the composer makes only the above
    problems.append(PolicyProblem(file, line, col, "unsupported YAML here", code="yaml"))
    return None


def _scalar(node: ScalarNode, problems: list[PolicyProblem], file: str) -> Any:
    tag, value = node.tag, node.value
    if tag not in _SCALAR_TAGS:
        line, col = _mark(node.start_mark)
        if tag.startswith("!") and not tag.startswith("!!"):
            text = f"{tag} {value}".strip()
            message = (f"`{text}` starts with !, which YAML reads as a tag; put the whole "
                       f"condition in quotes, like  when: \"{text}\"")
        else:
            message = "YAML tags (!!name) are not allowed in policy files"
        problems.append(PolicyProblem(file, line, col, message, code="yaml-tag"))
        return None
    if tag == "tag:yaml.org,2002:str":
        return _PlainStr(value) if node.style is None else value
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    if tag == "tag:yaml.org,2002:null":
        return None
    try:
        return int(value, 0) if tag == "tag:yaml.org,2002:int" else float(value)
    except ValueError:
        return value


class _PlainStr(str):
    """Text written without quotes; lets the validator explain ``yes``/``no`` precisely."""

    __slots__ = ()


def is_unquoted(value: object) -> bool:
    """True for text that was written without quotes in the YAML file."""
    return isinstance(value, _PlainStr)
