"""booking-gate test, explain and schema, run as a user would run them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from gate.cli.main import main
from gate.policy.schema import SCHEMA_DIR, SCHEMAS, schema_text
from gate.policy.shipped import shipped_policies
from gate.policy.yaml_source import read_yaml
from tests.conftest import PILATES, Emulator

ROOT = Path(__file__).resolve().parents[1]


def shipped_with_tests(folder: Path, cases: str) -> Path:
    """A copy of the shipped policies in ``folder``, beside a test file holding ``cases``."""
    (folder / "rules.yaml").write_text((shipped_policies() / "10-checkout.yaml").read_text())
    (folder / "rules.test.yaml").write_text("apiVersion: booking-gate/v1\ncases:\n" + cases)
    return folder


def test_shipped_policies_check_and_pass_their_tests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(shipped_policies())]) == 0
    assert main(["test", str(shipped_policies())]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("16 passed, 0 failed")
    assert "FAIL" not in out


def test_a_wrong_expectation_fails_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped_with_tests(
        tmp_path,
        "  - name: credits book\n"
        "    member: {available: '3'}\n"
        "    expect: allow\n"
        "  - name: this expectation is wrong\n"
        "    member: {available: '0'}\n"
        "    expect: {redirect: /somewhere-else}\n"
    )
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    fail = next(i for i, line in enumerate(out) if line.startswith("FAIL"))
    assert out[fail] == f"FAIL {tmp_path / 'rules.test.yaml'}:6: this expectation is wrong"
    header, values = out[fail + 1], out[fail + 2]
    assert header.split("|")[0].strip() == "expected" and header.split("|")[1].strip() == "actual"
    assert values.split("|")[0].strip() == "redirect /somewhere-else"
    assert values.split("|")[1].strip() == (
        "redirect /plans-pricing?reason=no-credits (rule no-credits)")
    assert header.index("|") == values.index("|")  # the columns line up
    assert out[-1] == "1 passed, 1 failed"


def test_test_file_mistakes_are_reported_with_positions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped_with_tests(tmp_path, "  - name: x\n    member: {available: '3'}\n    expct: allow\n")
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'rules.test.yaml'}:5:5: `expct` is not a setting" in out
    assert "did you mean `expect`" in out


def test_check_also_checks_test_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped_with_tests(
        tmp_path, "  - name: x\n    member: signed_out\n    expect: {redirect: plans}\n")
    assert main(["check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "rules.test.yaml:4:13: `signed_out` is not a kind of member: use one of signed-out, " \
        "no-plan, unavailable" in out
    assert "rules.test.yaml:5:24: `redirect` is a page of this site: start it with /" in out


def test_explain_shows_every_rule_and_what_it_saw(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--policies", str(shipped_policies()), "--available", "0"]) == 0
    out = capsys.readouterr().out
    assert "Decision: redirect to /plans-pricing?reason=no-credits (HTTP 303)" in out
    assert "Decided by: rule 'no-credits'" in out
    assert "saw status = \"ACTIVE\" -> false; did not match" in out
    assert "saw can_book = false, available = 0.0 -> true; matched: this rule decided" in out
    assert "saw can_book = false -> true; not reached: an earlier rule decided" in out


def test_explain_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--policies", str(shipped_policies()), "--available", "5",
                 "--status", "PAUSED", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["decision"]["action"] == "deny"
    assert report["decision"]["rule"] == "plan-paused"
    assert [r["result"] for r in report["rules"]][:3] == [False, False, True]
    assert report["rules"][2]["values"] == {"status": "PAUSED"}


def test_explain_live_member_from_the_emulator(
    emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKING_GATE_WIX_API_KEY", emulator.api_key)
    monkeypatch.setenv("BOOKING_GATE_WIX_SITE_ID", "test-site-0001")
    monkeypatch.setenv("BOOKING_GATE_WIX_BASE_URL", emulator.url)
    assert main(["explain", "--policies", str(shipped_policies()),
                 "--member-id", emulator.members["eve"], "--service", PILATES]) == 0
    out = capsys.readouterr().out
    assert "Decision: allow" in out
    # Pilates costs 2 in eve's plan (Wix's price, not a configured one); she holds 2.5.
    assert "saw can_book = true, available = 2.5 -> false" in out
    assert emulator.api_key not in out
    assert os.environ["BOOKING_GATE_WIX_BASE_URL"].startswith("http://127.0.0.1")


def test_explain_needs_to_know_who(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--policies", str(shipped_policies())]) == 2
    assert "say who is asking" in capsys.readouterr().err


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_shipped_schema_matches_the_models(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`booking-gate schema --write` was run after the last model change."""
    committed = (SCHEMA_DIR / f"{kind}.schema.json").read_text()
    assert committed == schema_text(kind)
    assert main(["schema", kind]) == 0
    assert capsys.readouterr().out == committed


def _yaml_files() -> list[Path]:
    roots = [ROOT / "policies", ROOT / "docs"]
    return sorted(p for r in roots if r.exists() for p in r.rglob("*.yaml"))


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_example_files_point_at_and_satisfy_the_schema(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    kind = "policy-test" if path.name.endswith(".test.yaml") else "policy"
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    # The shipped policies carry their own copy, so the line holds wherever the folder lives.
    assert target.name == f"{kind}.schema.json"
    assert target.read_text() == (SCHEMA_DIR / f"{kind}.schema.json").read_text()
    located, problems = read_yaml(path.read_bytes(), str(path))
    assert located is not None and not problems
    jsonschema.validate(located.data, json.loads(target.read_text()))
