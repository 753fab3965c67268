"""The Velo web module and page code in docs/velo/, run by Node against a live gate.

docs/velo.md tells a Wix site owner to paste two files into their site. These tests prove what
they paste is exactly what runs here, and that it behaves: the web module is run verbatim by
Node, with Wix's modules ('wix-fetch', 'wix-secrets-backend.v2', 'wix-auth',
'wix-members-backend', 'wix-web-module', 'wix-location-frontend') replaced by the small
stand-ins in tests/velo/stand-ins/, against a real ``booking-gate serve`` reading the emulator.
The page code runs the same way, with a stand-in ``$w``; only its two CHANGE constants differ.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PILATES, SITE_ID, YOGA, Emulator
from tests.serving import API_SECRET, free_port, serve, serve_env

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "velo.md"
WEB_MODULE = ROOT / "docs" / "velo" / "backend" / "bookingGate.web.js"
PAGE_CODE = ROOT / "docs" / "velo" / "page" / "book-button.js"
VELO = Path(__file__).resolve().parent / "velo"
STAND_INS = VELO / "stand-ins"

BOOKING_URL = "/booking-calendar/morning-yoga"
PAUSED = "Your plan is paused. Resume it from your account to book again."
TRY_AGAIN = "We could not check your booking just now. Please try again in a minute."
PAGE_KEYS = {"outcome", "location", "message"}

_BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```js\n(?P<body>.*?)^```$",
                    re.DOTALL | re.MULTILINE)
_FILE_COMMENT = re.compile(r"<!-- file: (\S+) -->")


# --- the guide shows the files, byte for byte ---------------------------------------------


def _blocks() -> list[tuple[str, str]]:
    return [(m["path"], m["body"]) for m in _BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))]


def test_every_file_comment_is_followed_by_its_js_block() -> None:
    named = _FILE_COMMENT.findall(GUIDE.read_text(encoding="utf-8"))
    assert [path for path, _ in _blocks()] == named, (
        "each <!-- file: ... --> comment must be followed directly by a ```js block"
    )


def test_the_guide_shows_both_files() -> None:
    shown = [path for path, _ in _blocks()]
    assert shown == ["docs/velo/backend/bookingGate.web.js", "docs/velo/page/book-button.js"]


@pytest.mark.parametrize("path, body", _blocks(), ids=[p for p, _ in _blocks()])
def test_guide_block_is_the_file(path: str, body: str) -> None:
    file = ROOT / path
    assert file.is_file(), f"the guide shows {path}, which does not exist"
    assert body == file.read_text(encoding="utf-8"), (
        f"the block for {path} in docs/velo.md differs from the file"
    )


def test_the_guide_names_the_secrets_the_module_reads() -> None:
    module = WEB_MODULE.read_text(encoding="utf-8")
    guide = GUIDE.read_text(encoding="utf-8")
    for name in ("BOOKING_GATE_API_SECRET", "BOOKING_GATE_URL"):
        assert f"'{name}'" in module
        assert f"`{name}`" in guide


# --- Node, the stand-ins and a live gate ----------------------------------------------------


def _node_or_skip() -> str:
    node = shutil.which("node")
    in_ci = os.environ.get("CI", "").lower() == "true"
    problem = None
    if node is None:
        problem = "node is not on PATH"
    else:
        version = subprocess.run([node, "--version"], capture_output=True, text=True,
                                 check=False).stdout.strip()
        found = re.match(r"v(\d+)\.", version)
        if found is None or int(found[1]) < 18:
            problem = f"node {version or '?'} is too old: the stand-ins need Node 18+ (fetch)"
    if problem is not None:
        if in_ci:
            pytest.fail(f"{problem}; CI must install nodejs to test docs/velo/")
        pytest.skip(problem)
    assert node is not None
    return node


@pytest.fixture(scope="module")
def node() -> str:
    return _node_or_skip()


def _page_for_tests() -> str:
    """The page code with its two CHANGE constants filled in, as an owner would."""
    page = PAGE_CODE.read_text(encoding="utf-8")
    for old, new in (("'PASTE-THE-SERVICE-ID-HERE'", f"'{YOGA}'"),
                     ("'/booking-calendar/PASTE-THE-CLASS-PAGE-NAME-HERE'", f"'{BOOKING_URL}'")):
        assert page.count(old) == 1, f"the page code should hold {old} exactly once"
        page = page.replace(old, new)
    return page


def _build_site(folder: Path, backend: str | None = None) -> Path:
    """A folder Node can run: the two files, the runners, stand-ins in node_modules."""
    modules = folder / "node_modules"
    for stand_in in sorted(p for p in STAND_INS.iterdir() if p.is_dir()):
        shutil.copytree(stand_in, modules / stand_in.name)
        (modules / stand_in.name / "package.json").write_text(json.dumps(
            {"name": stand_in.name, "type": "module", "main": "index.js"}))
    (modules / "backend").mkdir()
    (modules / "backend" / "package.json").write_text(json.dumps(
        {"name": "backend", "type": "module",
         "exports": {"./bookingGate.web": "./bookingGate.web.js"}}))
    web_module = WEB_MODULE.read_text(encoding="utf-8") if backend is None else backend
    (modules / "backend" / "bookingGate.web.js").write_text(web_module, encoding="utf-8")
    (folder / "package.json").write_text(json.dumps({"name": "site", "type": "module"}))
    (folder / "page.js").write_text(_page_for_tests(), encoding="utf-8")
    for runner in ("run-web-method.mjs", "run-page.mjs"):
        shutil.copy(VELO / runner, folder / runner)
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_site(tmp_path_factory.mktemp("velo-site"))


@pytest.fixture(scope="module")
def gate_url(emulator_server: tuple[str, str]) -> Iterator[str]:
    url, api_key = emulator_server
    with serve(serve_env(url, api_key, SITE_ID)) as served:
        yield served


def _run(node: str, site: Path, runner: str, *, gate_url: str, member: str = "",
         secrets: dict[str, str] | None = None, args: list[Any] | None = None,
         ) -> tuple[dict[str, Any], str]:
    """Run a runner script in the site folder; returns its JSON line and Node's stderr."""
    if secrets is None:
        secrets = {"BOOKING_GATE_API_SECRET": API_SECRET, "BOOKING_GATE_URL": gate_url}
    env = {
        "PATH": os.environ.get("PATH", ""),
        "NODE_NO_WARNINGS": "1",
        "VELO_TEST_SECRETS": json.dumps(secrets),
        "VELO_TEST_MEMBER": member,
    }
    command = [node, runner]
    if args is not None:
        command.append(json.dumps(args))
    result = subprocess.run(command, cwd=site, env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    return json.loads(lines[-1]), result.stderr


def ask(node: str, site: Path, gate_url: str, *args: Any, member: str = "",
        secrets: dict[str, str] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """checkBooking(*args) as the page calls it; returns (answer, requests made)."""
    out, err = _run(node, site, "run-web-method.mjs", gate_url=gate_url, member=member,
                    secrets=secrets, args=list(args))
    answer = out["answer"]
    assert set(answer) == PAGE_KEYS, answer
    assert API_SECRET not in json.dumps(answer) and API_SECRET not in err
    assert out["permission"] == "Anyone"
    return answer, out["fetches"]


def _sent(fetches: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(fetches) == 1, fetches
    request = fetches[0]
    assert request["method"] == "POST"
    assert request["url"].endswith("/v1/decisions")
    assert request["headers"]["Authorization"] == f"Bearer {API_SECRET}"
    body: dict[str, Any] = json.loads(request["body"])
    return body


# --- the web module -------------------------------------------------------------------------


@pytest.mark.parametrize(("member", "service", "expected"), [
    ("ana", YOGA, {"outcome": "allow", "location": None, "message": None}),
    ("ana", PILATES, {"outcome": "allow", "location": None, "message": None}),
    ("ben", YOGA, {"outcome": "redirect", "location": "/plans-pricing?reason=no-credits",
                   "message": None}),
    ("cleo", YOGA, {"outcome": "deny", "location": None, "message": PAUSED}),
], ids=["ana-yoga", "ana-pilates", "ben-no-credits", "cleo-paused"])
def test_members_get_the_gates_decision(
    node: str, site: Path, gate_url: str, emulator: Emulator, member: str, service: str,
    expected: dict[str, Any],
) -> None:
    answer, fetches = ask(node, site, gate_url, service, member=emulator.members[member])
    assert answer == expected
    # The member is the one Wix says is logged in, read in the backend.
    assert _sent(fetches) == {"serviceId": service, "memberId": emulator.members[member]}


@pytest.mark.parametrize("signed_out", ["", "throw"], ids=["resolves-undefined", "throws"])
def test_a_signed_out_visitor_is_sent_to_sign_in(
    node: str, site: Path, gate_url: str, signed_out: str
) -> None:
    answer, fetches = ask(node, site, gate_url, YOGA, member=signed_out)
    assert answer["outcome"] == "redirect"
    assert answer["location"].startswith("/demo/login?reason=sign-in-required")
    assert _sent(fetches) == {"serviceId": YOGA}


def test_a_member_id_from_the_page_is_ignored(
    node: str, site: Path, gate_url: str, emulator: Emulator
) -> None:
    """A visitor who calls the web method with ana's id by hand is still a visitor."""
    ana = emulator.members["ana"]
    answer, fetches = ask(node, site, gate_url, YOGA, {"memberId": ana}, ana, member="")
    assert answer["outcome"] == "redirect"
    assert answer["location"].startswith("/demo/login?")
    assert _sent(fetches) == {"serviceId": YOGA}


def test_an_unreachable_gate_fails_closed(
    node: str, site: Path, gate_url: str, emulator: Emulator
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    secrets = {"BOOKING_GATE_API_SECRET": API_SECRET, "BOOKING_GATE_URL": nowhere}
    answer, fetches = ask(node, site, gate_url, YOGA, member=emulator.members["ana"],
                          secrets=secrets)
    assert answer == {"outcome": "error", "location": None, "message": TRY_AGAIN}
    assert _sent(fetches)["memberId"] == emulator.members["ana"]


def test_a_gate_that_never_answers_fails_closed_after_the_timeout(
    node: str, site: Path, gate_url: str, emulator: Emulator
) -> None:
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        secrets = {"BOOKING_GATE_API_SECRET": API_SECRET,
                   "BOOKING_GATE_URL": f"http://127.0.0.1:{silent.getsockname()[1]}"}
        started = time.monotonic()
        answer, _ = ask(node, site, gate_url, YOGA, member=emulator.members["ana"],
                        secrets=secrets)
        waited = time.monotonic() - started
    assert answer == {"outcome": "error", "location": None, "message": TRY_AGAIN}
    assert 4.5 <= waited < 30, waited


def test_a_wrong_secret_fails_closed(
    node: str, site: Path, gate_url: str, emulator: Emulator
) -> None:
    secrets = {"BOOKING_GATE_API_SECRET": "not-the-secret", "BOOKING_GATE_URL": gate_url}
    out, err = _run(node, site, "run-web-method.mjs", gate_url=gate_url, secrets=secrets,
                    member=emulator.members["ana"], args=[YOGA])
    assert out["answer"] == {"outcome": "error", "location": None, "message": TRY_AGAIN}
    assert "HTTP 401" in err and "BOOKING_GATE_API_SECRET" in err
    assert "not-the-secret" not in err


@pytest.mark.parametrize("secrets", [
    pytest.param({}, id="no-secrets"),
    pytest.param({"BOOKING_GATE_URL": "GATE"}, id="no-api-secret"),
    pytest.param({"BOOKING_GATE_API_SECRET": API_SECRET}, id="no-url"),
    pytest.param({"BOOKING_GATE_API_SECRET": API_SECRET, "BOOKING_GATE_URL": " "}, id="blank-url"),
    pytest.param({"BOOKING_GATE_API_SECRET": API_SECRET,
                  "BOOKING_GATE_URL": "http://gate.example.com"}, id="plain-http"),
])
def test_missing_or_unsafe_settings_fail_closed_without_a_request(
    node: str, site: Path, gate_url: str, emulator: Emulator, secrets: dict[str, str]
) -> None:
    secrets = {k: gate_url if v == "GATE" else v for k, v in secrets.items()}
    answer, fetches = ask(node, site, gate_url, YOGA, member=emulator.members["ana"],
                          secrets=secrets)
    assert answer == {"outcome": "error", "location": None, "message": TRY_AGAIN}
    assert fetches == []


@pytest.mark.parametrize("service", [None, 42, "", "x" * 201, [YOGA]],
                         ids=["null", "number", "empty", "too-long", "list"])
def test_a_bad_service_id_fails_closed_without_a_request(
    node: str, site: Path, gate_url: str, emulator: Emulator, service: Any
) -> None:
    answer, fetches = ask(node, site, gate_url, service, member=emulator.members["ana"])
    assert answer == {"outcome": "error", "location": None, "message": TRY_AGAIN}
    assert fetches == []


def test_when_wix_is_down_the_answer_says_try_again(
    node: str, site: Path, gate_url: str, emulator: Emulator
) -> None:
    emulator.fault("POST /benefit-programs/v1/balances/query", status=500, times=None)
    answer, _ = ask(node, site, gate_url, YOGA, member=emulator.members["eve"])
    assert answer["outcome"] == "deny"
    assert answer["location"] is None
    assert "try again" in answer["message"].lower()


# --- the page code --------------------------------------------------------------------------


def click(node: str, site: Path, gate_url: str, member: str = "",
          secrets: dict[str, str] | None = None) -> dict[str, Any]:
    out, err = _run(node, site, "run-page.mjs", gate_url=gate_url, member=member,
                    secrets=secrets)
    assert API_SECRET not in err
    return out


@pytest.mark.parametrize(("member", "goes_to"), [
    ("ana", BOOKING_URL),
    ("ben", "/plans-pricing?reason=no-credits"),
], ids=["ana-books", "ben-buys-credits"])
def test_book_now_goes_where_the_gate_says(
    node: str, site: Path, gate_url: str, emulator: Emulator, member: str, goes_to: str
) -> None:
    page = click(node, site, gate_url, emulator.members[member])
    assert page["navigations"] == [goes_to]
    assert page["message"]["hidden"] is True
    assert json.loads(page["fetches"][0]["body"])["serviceId"] == YOGA


def test_book_now_sends_a_visitor_to_sign_in(node: str, site: Path, gate_url: str) -> None:
    page = click(node, site, gate_url, "")
    [location] = page["navigations"]
    assert location.startswith("/demo/login?reason=sign-in-required")


def test_book_now_explains_a_paused_plan_and_stays(
    node: str, site: Path, gate_url: str, emulator: Emulator
) -> None:
    page = click(node, site, gate_url, emulator.members["cleo"])
    assert page["navigations"] == []
    assert page["message"] == {"text": PAUSED, "hidden": False}
    assert page["buttonEnabled"] is True


def test_book_now_with_the_gate_unreachable_says_try_again_and_stays(
    node: str, site: Path, gate_url: str, emulator: Emulator
) -> None:
    secrets = {"BOOKING_GATE_API_SECRET": API_SECRET,
               "BOOKING_GATE_URL": f"http://127.0.0.1:{free_port()}"}
    page = click(node, site, gate_url, emulator.members["ana"], secrets)
    assert page["navigations"] == []
    assert page["message"] == {"text": TRY_AGAIN, "hidden": False}
    assert page["buttonEnabled"] is True


def test_book_now_when_the_web_method_itself_fails_says_try_again(
    node: str, tmp_path: Path, gate_url: str
) -> None:
    """The browser could not reach the site's backend at all: the call rejects."""
    broken = ("export async function checkBooking() {\n"
              "  throw new Error('network down between the browser and Wix');\n}\n")
    page = click(node, _build_site(tmp_path, backend=broken), gate_url)
    assert page["navigations"] == []
    assert page["message"] == {"text": TRY_AGAIN, "hidden": False}
