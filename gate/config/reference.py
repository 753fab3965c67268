"""The configuration reference, generated from ``GateSettings``: one table, every option.

``python -m gate.config.reference > docs/configuration.md`` writes it; a test fails when the
file and the settings disagree, so the reference never drifts from the code.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from gate.config.settings import ENV_PREFIX, SECRET_FIELDS, GateSettings

__all__ = ["render"]

_HEADER = """# Configuration reference

Every option of booking-gate, for the middleware (`BookingGate.from_env` or
`BookingGate(app, settings=GateSettings(...))`), `booking-gate serve` and the CLI: one
`BOOKING_GATE_*` environment variable each, or the same name in lower case in a TOML file
(`--config gate.toml`; the environment wins). Secrets are read **only** from the environment:
a secret in the file is refused.

Generated from `gate/config/settings.py` by `python -m gate.config.reference`; do not edit by
hand.

| variable | type | default | what it is |
|---|---|---|---|
"""


def _type(info: FieldInfo) -> str:
    text = str(info.annotation).replace("typing.", "").replace("pathlib.", "")
    text = text.replace("pydantic.types.", "").replace("decimal.", "")
    text = text.replace("<class '", "").replace("'>", "")
    return text.replace("|", "or")


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "(required)"
    else:
        value = info.default
    if value is None:
        return "(none)"
    if isinstance(value, list):
        value = [str(v) for v in value]
    if isinstance(value, list | dict | tuple):
        return "`" + json.dumps(value) + "`"
    return f"`{value}`"


def render() -> str:
    rows = []
    for name, info in GateSettings.model_fields.items():
        description = (info.description or "").replace("|", "\\|").replace("\n", " ")
        if name in SECRET_FIELDS:
            description += " **Environment only.**"
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | {_type(info)} | {_default(info)} | "
                    f"{description} |")
    return _HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover - exercised through the test of the file
    sys.stdout.write(render())
