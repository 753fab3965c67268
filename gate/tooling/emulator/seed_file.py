"""Reading a seed file, and saying in one paragraph what is wrong with it.

Whoever passes ``--seed FILE`` wrote that file by hand. A mistake in it must read like a
mistake in a file (which file, which line, which field, what to write), never like the
validation library's report or a traceback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from gate.tooling.emulator.seed import EmulatorSeed

__all__ = ["SeedError", "load_seed"]

#: At most this many mistakes are spelled out; the rest are counted.
_SHOWN = 5
#: The field a seed-wide check names at the start of its message: "balances.0.member: ...".
_NAMED_FIELD = re.compile(r"^([A-Za-z]\w*(?:\.(?:\d+|[A-Za-z]\w*))*): ")

Loc = tuple[str | int, ...]


class SeedError(ValueError):
    """The seed file cannot be read or does not validate; the message names the file, the
    line and field, and what is wrong there."""


def load_seed(path: str | Path) -> EmulatorSeed:
    """Read and validate a seed file: JSON when it ends in ``.json``, YAML otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SeedError(f"{path}: cannot read seed: it is not UTF-8 text") from None
    except OSError as exc:
        raise SeedError(f"{path}: cannot read seed: {exc.strerror or exc}") from None
    data = _parse(path, text)
    try:
        return EmulatorSeed.model_validate(data if data is not None else {})
    except ValidationError as exc:
        tree = None if path.suffix == ".json" else YAML(typ="rt").load(text)
        found = [_explain(error, tree) for error in exc.errors()]
        more = f"; and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
        raise SeedError(f"{path}: invalid seed: " + "; ".join(found[:_SHOWN]) + more) from None


def _parse(path: Path, text: str) -> Any:
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SeedError(f"{path}: cannot read seed: line {exc.lineno}, column {exc.colno}: "
                            f"this is not valid JSON ({exc.msg})") from None
    try:
        return YAML(typ="safe").load(text)
    except MarkedYAMLError as exc:
        where = exc.problem_mark or exc.context_mark
        at = f"line {where.line + 1}, column {where.column + 1}: " if where is not None else ""
        problem = exc.problem or exc.context or "unexpected text"
        raise SeedError(f"{path}: cannot read seed: {at}this is not valid YAML ({problem}); "
                        "check the indentation and the quotes there") from None
    except YAMLError as exc:  # pragma: no cover - ruamel marks what it cannot parse
        raise SeedError(f"{path}: cannot read seed: this is not valid YAML ({exc})") from None


def _explain(error: ErrorDetails, tree: Any) -> str:
    """``line 8, balances.0.available: <what is wrong>``: one mistake, where it is."""
    loc: Loc = tuple(error["loc"])
    what = _what(error, loc)
    named = _NAMED_FIELD.match(what) if not loc else None
    if named:  # a check across the seed names its field in its message
        loc = tuple(int(p) if p.isdigit() else p for p in named.group(1).split("."))
    line = _line(tree, loc)
    where = f"line {line}, " if line is not None else ""
    return f"{where}{what}" if named else f"{where}{'.'.join(map(str, loc))}: {what}"


def _what(error: ErrorDetails, loc: Loc) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "value_error":
        return str((error.get("ctx") or {}).get("error", error["msg"]))
    if kind == "missing":
        return "this field is required; add it"
    if kind == "extra_forbidden":
        fields = ", ".join(_fields_at(loc[:-1]))
        return f"not a field here; check its spelling (the fields are: {fields})"
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"must be text: put it in quotes, like \"{value}\""
    return str(error["msg"])


def _fields_at(loc: Loc) -> list[str]:
    """The fields of the seed model that ``loc`` points into."""
    model: type[BaseModel] = EmulatorSeed
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            continue  # a list index: the model stays the list's item
        inner = [t for t in _types(field.annotation) if isinstance(t, type)
                 and issubclass(t, BaseModel)]
        if not inner:
            break
        model = inner[0]
    return list(model.model_fields)


def _types(annotation: Any) -> list[Any]:
    """``list[SeedBenefit] | None`` → every type inside it."""
    found = [annotation]
    for arg in get_args(annotation):
        found.extend(_types(arg))
    return found


def _line(tree: Any, loc: Loc) -> int | None:
    """The line of the deepest part of ``loc`` found in the YAML document, or None."""
    node, line = tree, None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line, node = node.lc.key(part)[0] + 1, node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, node = node.lc.item(part)[0] + 1, node[part]
        else:
            break
    return line
