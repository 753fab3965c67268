"""JSON Schema for policy and policy-test files, generated from the models that validate them.

Editors find a schema through the first line of each file,
``# yaml-language-server: $schema=<path>``, a path relative to that file. The only path that
is right wherever a policy folder lives (this repository's ``policies/``, the wheel's
``gate/_policies/``, a site's own folder) is one inside the folder itself, so the schemas are
written next to the policy files: ``booking-gate schema --into DIR``, and then every file
starts with ``$schema=policy.schema.json`` (or ``policy-test.schema.json`` for tests).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gate.policy.cases_model import PolicyTestFileModel
from gate.policy.model import PolicyFileModel

__all__ = ["SCHEMAS", "SCHEMA_DIR", "schema_file", "schema_line", "schema_text", "write_schemas"]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
SCHEMAS: dict[str, type[BaseModel]] = {
    "policy": PolicyFileModel, "policy-test": PolicyTestFileModel,
}


def _schema(kind: str) -> dict[str, Any]:
    schema = SCHEMAS[kind].model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://booking-gate.dev/schema/{kind}.schema.json"
    return schema


def schema_text(kind: str) -> str:
    """The schema as committed in ``gate/schema/<kind>.schema.json`` (sorted, newline-ended)."""
    return json.dumps(_schema(kind), indent=2, sort_keys=True) + "\n"


def schema_file(kind: str) -> str:
    """The schema's file name: ``policy.schema.json`` or ``policy-test.schema.json``."""
    return f"{kind}.schema.json"


def schema_line(kind: str) -> str:
    """The first line of a file of this kind whose schema sits beside it."""
    return f"# yaml-language-server: $schema={schema_file(kind)}"


def write_schemas(folder: Path) -> list[Path]:
    """Write every schema into ``folder`` (made if missing); the files written, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in SCHEMAS:
        path = folder / schema_file(kind)
        path.write_text(schema_text(kind), encoding="utf-8")
        written.append(path)
    return written
