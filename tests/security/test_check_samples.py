"""`booking-gate check` tries every rule on realistic sample requests and says when one never
or always matches: visitors, no plan, zero, fractional and negative balances, old credits, the
credits used while Wix is down, plans that cannot pay, pricier classes, GET and POST.

These are warnings: a sample set cannot prove a rule useless, so the set still loads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.cli.main import main
from gate.policy.compiler import check_policies
from gate.policy.samples import sample_requests
from tests.security.support import record

ROOT = Path(__file__).resolve().parents[2]


def _rule(name: str, when: str, extra: str = "") -> str:
    return (f"  - name: {name}\n    when: '{when}'\n    action: deny\n"
            f"    message: No.\n{extra}")


def _warnings(tmp_path: Path, *rules: str) -> list[tuple[str | None, str]]:
    (tmp_path / "10-rules.yaml").write_text("apiVersion: booking-gate/v1\nrules:\n" +
                                            "".join(rules))
    policy_set, problems = check_policies([tmp_path])
    assert policy_set is not None, problems
    return [(w.rule, w.code) for w in policy_set.warnings]


def test_the_samples_are_realistic() -> None:
    labels = [label for label, _ in sample_requests()]
    facts = [f for _, f in sample_requests()]
    record("check: sample requests", len(labels), 30)
    assert any(not f.identity.signed_in for f in facts)  # visitors
    assert any(f.balance is not None and not f.balance.pools for f in facts)  # no plan
    availables = {float(p.available) for f in facts if f.balance for p in f.balance.pools}
    assert {0.0, 0.5, 2.5, -1.0} <= availables  # zero, fractional, negative
    assert any(f.balance_age >= 3600 for f in facts)  # stale
    assert any("Wix went down" in label for label in labels)  # the credits used while down
    assert {f.method for f in facts} == {"GET", "POST"}
    assert len(labels) == len(set(labels))


@pytest.mark.parametrize("when", [
    "available > 1000",
    "sessions_left > 50",
    "signed_in && !signed_in",
    'status == "CANCELLED"',
    "balance_age > 86400.0",
    "available < 0",  # a negative balance shows as 0 credits: this never matches
])
def test_a_rule_no_sample_matches_is_reported(tmp_path: Path, when: str) -> None:
    assert _warnings(tmp_path, _rule("odd", when)) == [("odd", "never-matches")]


@pytest.mark.parametrize("when", [
    'service == "yoga-101"',
    'member == "m-1"',
    '"gold-plan-id" in plans',
    'today in ["2026-12-25"]',
    'now.getHours() >= 22',
    'path.startsWith("/booking-form/private")',
])
def test_a_rule_about_one_value_is_not_reported(tmp_path: Path, when: str) -> None:
    assert _warnings(tmp_path, _rule("specific", when)) == []


@pytest.mark.parametrize("when", [
    "!signed_in", "!can_book", "available <= 0", 'status == "PAUSED"', "!covered",
    "!service_known", "cost > 1", "reserved > 0", 'method == "POST"', "balance_age > 300.0",
    'status == "ENDED"', 'status == "PENDING"', "sessions_left < 2", "!has_plan",
    'pools.exists(p, p.status == "RENEWING")', "pools.exists(p, p.available < 0.0)",
])
def test_ordinary_rules_are_not_reported(tmp_path: Path, when: str) -> None:
    assert _warnings(tmp_path, _rule("ordinary", when), _rule("last", "!can_book")) == []


def test_a_rule_every_sample_matches_is_reported_unless_last(tmp_path: Path) -> None:
    everyone = _rule("everyone", "available >= -1000.0 || !signed_in")
    assert _warnings(tmp_path, everyone, _rule("after", "!can_book")) == [
        ("everyone", "always-matches")]
    assert _warnings(tmp_path, _rule("before", "!can_book"), everyone) == []  # the catch-all
    shadow = everyone.replace("    message: No.\n", "    message: No.\n    mode: shadow\n")
    assert _warnings(tmp_path, shadow, _rule("after", "!can_book")) == []


def test_the_warning_says_which_rules_may_never_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _warnings(tmp_path, _rule("everyone", "!signed_in || signed_in"), _rule("after", "!can_book"),
              _rule("never", "available > 1000"))
    capsys.readouterr()
    assert main(["check", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok: 3 rules")
    assert out[1].startswith(f"warning: {tmp_path / '10-rules.yaml'}:3:1: this rule matched "
                             "every sample request")
    assert "(from 'after')" in out[1] and out[1].endswith("(rule 'everyone')")
    assert out[2].startswith(f"warning: {tmp_path / '10-rules.yaml'}:11:1: this rule matched "
                             "none of the")


@pytest.mark.parametrize("folder", [ROOT / "policies",
                                    *sorted((ROOT / "docs" / "examples").iterdir())],
                         ids=lambda p: p.name)
def test_shipped_policies_and_recipes_have_no_sample_warnings(folder: Path) -> None:
    policy_set, problems = check_policies([folder])
    assert policy_set is not None, problems
    assert [w for w in policy_set.warnings if w.code != "fails-open"] == []
