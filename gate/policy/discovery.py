"""Which files make a policy set (or its tests): every ``*.yaml`` under the given paths."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gate.errors import PolicyProblem

__all__ = ["discover_policy_files"]

_TEST_SUFFIXES = (".test.yaml", ".test.yml")


def discover_policy_files(
    paths: Sequence[str | Path], *, tests: bool = False
) -> tuple[list[Path], list[PolicyProblem]]:
    """Policy files (or, with ``tests``, policy-test files) under ``paths``, in name order."""
    found: list[Path] = []
    problems: list[PolicyProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            children = sorted(
                p for p in path.iterdir()
                if p.is_file() and p.suffix in (".yaml", ".yml")
                and p.name.endswith(_TEST_SUFFIXES) == tests
            )
            found.extend(children)
        elif path.is_file():
            if path.name.endswith(_TEST_SUFFIXES) == tests:
                found.append(path)
        else:
            problems.append(PolicyProblem(str(path), 1, 1, "this file or folder does not exist",
                                          code="not-found"))
    if not found and not problems:
        kind = "policy test" if tests else "policy"
        names = ", ".join(str(p) for p in paths)
        problems.append(PolicyProblem(names, 1, 1, f"no {kind} files (*.yaml) found here",
                                      code="no-files"))
    return found, problems
