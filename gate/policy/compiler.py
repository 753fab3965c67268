"""Policy files → a compiled PolicySet, or every problem found in them, with positions.

Runs at start-up and on reload only. Each step has its module: read YAML strictly
(``yaml_source``), validate each file's shape (``validation``), collect the site's named pages
(``pages``), check what the shape cannot and compile each rule (``outcomes``, ``rules``), try
each condition against sample members (``samples``) so type mistakes fail here and not at a
checkout, and settle the settings a set has once (``file_settings``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from gate.errors import PolicyError, PolicyProblem
from gate.policy.discovery import discover_policy_files
from gate.policy.engine import CelEngine
from gate.policy.file_settings import compile_settings
from gate.policy.pages import collect_pages
from gate.policy.policyset import PolicySet
from gate.policy.rules import compile_rules
from gate.policy.validation import ParsedFile, validate_file
from gate.policy.yaml_source import read_yaml

__all__ = ["check_policies", "discover_policy_files", "load_policies"]


def load_policies(paths: Sequence[str | Path], engine: CelEngine | None = None) -> PolicySet:
    """Load and compile a policy set, or raise PolicyError listing every problem."""
    policy_set, problems = check_policies(paths, engine)
    if policy_set is None:
        raise PolicyError(problems)
    return policy_set


def check_policies(
    paths: Sequence[str | Path], engine: CelEngine | None = None
) -> tuple[PolicySet | None, list[PolicyProblem]]:
    """Compile a policy set; returns it with no problems, or None with all of them."""
    engine = engine or CelEngine()
    files, problems = discover_policy_files(paths)
    digest = hashlib.sha256()
    parsed: list[ParsedFile] = []
    for path in files:
        name = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            problems.append(PolicyProblem(name, 1, 1, f"cannot read this file: {exc.strerror}",
                                          code="unreadable"))
            continue
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        located, found = read_yaml(raw, name)
        problems.extend(found)
        if located is None:
            continue
        checked = validate_file(name, located, problems)
        if checked is not None:
            parsed.append(checked)
    warnings: list[PolicyProblem] = []
    pages = collect_pages(parsed, problems)
    rules = compile_rules(engine, parsed, pages, problems, warnings)
    settings = compile_settings(parsed, pages, problems, warnings)
    if problems:
        problems.sort(key=lambda p: (p.file, p.line, p.column))
        return None, problems
    default, on_error, timezone = settings
    warnings.sort(key=lambda p: (p.file, p.line, p.column))
    return PolicySet(
        rules=tuple(rules),
        default=default,
        on_error=on_error,
        timezone=timezone,
        version=digest.hexdigest()[:12],
        files=tuple(str(p) for p in files),
        engine=engine,
        warnings=tuple(warnings),
    ), []
