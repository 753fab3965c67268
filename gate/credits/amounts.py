"""Credit amounts written as text: the one grammar for every amount the gate and emulator read.

Wix writes credits as decimal strings with at most 4 decimal places (reference §0: ``maxScale:
4``): ``"2.5"``, ``"0.0000"``, ``"7"``. The grammar is plain notation only: an optional sign, 1 to
11 whole digits, and optionally a point and 1 to 4 decimals. No exponent (``"1e9"``), no
``"NaN"``, no 40-digit number: none of those is a credit balance. With at most 11 whole digits
and 4 decimals every amount is exactly representable where conditions read it as a CEL double
(15 significant digits), and sums stay far inside ``Decimal``'s 28-digit precision.

Who allows what on top of the grammar is the caller's choice: Wix data may carry a sign, the
emulator's seeds only let ``available`` be negative (see ``parse_amount``). This module has no
dependencies, so the emulator can use it without importing the gate's Wix models.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "AMOUNT_PATTERN",
    "MAX_AMOUNT",
    "MAX_DECIMAL_PLACES",
    "MAX_WHOLE_DIGITS",
    "SMALLEST_STEP",
    "parse_amount",
]

MAX_WHOLE_DIGITS = 11
MAX_DECIMAL_PLACES = 4
#: The grammar as a regular expression (unanchored), for pydantic patterns and JSON Schema.
AMOUNT_PATTERN = rf"[+-]?\d{{1,{MAX_WHOLE_DIGITS}}}(\.\d{{1,{MAX_DECIMAL_PLACES}}})?"
#: The largest amount the grammar can write: 99999999999.9999.
MAX_AMOUNT = Decimal("9" * MAX_WHOLE_DIGITS + "." + "9" * MAX_DECIMAL_PLACES)
#: The smallest step between two amounts, 0.0001: ``quantize`` to it for 4 decimal places.
SMALLEST_STEP = Decimal(1).scaleb(-MAX_DECIMAL_PLACES)

# The plain-decimal shape with no length limits, so that a too-long amount is told apart from
# one that is not a decimal at all and gets a message saying which limit it broke.
_SHAPE = re.compile(r"(?P<sign>[+-]?)(?P<whole>\d+)(?:\.(?P<decimals>\d+))?")


def parse_amount(text: object, *, negative: bool = False, plus: bool = False) -> Decimal:
    """The ``Decimal`` that ``text`` writes, or ``ValueError`` saying what is wrong with it.

    ``negative``: a leading ``-`` is allowed. ``plus``: a leading ``+`` is allowed. Neither is by
    default: that is how Wix writes a balance. Surrounding spaces are never part of an amount;
    a caller that tolerates them strips them first.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a decimal string like \"2.5\", got {type(text).__name__}")
    shown = repr(text[:40])
    found = _SHAPE.fullmatch(text)
    if found is None:
        raise ValueError(f"{shown} is not a plain decimal amount like \"2.5\": write digits "
                         "with at most one decimal point, and no exponent, spaces or commas")
    sign, whole, decimals = found["sign"], found["whole"], found["decimals"] or ""
    if len(decimals) > MAX_DECIMAL_PLACES:
        # Wix keeps 4 decimal places; say which amount of at most 4 was probably meant.
        rounded = Decimal(text).quantize(SMALLEST_STEP, ROUND_HALF_UP).normalize()
        raise ValueError(f"{shown} has {len(decimals)} decimal places; credit amounts have "
                         f"at most {MAX_DECIMAL_PLACES} decimal places: write it rounded, like "
                         f"\"{format(rounded, 'f')}\"")
    if len(whole) > MAX_WHOLE_DIGITS:
        raise ValueError(f"{shown} is too large; credit amounts have at most "
                         f"{MAX_WHOLE_DIGITS} digits before the decimal point (at most "
                         f"{MAX_AMOUNT})")
    if sign == "-" and not negative:
        raise ValueError(f"{shown} must not be negative: write 0 or more, like \"0\"")
    if sign == "+" and not plus:
        raise ValueError(f"{shown} must be written without a + sign, like "
                         f"\"{text.removeprefix('+')}\"")
    return Decimal(text)
