"""Liberties the real Wix API may take with its JSON, switchable at run time.

The reference leaves several details open (reference §0, §1, §1b): whether decimals are padded,
whether an absent cursor is ``null`` or missing, whether empty lists and unknown new fields
appear, whether 5xx bodies are empty. A client that is only ever tested against one spelling
will break on the other, so each liberty is a switch here, set through ``POST /_emulator/quirks``
and cleared by ``/_emulator/reset``. Quirks change how a fact is spelled, never the fact.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field

from gate.credits.amounts import SMALLEST_STEP
from gate.strict import StrictModel
from gate.tooling.emulator.seed import format_amount

__all__ = ["AMOUNT_KEYS", "EXTRA_FIELD", "Quirks", "page_metadata", "present"]

# Keys whose string values are Wix decimals (reference §0), wherever they occur. "amount" is a
# decimal in a pool's creditConfiguration and an object in a balance; only strings are touched.
AMOUNT_KEYS = frozenset(
    {
        "available",
        "reserved",
        "creditAmount",
        "price",
        "amount",
        "availableBalance",
        "requestedBalance",
        "balanceCap",
    }
)
# The unknown field the ``extraFields`` quirk adds to every object. Its value is an object on
# purpose: a client that treats a oneof such as ``beneficiary`` as "its only key" breaks on it.
EXTRA_FIELD = "emulatorFutureField"
_EXTRA_VALUE = {"note": "an unknown field: clients must ignore it"}


class Quirks(StrictModel):
    """The switches; the defaults are the emulator's plain, documented behaviour."""

    amountStyle: Literal["verbatim", "padded", "plain"] = "verbatim"
    """verbatim: as stored ("2.5", seeded "7.0000" stays); padded: "7.0000"; plain: "7"."""
    cursorStyle: Literal["null", "absent", "empty"] = "null"
    """null: ``"next": null``; absent: null cursors left out and no ``cursors`` key when none
    is left; empty: null cursors left out but ``"cursors": {}`` kept."""
    pageSize: int | None = Field(default=None, ge=1, le=100)
    """Serve at most this many records per page, whatever limit the client asked for."""
    extraFields: bool = False
    """Add ``EXTRA_FIELD`` to every JSON object, the envelope included."""
    hasNext: Literal["normal", "omit", "false"] = "normal"
    """omit: never send ``hasNext``; false: always ``false``, even beside a next cursor."""
    nullMetadata: bool = False
    """Send ``"metadata": null`` on a last page."""
    emptyErrorDescriptions: bool = False
    """Error bodies carry ``"description": ""``; 5xx errors (faults included) have no body."""
    omitEmptyLists: bool = False
    """Leave out empty repeated fields, as proto3 JSON may (a member with no pools: no key)."""


def page_metadata(count: int, next_cursor: str | None, quirks: Quirks) -> dict[str, Any] | None:
    """The ``metadata`` of one page; ``next_cursor`` None means this is the last page."""
    last = next_cursor is None
    if last and quirks.nullMetadata:
        return None
    cursors: dict[str, Any] = {"next": next_cursor, "prev": None}
    if quirks.cursorStyle != "null":
        cursors = {key: value for key, value in cursors.items() if value is not None}
    metadata: dict[str, Any] = {"count": count}
    if cursors or quirks.cursorStyle != "absent":
        metadata["cursors"] = cursors
    if quirks.hasNext == "normal":
        metadata["hasNext"] = not last
    elif quirks.hasNext == "false":
        metadata["hasNext"] = False
    return metadata


def present(payload: dict[str, Any], quirks: Quirks) -> dict[str, Any]:
    """The response body as sent: ``payload`` with the amount, list and extra-field quirks."""
    result = _walk(payload, quirks)
    assert isinstance(result, dict)
    return result


def _walk(value: Any, quirks: Quirks, key: str | None = None) -> Any:
    if isinstance(value, dict):
        out = {
            k: _walk(v, quirks, k)
            for k, v in value.items()
            if not (quirks.omitEmptyLists and isinstance(v, list) and not v)
        }
        if quirks.extraFields:
            out[EXTRA_FIELD] = dict(_EXTRA_VALUE)
        return out
    if isinstance(value, list):
        return [_walk(item, quirks) for item in value]
    if isinstance(value, str) and key in AMOUNT_KEYS and quirks.amountStyle != "verbatim":
        return _restyle(value, quirks.amountStyle)
    return value


def _restyle(text: str, style: str) -> str:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text  # not a decimal after all: leave it alone rather than invent one
    if style == "plain":
        return format_amount(number)
    padded = number.quantize(SMALLEST_STEP)  # "7" -> "7.0000"
    return "0.0000" if padded == 0 else format(padded, "f")  # also folds "-0.0000"
