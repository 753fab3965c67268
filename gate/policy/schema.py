"""JSON Schema for policy and policy-test files, generated from the models that validate them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gate.policy.cases_model import PolicyTestFileModel
from gate.policy.model import PolicyFileModel

__all__ = ["SCHEMAS", "SCHEMA_DIR", "schema_text"]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
SCHEMAS = {"policy": PolicyFileModel, "policy-test": PolicyTestFileModel}


def _schema(kind: str) -> dict[str, Any]:
    schema = SCHEMAS[kind].model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://booking-gate.dev/schema/{kind}.schema.json"
    return schema


def schema_text(kind: str) -> str:
    """The schema as committed in ``gate/schema/<kind>.schema.json`` (sorted, newline-ended)."""
    return json.dumps(_schema(kind), indent=2, sort_keys=True) + "\n"
