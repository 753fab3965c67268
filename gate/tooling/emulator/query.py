"""The Wix query language (WQL) subset the emulator understands, sorting, and cursor paging.

A collection declares its filterable fields as ``Field`` getters. Scalar fields take
``$eq $ne $in $nin $exists`` (and the bare-value shorthand); array fields, such as a pool's
``details.benefits.itemSetId``, take only ``$hasSome``/``$hasAll``, as the SDK QuerySpecs say
(reference §2). Anything else is a 400 naming the field, so a client sending a filter Wix would
refuse fails here too instead of silently matching everything.

Cursors are opaque base64 of (collection, offset, filter, sort): follow-ups carry only
``cursorPaging`` (reference §0), so the cursor must remember the rest.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gate.tooling.emulator.errors import as_object, validation_error
from gate.tooling.emulator.quirks import Quirks, page_metadata

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Field", "Page", "run_query"]

DEFAULT_LIMIT = 50  # QueryBalances' documented default (reference §0)
MAX_LIMIT = 100

R = TypeVar("R")
_SCALAR_OPS = frozenset({"$eq", "$ne", "$in", "$nin", "$exists"})
_ARRAY_OPS = frozenset({"$hasSome", "$hasAll"})


@dataclass(frozen=True)
class Field(Generic[R]):
    """A filterable field: how to read it from a record, and whether it holds a list."""

    get: Callable[[R], Any]
    array: bool = False


@dataclass(frozen=True)
class Page(Generic[R]):
    """One page of records and the ``metadata`` to send with it (None: ``"metadata": null``)."""

    records: list[R]
    metadata: dict[str, Any] | None


def compile_filter(spec: Any, fields: dict[str, Field[R]]) -> Callable[[R], bool]:
    """A predicate for a WQL filter object; 400 on an unknown field or operator."""
    spec = as_object(spec, "query.filter")
    tests: list[Callable[[R], bool]] = []
    for key, condition in spec.items():
        if key in ("$and", "$or"):
            if not isinstance(condition, list) or not condition:
                raise validation_error(f"query.filter.{key}", "must be a non-empty list")
            parts = [compile_filter(part, fields) for part in condition]
            tests.append(_join(parts, all if key == "$and" else any))
        elif key in fields:
            tests.append(_compile_condition(key, fields[key], condition))
        else:
            raise validation_error(f"query.filter.{key}", "unsupported filter field")
    return lambda record: all(test(record) for test in tests)


def _join(
    parts: list[Callable[[R], bool]], join: Callable[[Iterable[bool]], bool]
) -> Callable[[R], bool]:
    return lambda record: join(part(record) for part in parts)


def _compile_condition(name: str, field: Field[R], condition: Any) -> Callable[[R], bool]:
    # A bare value is the WQL shorthand for {"$eq": value}.
    ops = condition if isinstance(condition, dict) else {"$eq": condition}
    if not ops:
        raise validation_error(f"query.filter.{name}", "must name an operator")
    checks: list[Callable[[Any], bool]] = []
    for op, operand in ops.items():
        allowed = _ARRAY_OPS if field.array else _SCALAR_OPS
        if op not in allowed:
            raise validation_error(f"query.filter.{name}", f"unsupported operator {op!r}")
        checks.append(_operator(name, op, operand))
    return lambda record: all(check(field.get(record)) for check in checks)


def _operator(name: str, op: str, operand: Any) -> Callable[[Any], bool]:
    if op in ("$in", "$nin", "$hasSome", "$hasAll") and not isinstance(operand, list):
        raise validation_error(f"query.filter.{name}", f"{op} takes a list")
    if op == "$eq":
        return lambda value: bool(value == operand)
    if op == "$ne":
        return lambda value: bool(value != operand)
    if op == "$in":
        return lambda value: value in operand
    if op == "$nin":
        return lambda value: value not in operand
    if op == "$exists":
        if not isinstance(operand, bool):
            raise validation_error(f"query.filter.{name}", "$exists takes true or false")
        return lambda value: (value is not None) == operand
    if op == "$hasSome":
        return lambda values: any(x in values for x in operand)
    return lambda values: all(x in values for x in operand)  # $hasAll


def sort_records(records: list[R], sort: Any, keys: dict[str, Callable[[R], Any]]) -> list[R]:
    """Records sorted by up to 5 ``{"fieldName", "order"}`` specs; 400 on anything else."""
    if not isinstance(sort, list) or len(sort) > 5:
        raise validation_error("query.sort", "must be a list of at most 5 sorts")
    records = list(records)
    # Python's sort is stable, so sorting by the last key first yields a multi-key sort.
    for item in reversed(sort):
        item = as_object(item, "query.sort")
        key = keys.get(item.get("fieldName", ""))
        order = item.get("order", "ASC")
        if key is None or order not in ("ASC", "DESC"):
            raise validation_error("query.sort", f"unsupported sort {item!r}")
        records.sort(key=key, reverse=order == "DESC")
    return records


def parse_limit(value: Any) -> int:
    """The page size asked for: default 50, at most 100; GET query strings send it as text."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if value is None:
        return DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise validation_error("cursorPaging.limit", f"must be between 1 and {MAX_LIMIT}", "MAX")
    return value


def _encode_cursor(kind: str, offset: int, filter_: Any, sort: Any) -> str:
    payload = json.dumps({"k": kind, "o": offset, "f": filter_, "s": sort}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor: Any, kind: str) -> tuple[int, Any, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset, filter_, sort = data["o"], data["f"], data["s"]
        valid = data["k"] == kind and isinstance(offset, int) and offset >= 0
    except (TypeError, ValueError, KeyError, binascii.Error):
        valid = False
    if not valid:
        raise validation_error("cursorPaging.cursor", "invalid cursor")
    return offset, filter_, sort


def run_query(
    records: Sequence[R],
    query: Any,
    *,
    kind: str,
    fields: dict[str, Field[R]],
    sort_keys: dict[str, Callable[[R], Any]],
    quirks: Quirks,
) -> Page[R]:
    """Filter, sort and page ``records`` for one CursorQuery of collection ``kind``."""
    query = as_object(query if query is not None else {}, "query")
    paging = as_object(query.get("cursorPaging") or {}, "query.cursorPaging")
    limit = parse_limit(paging.get("limit"))
    if quirks.pageSize is not None:
        limit = min(limit, quirks.pageSize)
    if paging.get("cursor"):
        offset, filter_, sort = _decode_cursor(paging["cursor"], kind)
    else:
        offset, filter_, sort = 0, query.get("filter") or {}, query.get("sort") or []
    matches = compile_filter(filter_, fields)
    selected = sort_records([r for r in records if matches(r)], sort, sort_keys)
    page = selected[offset : offset + limit]
    has_next = offset + limit < len(selected)
    next_cursor = _encode_cursor(kind, offset + limit, filter_, sort) if has_next else None
    return Page(page, page_metadata(len(page), next_cursor, quirks))
