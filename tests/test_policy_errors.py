"""Every kind of mistake studio staff make in a policy file, and what the loader says about it.

Each case in ``tests/policy_errors/`` is one small broken policy whose first line says where
the mistake must be reported and a piece of the message, for example::

    # expect: 5:11 did you mean `available`?

A sub-folder is one case made of several files (a mistake that needs two files); its
expectation sits in the file the mistake is reported in. A few cases are generated here
instead of committed (see GENERATED): a file over the size limit, one that is not UTF-8,
one with a control character and one with Windows line ends.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from gate.cli.main import main
from gate.errors import PolicyProblem
from gate.policy.compiler import check_policies
from gate.policy.yaml_source import MAX_FILE_BYTES

CORPUS = Path(__file__).parent / "policy_errors"
REPO = Path(__file__).parent.parent
_EXPECT = re.compile(r"^# expect: (\d+):(\d+) (.+)$")
_PRINTED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")

_VALID_RULE = (
    "apiVersion: booking-gate/v1\n"
    "rules:\n"
    "  - name: no-credits\n"
    "    when: available <= 0\n"
    "    action: redirect\n"
    "    to: /plans-pricing\n"
)


@dataclass(frozen=True)
class Case:
    """One mistake: what to pass to `check`, and the file the problem must be reported in."""

    name: str
    target: Path
    reported_in: Path
    line: int
    column: int
    text: str


def _expectation(name: str, target: Path, reported_in: Path) -> Case:
    first = reported_in.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    found = _EXPECT.match(first)
    assert found, f"{reported_in} must start with  # expect: LINE:COL message"
    return Case(name, target, reported_in, int(found[1]), int(found[2]), found[3].strip())


def _corpus() -> list[Case]:
    cases = []
    for entry in sorted(CORPUS.iterdir()):
        if entry.is_file() and entry.suffix == ".yaml":
            cases.append(_expectation(entry.stem, entry, entry))
        elif entry.is_dir():
            marked = [p for p in sorted(entry.glob("*.yaml"))
                      if p.read_bytes().startswith(b"# expect:")]
            assert len(marked) == 1, f"{entry}: exactly one file must hold the expectation"
            cases.append(_expectation(entry.name, entry, marked[0]))
    return cases


#: Cases written at test time: a 300 KB file does not belong in git, and editors and git
#: "fix" files with bad bytes or Windows line ends. Each is (name, file contents), and
#: the contents start with their own expectation line.
GENERATED: dict[str, bytes] = {
    "file_too_large": (
        b"# expect: 1:1 policy files may be at most 256 KB. Split it into several files\n"
        + _VALID_RULE.encode()
        + (b"# " + b"x" * 77 + b"\n") * ((MAX_FILE_BYTES + 40_000) // 80)
    ),
    "not_utf8": (
        b"# expect: 4:14 this file is not UTF-8 text; save it as UTF-8\n"
        b"apiVersion: booking-gate/v1\n"
        b"rules:\n"
        b"  - name: caf\xe9-rule\n"
        b"    when: available <= 0\n"
        b"    action: allow\n"
    ),
    "windows_line_endings": (
        b"# expect: 6:7 did you mean `available`?\r\n"
        b"apiVersion: booking-gate/v1\r\n"
        b"rules:\r\n"
        b"  - name: no-credits\r\n"
        b"    when: >-\r\n      availble <= 0\r\n"
        b"    action: allow\r\n"
    ),
    "control_character": (
        b"# expect: 6:22 invisible control character\n"
        b"apiVersion: booking-gate/v1\n"
        b"rules:\n"
        b"  - name: paused\n"
        b"    when: status == \"PAUSED\"\n"
        b"    message: \"Paused.\x07\"\n"
        b"    action: deny\n"
    ),
}

CASES = _corpus()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    folder = tmp_path_factory.mktemp("generated")
    cases = {}
    for name, content in GENERATED.items():
        path = folder / f"{name}.yaml"
        path.write_bytes(content)
        cases[name] = _expectation(name, path, path)
    return cases


def test_the_corpus_covers_at_least_30_kinds_of_mistake() -> None:
    assert len(CASES) + len(GENERATED) >= 30
    assert len({c.name for c in CASES} | set(GENERATED)) == len(CASES) + len(GENERATED)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    _check_case(case, capsys)


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_case(
    name: str, generated: dict[str, Case], capsys: pytest.CaptureFixture[str]
) -> None:
    _check_case(generated[name], capsys)


def test_the_oversized_file_really_is_over_the_limit(generated: dict[str, Case]) -> None:
    size = generated["file_too_large"].target.stat().st_size
    assert MAX_FILE_BYTES < size < MAX_FILE_BYTES + 64 * 1024


def _check_case(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    # The library call: no policy set, and the expected problem among those reported.
    policy_set, problems = check_policies([case.target])
    assert policy_set is None, f"{case.name}: the broken policy was accepted"
    _assert_sane(problems)
    where = f"{case.line}:{case.column}"
    hits = [p for p in problems
            if (p.file, p.line, p.column) == (str(case.reported_in), case.line, case.column)
            and case.text in p.message]
    assert hits, (f"{case.name}: expected a problem at {where} containing {case.text!r}; "
                  f"got:\n" + "\n".join(str(p) for p in problems))

    # The command staff run: exit 1, and one `path:line:col: message` line per problem.
    capsys.readouterr()
    assert main(["check", str(case.target)]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert {str(p) for p in problems} <= set(printed), "the command hides some problems"
    parsed = [_PRINTED.match(line) for line in printed]
    assert all(parsed), f"lines not shaped path:line:col: message:\n{printed}"
    assert any(
        m["file"] == str(case.reported_in) and (int(m["line"]), int(m["column"]))
        == (case.line, case.column) and case.text in m["message"]
        for m in parsed if m
    ), f"{case.name}: no printed line at {where} containing {case.text!r}:\n{printed}"


def _assert_sane(problems: list[PolicyProblem]) -> None:
    assert problems
    for problem in problems:
        assert problem.line >= 1 and problem.column >= 1, problem
        assert problem.message.strip(), problem
    keys = [(p.file, p.line, p.column, p.message) for p in problems]
    assert len(keys) == len(set(keys)), "the same problem was reported twice"


SEVERAL_MISTAKES = """\
apiVersion: booking-gate/v1
timezon: Europe/Lisbon
rules:
  - name: sign-in-first
    when: "!signed_in"
    action: redirect
    to: https://evil.example/login
    return_to: yes
  - name: paused
    when: status == PAUSED
    action: deny
  - name: paused
    when: availble <= 0
    action: redirekt
  - name: ok
    when: available == "0"
    action: deny
    status: 200
    message: Not enough credits.
"""


def test_several_mistakes_are_all_reported_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(SEVERAL_MISTAKES)
    expected = [
        (2, 1, "did you mean `timezone`?"),
        (7, 9, "points to another site"),
        (8, 16, "`yes` is not read as yes/no"),
        (9, 5, "a deny needs `message:`"),
        (10, 21, "put PAUSED in quotes"),
        (12, 11, "two rules are named 'paused'"),
        (13, 11, "did you mean `available`?"),
        (14, 13, "unknown action `redirekt`"),
        (16, 21, "write available == 0"),
        (18, 13, "use a number from 400 to 599"),
    ]
    _, problems = check_policies([path])
    _assert_sane(problems)
    for line, column, text in expected:
        assert any((p.line, p.column) == (line, column) and text in p.message
                   for p in problems), f"missing {line}:{column} {text!r}:\n" + "\n".join(
                       str(p) for p in problems)
    assert [(p.line, p.column) for p in problems] == sorted((p.line, p.column) for p in problems)

    capsys.readouterr()
    assert main(["check", str(path)]) == 1
    captured = capsys.readouterr()
    assert {str(p) for p in problems} <= set(captured.out.splitlines())
    assert len(problems) >= len(expected)
    assert "problem(s) found" in captured.err


def test_mistakes_in_several_files_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "10-a.yaml").write_text(_VALID_RULE.replace("available", "availble"))
    (tmp_path / "20-b.yaml").write_text(_VALID_RULE.replace("no-credits", "other")
                                        .replace("/plans-pricing", "plans"))
    _, problems = check_policies([tmp_path])
    assert {(Path(p.file).name, p.line, p.column) for p in problems} == {
        ("10-a.yaml", 4, 11), ("20-b.yaml", 6, 9)}


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    target = CORPUS / "typo_variable.yaml"
    capsys.readouterr()
    assert main(["check", "--format", "json", str(target)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report.keys() == {"valid", "version", "rules", "problems", "warnings"}
    assert report["valid"] is False
    assert report["warnings"] == []
    assert report["version"] is None
    assert report["rules"] == []
    assert report["problems"] == [{
        "file": str(target),
        "line": 5,
        "column": 11,
        "rule": "no-credits",
        "code": "condition",
        "message": "`availble` is not something a rule can check; did you mean `available`?",
    }]


def test_json_format_for_valid_policies(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["check", "--format", "json", str(REPO / "policies")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert re.fullmatch(r"[0-9a-f]{12}", report["version"])
    assert report["rules"] and all(isinstance(name, str) for name in report["rules"])
    assert report["problems"] == []


def test_shipped_policies_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["check", str(REPO / "policies")]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"ok: \d+ rules in \d+ file\(s\), policy version [0-9a-f]{12}\n", out)
