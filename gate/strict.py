"""The one strict pydantic config, for data that people write rather than Wix sends.

Policy files, policy-test files, the static balance file, the emulator's seeds, quirks and test
controls all validate through ``StrictModel``: an unknown key is refused (a typo must not be
silently ignored), values are not coerced (``"403"`` is not a status, ``"yes"`` is not true, and a
YAML ``available: 2.5`` is a float, which is how credits go wrong), and a model never changes
once read. Wix payloads are the opposite case and use their own, tolerant config
(``gate.wix.models``): Wix adds fields over time.

A model that needs one field to be lenient says so on that field (``Field(strict=False)``), so
the exception stands next to what it excuses instead of in a second config.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel"]


class StrictModel(BaseModel):
    """Unknown keys refused, no type coercion, frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
