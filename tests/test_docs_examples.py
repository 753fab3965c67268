"""Every example in docs/policies.md is a real, checked and tested file.

The guide shows each recipe's policy file in full, right after a ``<!-- file: PATH -->``
comment. These tests prove that what staff copy from the guide is exactly the file in
docs/examples/, that the file passes ``booking-gate check``, and that its test file passes
``booking-gate test`` with cases that show the rule acting and not acting.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from gate.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "policies.md"
EXAMPLES = ROOT / "docs" / "examples"
SCHEMA_LINE = "# yaml-language-server: $schema=../../../gate/schema/{}.schema.json\n"

#: A file block: the comment naming the file, then at once a ```yaml fence, up to its end.
_BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```yaml\n(?P<body>.*?)^```$",
                    re.DOTALL | re.MULTILINE)
_FILE_COMMENT = re.compile(r"<!-- file: (\S+) -->")
_SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$", re.MULTILINE)

RECIPES = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
YAML_FILES = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".yaml", ".yml"))


def _blocks() -> list[tuple[str, str]]:
    return [(m["path"], m["body"]) for m in _BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))]


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_there_are_recipes() -> None:
    assert len(RECIPES) >= 7, RECIPES


def test_every_file_comment_is_followed_by_its_yaml_block() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    named = _FILE_COMMENT.findall(text)
    assert named, "the guide shows no files"
    assert [path for path, _ in _blocks()] == named, (
        "each <!-- file: ... --> comment must be followed directly by a ```yaml block"
    )


@pytest.mark.parametrize("path, body", _blocks(), ids=[p for p, _ in _blocks()])
def test_guide_block_is_the_file(path: str, body: str) -> None:
    file = ROOT / path
    assert file.is_file(), f"the guide shows {path}, which does not exist"
    assert body == file.read_text(encoding="utf-8"), (
        f"the block for {path} in docs/policies.md differs from the file"
    )


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_is_shown_in_full_in_the_guide(recipe: Path) -> None:
    shown = {path for path, _ in _blocks()}
    assert _rel(recipe / "policy.yaml") in shown
    assert (recipe / "policy.test.yaml").is_file(), f"{recipe.name} has no test file"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_passes_check(recipe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(recipe)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert out.startswith("ok: "), out


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_passes_its_tests(recipe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["test", str(recipe)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    summary = _SUMMARY.search(out)
    assert summary, out
    passed, failed = int(summary[1]), int(summary[2])
    assert failed == 0, out
    assert passed >= 2, f"{recipe.name}: a recipe needs a case where it acts and one where not"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_cases_show_each_rule_acting_and_not(recipe: Path) -> None:
    yaml = YAML(typ="safe", pure=True)
    rules = yaml.load((recipe / "policy.yaml").read_text(encoding="utf-8"))["rules"]
    cases = yaml.load((recipe / "policy.test.yaml").read_text(encoding="utf-8"))["cases"]
    expects = [c["expect"] for c in cases]
    deciding = {e.get("rule") for e in expects if isinstance(e, dict)}
    enforced = [r["name"] for r in rules if r.get("mode", "enforce") == "enforce"]
    missing = [name for name in enforced if name not in deciding]
    assert not missing, f"no case expects these rules to decide: {missing}"
    assert any(e == "allow" or (isinstance(e, dict) and e.get("allow")) for e in expects), (
        "no case shows a member who gets through"
    )


@pytest.mark.parametrize("file", YAML_FILES, ids=lambda p: _rel(p))
def test_example_starts_with_schema_line(file: Path) -> None:
    kind = "policy-test" if file.name.endswith((".test.yaml", ".test.yml")) else "policy"
    first = file.read_text(encoding="utf-8").splitlines(keepends=True)[0]
    assert first == SCHEMA_LINE.format(kind), f"{_rel(file)} starts with {first!r}"
