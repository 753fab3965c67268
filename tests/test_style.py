"""The codebase stays ruff-clean and the public surface stays honest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gate

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "gate", "tests", "bench"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_names_are_sorted_and_importable() -> None:
    assert gate.__all__ == sorted(gate.__all__)
    for name in gate.__all__:
        assert hasattr(gate, name), name
