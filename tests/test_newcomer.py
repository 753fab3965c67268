"""The rough edges a newcomer hit, each with what now happens instead (issue I).

Amounts with too many decimals say what to write; a bad emulator seed is one paragraph and
exit status 2; the policies' ``$schema`` line holds in the repository and in the wheel; the
demo seed's comments say what its data does; signed-out visitors go to the site's own sign-in
page; ``WixClient`` is public and the README's signatures are the code's; the Wix settings are
documented with their defaults; and a real site has a guide, whose hints are what the gate says.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import logging
import re
import shutil
import time
import tomllib
from collections.abc import Callable
from decimal import Decimal
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import HTTPConnection
from starlette.responses import Response

import gate
from gate.cli.main import main
from gate.config.settings import GateSettings
from gate.config.wix import WixSettings
from gate.credits.amounts import parse_amount
from gate.credits.balances import BalanceSnapshot, Benefit, PoolBalance, ServiceInfo, credits_for
from gate.identity.wix_token import WixTokenResolver
from gate.policy.cel_checker import split_types
from gate.policy.compiler import check_policies, load_policies
from gate.policy.schema import SCHEMA_DIR, SCHEMAS, schema_file, schema_line, schema_text
from gate.policy.shipped import shipped_policies
from gate.tooling.demo.site import DEMO_PAGES, DEMO_SERVICES
from gate.tooling.emulator import DEMO_SEED_PATH, load_seed
from gate.wix.client import WixClient
from tests.conftest import Emulator

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
GUIDE = (ROOT / "docs" / "wix-site.md").read_text(encoding="utf-8")


# -- a. amounts with too many decimals say what is wrong and what to write ---------------------


@pytest.mark.parametrize(("text", "options", "message"), [
    ("2.12345", {}, "'2.12345' has 5 decimal places; credit amounts have at most 4 decimal "
                    "places: write it rounded, like \"2.1235\""),
    ("0.99999", {}, "write it rounded, like \"1\""),
    ("1e9", {}, "'1e9' is not a plain decimal amount like \"2.5\": write digits with at most "
                "one decimal point, and no exponent, spaces or commas"),
    ("123456789012", {}, "at most 11 digits before the decimal point (at most 99999999999.9999)"),
    ("-1", {}, "'-1' must not be negative: write 0 or more, like \"0\""),
    ("+2", {"negative": True}, "'+2' must be written without a + sign, like \"2\""),
])
def test_a_refused_amount_says_what_to_write(
    text: str, options: dict[str, bool], message: str
) -> None:
    with pytest.raises(ValueError) as refused:
        parse_amount(text, **options)
    assert message in str(refused.value)


def test_a_policy_test_case_with_five_decimals_is_refused_in_plain_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not "String should match pattern '^[+-]?\\d{1,11}...'": the limit, and what to write."""
    (tmp_path / "rules.yaml").write_text((shipped_policies() / "10-checkout.yaml").read_text())
    (tmp_path / "rules.test.yaml").write_text(
        "apiVersion: booking-gate/v1\ncases:\n  - name: x\n    member: {available: \"2.12345\"}\n"
        "    expect: allow\n")
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert (f"{tmp_path / 'rules.test.yaml'}:4:25: `available`: '2.12345' has 5 decimal places; "
            "credit amounts have at most 4 decimal places: write it rounded, like \"2.1235\""
            ) in out
    assert "pattern" not in out


@pytest.mark.parametrize(("args", "said"), [
    (["--available", "2.12345"], "error: `available`: '2.12345' has 5 decimal places"),
    (["--available", "3", "--cost", "1.00001"], "error: `cost`: '1.00001' has 5 decimal places"),
])
def test_explain_refuses_a_long_amount_in_one_plain_line(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "--policies", str(shipped_policies()), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(said)
    assert err.count("\n") == 1 and "validation error" not in err


def test_explain_with_a_member_refuses_a_long_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    balances = tmp_path / "balances.yaml"
    balances.write_text("services: {yoga: [s]}\nmembers:\n  m1:\n    - pool: p1\n"
                        "      available: \"2\"\n      benefits: [{item_set: s, price: \"1\"}]\n")
    assert main(["explain", "--policies", str(shipped_policies()), "--member-id", "m1",
                 "--service", "yoga", "--balances", str(balances), "--cost", "1.00001"]) == 2
    assert capsys.readouterr().err == (
        "error: '1.00001' has 5 decimal places; credit amounts have at most 4 decimal places: "
        "write it rounded, like \"1\"\n")


# -- b. a bad seed is one paragraph naming the file, where, and what is wrong; exit 2 -----------

MEMBER = "members:\n  - name: ana\n    id: a1\n    email: ana@example.com\n"
POOL = "balances:\n  - id: p1\n    member: ana\n    createdDate: \"2026-01-01T00:00:00Z\"\n"


@pytest.mark.parametrize(("name", "text", "said"), [
    ("amount.yaml", MEMBER + POOL + "    available: \"2.12345\"\n",
     "amount.yaml: invalid seed: line 9, balances.0.available: '2.12345' has 5 decimal "
     "places; credit amounts have at most 4 decimal places: write it rounded, like \"2.1235\""),
    ("float.yaml", MEMBER + POOL + "    available: 2.5\n",
     "float.yaml: invalid seed: line 9, balances.0.available: must be text: put it in quotes, "
     "like \"2.5\""),
    ("member.yaml", MEMBER + POOL.replace("member: ana", "member: zed"),
     "member.yaml: invalid seed: line 7, balances.0.member: unknown member 'zed'"),
    ("field.yaml", MEMBER + "    emial: x\n",
     "field.yaml: invalid seed: line 5, members.0.emial: not a field here; check its spelling "
     "(the fields are: name, id, email, nickname, contactId, createdDate, tokens)"),
    ("indent.yaml", "members:\n  - name: ana\n   id: x\n",
     "indent.yaml: cannot read seed: line 3, column 4: this is not valid YAML"),
    ("seed.json", '{"members": [}', "seed.json: cannot read seed: line 1, column 14: this is "
     "not valid JSON"),
])
def test_a_bad_seed_stops_the_emulator_with_one_paragraph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, said: str
) -> None:
    seed = tmp_path / name
    seed.write_text(text)
    assert main(["emulator", "--seed", str(seed), "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"booking-gate emulator: {tmp_path / said}")
    assert err.count("\n") == 1  # one paragraph, no traceback


def test_a_missing_seed_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--seed", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err == (
        f"booking-gate emulator: {tmp_path / 'nope.yaml'}: cannot read seed: No such file or "
        "directory\n")


# -- c. the $schema line holds in the repository and in the installed wheel --------------------


@pytest.mark.parametrize("name", ["10-checkout.yaml", "10-checkout.test.yaml"])
def test_shipped_files_point_at_a_schema_beside_them(name: str) -> None:
    kind = "policy-test" if name.endswith(".test.yaml") else "policy"
    folder = shipped_policies()
    assert (folder / name).read_text().splitlines()[0] == schema_line(kind)
    assert (folder / schema_file(kind)).read_text() == schema_text(kind)


def test_the_schema_line_also_holds_in_the_wheels_layout(tmp_path: Path) -> None:
    """The wheel force-includes policies/ as gate/_policies/; the line must still resolve."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    installed = tmp_path / wheel["force-include"]["policies"]
    shutil.copytree(ROOT / "policies", installed)
    for policy in installed.glob("*.yaml"):
        target = policy.read_text().splitlines()[0].split("$schema=", 1)[1]
        kind = "policy-test" if policy.name.endswith(".test.yaml") else "policy"
        assert (policy.parent / target).read_text() == schema_text(kind)


def test_schema_into_writes_both_schemas_beside_a_sites_policies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "my-policies"
    assert main(["schema", "--into", str(folder)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {folder / schema_file(kind)}" for kind in SCHEMAS]
    for kind in SCHEMAS:
        assert (folder / schema_file(kind)).read_text() == (SCHEMA_DIR / schema_file(kind)
                                                            ).read_text()


def test_the_wheel_ships_py_typed_the_schemas_seeds_and_policies() -> None:
    """hatch packs every file under gate/ that .gitignore does not ignore, plus policies/."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["gate"] and "exclude" not in wheel
    assert wheel["force-include"] == {"policies": "gate/_policies"}
    ignored = [line.strip().rstrip("/") for line in (ROOT / ".gitignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    shipped = [ROOT / "gate" / "py.typed", *sorted((ROOT / "gate" / "schema").glob("*.json")),
               DEMO_SEED_PATH, DEMO_PAGES, ROOT / "policies" / "policy.schema.json"]
    for path in shipped:
        assert path.is_file(), path
        parts = path.relative_to(ROOT).parts
        assert not any(fnmatch(part, pattern) for part in parts for pattern in ignored), path
    assert pyproject["project"]["license"] == "Apache-2.0"


def test_the_license_is_the_full_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    for section in ("1. Definitions.", "4. Redistribution.", "9. Accepting Warranty or "
                    "Additional Liability.", "END OF TERMS AND CONDITIONS"):
        assert section in text, section


# -- d. the demo seed's comments say what its data does -----------------------------------------

_ROW = re.compile(r"^#   (?P<member>[a-z]+)\s{2,}.+?\s{2,}(?P<yoga>yes|no)\b.*?\s{2,}"
                  r"(?P<pilates>yes|no)\b")
_POOL_COMMENT = re.compile(r"^  - id: \"(?P<id>[^\"]+)\"\s+# (?P<member>\w+): (?P<text>.+)$")


def _demo_seed_text() -> str:
    return DEMO_SEED_PATH.read_text(encoding="utf-8")


def test_the_demo_seeds_table_matches_what_its_members_can_book() -> None:
    seed = load_seed(DEMO_SEED_PATH)
    rows = [m for line in _demo_seed_text().splitlines() if (m := _ROW.match(line))]
    assert [r["member"] for r in rows] == [m.name for m in seed.members]
    for row in rows:
        member = seed.find_member(row["member"])
        assert member is not None
        pools = tuple(
            PoolBalance(b.id, Decimal(b.available), Decimal(b.reserved), b.status,
                        namespace=b.namespace,
                        benefits=tuple(Benefit(x.itemSetId or "", Decimal(x.price))
                                       for x in b.benefits))
            for b in seed.balances if seed.find_member(b.member) is member)
        snapshot = BalanceSnapshot(member.id, pools, 0.0, "seed")
        for service, said in zip(DEMO_SERVICES, (row["yoga"], row["pilates"]), strict=True):
            sets = frozenset(i.itemSetId for i in seed.items if i.service == service.id)
            info = ServiceInfo(service.id, known=True, item_sets=sets)
            assert credits_for(snapshot, info).can_book == (said == "yes"), (
                row["member"], service.name)


def test_each_pools_comment_matches_its_data() -> None:
    seed = load_seed(DEMO_SEED_PATH)
    pools = {b.id: b for b in seed.balances}
    comments = [m for line in _demo_seed_text().splitlines() if (m := _POOL_COMMENT.match(line))]
    assert len(comments) == len(pools)
    for comment in comments:
        pool, text = pools[comment["id"]], comment["text"].lower()
        assert seed.find_member(pool.member) is seed.find_member(comment["member"])
        assert (pool.displayName or "").lower() in text
        left = re.search(r"([\d.]+) (?:left|unused)", text)
        expected = left.group(1) if left else "0" if "used up" in text else None
        if expected is not None:
            assert Decimal(pool.available) == Decimal(expected), comment["id"]
        for word, status in (("paused", "PAUSED"), ("ended", "ENDED")):
            assert (word in text) == (pool.status == status), comment["id"]


# -- e. signed-out visitors go to the site's own sign-in page ------------------------------------


def _sign_in_location(*paths: Path) -> str | None:
    rule = load_policies(list(paths)).rule("sign-in-first")
    assert rule is not None
    return rule.outcome.location


def test_the_shipped_policy_sends_visitors_to_the_home_page_not_the_demo() -> None:
    assert _sign_in_location(shipped_policies()) == "/?reason=sign-in-required"


def test_a_site_names_its_sign_in_page_once(tmp_path: Path) -> None:
    (tmp_path / "00-site.yaml").write_text(
        "apiVersion: booking-gate/v1\npages:\n  login: /account/login\n")
    assert _sign_in_location(shipped_policies(), tmp_path) == (
        "/account/login?reason=sign-in-required")


def test_the_demo_adds_its_own_sign_in_page() -> None:
    location = _sign_in_location(shipped_policies(), DEMO_PAGES)
    assert location == "/demo/login?reason=sign-in-required"


@pytest.mark.parametrize(("files", "where", "said"), [
    ({"a.yaml": "pages:\n  login: /one\n", "b.yaml": "pages:\n  login: /two\n"},
     ("b.yaml", 3, 3), "the page `login` is already set in"),
    ({"a.yaml": "pages:\n  login: https://evil.example/login\n"},
     ("a.yaml", 3, 10), "points to another site"),
    ({"a.yaml": "pages:\n  Login: /x\n"}, ("a.yaml", 3, 3), "`Login` is not a page name"),
    ({"a.yaml": "rules:\n  - name: r\n    when: \"!signed_in\"\n    action: redirect\n"
                "    to: logn\n"},
     ("a.yaml", 6, 9), "must start with /, like /plans-pricing, or be the name of a page from "
                       "`pages:` (login); did you mean `login`?"),
])
def test_pages_mistakes_are_reported_where_they_are(
    tmp_path: Path, files: dict[str, str], where: tuple[str, int, int], said: str
) -> None:
    for name, body in files.items():
        (tmp_path / name).write_text("apiVersion: booking-gate/v1\n" + body)
    policy_set, problems = check_policies([tmp_path])
    assert policy_set is None
    assert any((Path(p.file).name, p.line, p.column) == where and said in p.message
               for p in problems), problems


# -- f. WixClient is public, and the README's signatures are the code's -------------------------


def test_wix_client_is_exported() -> None:
    assert gate.WixClient is WixClient
    assert "WixClient" in gate.__all__


#: The classes whose full signature the README gives, and where each is defined.
DOCUMENTED: dict[str, Callable[..., Any]] = {
    "CheckoutRoute": gate.CheckoutRoute, "WixBalanceSource": gate.WixBalanceSource,
    "WixTokenResolver": gate.WixTokenResolver, "SignedCookieResolver": gate.SignedCookieResolver,
    "TrustedHeaderResolver": gate.TrustedHeaderResolver, "WixClient": WixClient,
    "StaticBalanceSource": gate.StaticBalanceSource, "WixSettings": WixSettings,
    "BookingGate.from_env": gate.BookingGate.from_env,
}


def _documented_signature(name: str) -> list[str]:
    """The parameters of the README's full signature of ``name`` (one with no ``...``)."""
    found = [m.group(1) for m in re.finditer(re.escape(name) + r"\(([^`]*)\)`", README)
             if "..." not in m.group(1)]
    assert found, f"the README gives no full signature of {name}"
    return split_types(" ".join(found[0].split()))  # at the commas outside brackets


def _value(text: str, obj: Callable[..., Any]) -> Any:
    try:
        return ast.literal_eval(text)
    except ValueError:  # a name: WIX_TOKEN_PATTERN, time.monotonic
        namespace = {"time": time, **vars(inspect.getmodule(obj))}
        return eval(text, namespace)  # the README's own text


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_the_readme_signature_is_the_code(name: str) -> None:
    obj = DOCUMENTED[name]
    actual = inspect.signature(obj).parameters
    keyword_only = False
    for param in _documented_signature(name):
        if param == "*":
            keyword_only = True
            continue
        if param.startswith("**"):
            assert actual[param[2:]].kind is inspect.Parameter.VAR_KEYWORD
            continue
        key, _, default = param.partition("=")
        assert key in actual, f"{name}: the README names `{key}`, which does not exist"
        kind = actual[key].kind
        assert (kind is inspect.Parameter.KEYWORD_ONLY) == keyword_only, (name, key)
        if default:
            assert actual[key].default == _value(default, obj), (name, key)
        else:
            assert actual[key].default is inspect.Parameter.empty, (name, key)
    required = [k for k, p in actual.items() if p.default is inspect.Parameter.empty
                and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
                and k != "self"]
    documented = {p.partition("=")[0] for p in _documented_signature(name)}
    assert set(required) <= documented, f"{name}: a required argument is not in the README"


def _tested_block(text: str) -> str:
    found = re.search(r"<!-- tested: tests/test_newcomer\.py -->\n```python\n(.*?)^```$", text,
                      re.DOTALL | re.MULTILINE)
    assert found, "the README's tested example is missing"
    return found.group(1)


def test_the_readmes_own_resolvers_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("BOOKING_GATE_WIX_SITE_ID", "site-1")
    monkeypatch.setenv("BOOKING_GATE_WIX_API_KEY", "key-1")
    monkeypatch.setenv("BOOKING_GATE_SESSION_SECRET", "a-session-secret-of-32-characters!")
    namespace: dict[str, Any] = {"app": Response("the site")}
    exec(_tested_block(README), namespace)
    built = namespace["app"]
    assert isinstance(built, gate.BookingGate)
    assert built.problem is None


# -- g. every Wix setting is documented with its default ----------------------------------------

_WIX_BULLET = re.compile(r"^- `(?P<field>\w+)` \(`(?P<variable>BOOKING_GATE_\w+)`\) — (?P<text>.+?)"
                         r"(?=^- |^\n)", re.MULTILINE | re.DOTALL)


def test_every_wix_setting_is_documented_with_its_default() -> None:
    section = README.split("**Wix settings.**", 1)[1].split("\n\n`BookingGate(app)`", 1)[0]
    bullets = {m["field"]: m for m in _WIX_BULLET.finditer(section + "\n\n")}
    fields = inspect.signature(WixSettings).parameters
    assert list(bullets) == list(fields)
    for field, bullet in bullets.items():
        assert bullet["variable"] == f"BOOKING_GATE_WIX_{field.upper()}"
        assert f"wix_{field}" in GateSettings.model_fields
        default = fields[field].default
        said = " ".join(bullet["text"].split())
        if default is None:
            assert "Default none" in said, field
        else:
            assert f"Default `{default}`." in said, field
            assert GateSettings.model_fields[f"wix_{field}"].default == default, field


# -- h. a real-site guide, whose hints are what the gate says ----------------------------------


def test_the_guide_covers_who_names_the_member() -> None:
    for needed in ("BOOKING_GATE_WIX_SITE_ID", "BOOKING_GATE_SESSION_SECRET",
                   "BOOKING_GATE_TOKEN_COOKIE", "getMemberTokens", "wix-members-backend",
                   "docs/velo.md", "velo.md", "## What is confirmed, and what is not"):
        assert needed in GUIDE, needed
    assert "docs/wix-site.md" in README


def test_the_another_site_hint_is_what_the_gate_logs(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A token of another site signs the member out, and the log line is the guide's."""
    client = WixClient(api_key=emulator.api_key, site_id="another-site", base_url=emulator.url)
    resolver = WixTokenResolver(client, site_id="another-site",
                                token_pattern=r"[A-Za-z0-9._-]+")

    async def identify() -> str | None:
        try:
            return (await resolver.identify(emulator.token("ana"))).member_id
        finally:
            await client.aclose()

    with caplog.at_level(logging.WARNING, logger="booking_gate.identity"):
        assert asyncio.run(identify()) is None
    [logged] = [r.getMessage() for r in caplog.records if r.name == "booking_gate.identity"]
    shown = re.sub(r"token site '[^']*', configured site '[^']*'",
                   "token site 'SITE-IN-THE-TOKEN', configured site 'YOUR-SETTING'", logged)
    assert f"WARNING booking_gate.identity: {shown}" in GUIDE
    # The README's troubleshooting quotes the same line, wrapped.
    assert "(token site ..., configured site ...): check BOOKING_GATE_WIX_SITE_ID if every " \
        "member is signed out" in " ".join(README.split())


def test_the_guides_session_cookie_example_signs_a_member_in(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKING_GATE_SESSION_SECRET", "a-session-secret-of-32-characters!")
    block = re.search(r"```python\n(.*?)^```$", GUIDE, re.DOTALL | re.MULTILINE)
    assert block
    namespace: dict[str, Any] = {"response": Response(), "member_id": "member-7"}
    exec(block.group(1), namespace)
    cookie = namespace["response"].headers["set-cookie"]
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    scope = {"type": "http", "headers": [(b"cookie", f"gate_session={value}".encode())]}
    identity = asyncio.run(gate.SignedCookieResolver().resolve(HTTPConnection(scope)))
    assert identity is not None and identity.member_id == "member-7"
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie


def test_the_readme_table_of_settings_still_lists_the_wix_timeout_and_retries() -> None:
    """The environment table and the Wix settings list agree on both defaults."""
    rows = {m[1]: m[2] for m in re.finditer(r"^\| `(BOOKING_GATE_WIX_\w+)` \|.*\| `?([^|`]+)`? \|$",
                                            README, re.MULTILINE)}
    assert rows["BOOKING_GATE_WIX_TIMEOUT"] == "5"
    assert rows["BOOKING_GATE_WIX_RETRIES"] == "1"
    assert json.loads(rows["BOOKING_GATE_WIX_TIMEOUT"]) == GateSettings.model_fields[
        "wix_timeout"].default
