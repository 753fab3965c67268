"""Under CI=true a skipped test fails: a missing real component must never pass quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).parent / "probes" / "skipping.py"


@pytest.mark.parametrize(("ci", "code", "words"), [
    ("true", 1, "skipped under CI=true"),
    ("", 0, "1 skipped"),
])
def test_a_skip_fails_only_under_ci(ci: str, code: int, words: str) -> None:
    env = {**os.environ, "CI": ci}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(PROBE), "-p", "no:cacheprovider", "-q"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
        cwd=PROBE.parent.parent.parent,
    )
    assert result.returncode == code, result.stdout
    assert words in result.stdout
