"""Where the policy set that ships with booking-gate lives, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

from gate.errors import ConfigError

__all__ = ["shipped_policies"]


def shipped_policies() -> Path:
    """The shipped ``policies/`` folder.

    A wheel carries it inside the package (``gate/_policies``, see pyproject's force-include);
    an editable install or a source checkout reads the repository's top-level ``policies/``.
    Both are the same files, so the demo runs on exactly what the README documents.
    """
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_policies", package.parent / "policies"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("the shipped policies folder is missing from this installation")
