"""``booking-gate serve`` as a subprocess against the emulator: the decision API, end to end."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate.adapters.service import create_service
from gate.config.settings import GateSettings
from gate.tooling.testing import run_server
from tests.conftest import PILATES, SITE_ID, YOGA, Emulator
from tests.serving import API_SECRET, free_port, run_cli, serve, serve_env

AUTH = {"Authorization": f"Bearer {API_SECRET}"}
UNKNOWN = "00000000-0000-4000-8000-0000000000ff"


@pytest.fixture(scope="module")
def served(emulator_server: tuple[str, str]) -> Iterator[str]:
    url, api_key = emulator_server
    with serve(serve_env(url, api_key, SITE_ID)) as gate_url:
        yield gate_url


def ask(url: str, body: Any, headers: dict[str, str] | None = None,
        path: str = "/v1/decisions") -> httpx.Response:
    return httpx.post(url + path, json=body, headers=AUTH if headers is None else headers)


def test_health_and_readiness(served: str) -> None:
    assert httpx.get(served + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(served + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True


@pytest.mark.parametrize(
    ("member", "service", "outcome", "status", "rule", "location"),
    [
        ("ana", YOGA, "allow", 200, "(default)", None),
        ("ana", PILATES, "allow", 200, "(default)", None),
        ("ben", YOGA, "redirect", 303, "no-credits", "/plans-pricing?reason=no-credits"),
        ("cleo", YOGA, "deny", 403, "plan-paused", None),
        ("fay", PILATES, "redirect", 303, "not-in-plan", "/plans-pricing?reason=not-in-plan"),
        ("gus", YOGA, "redirect", 303, "not-enough-credits",
         "/plans-pricing?reason=not-enough-credits"),
        ("ana", UNKNOWN, "redirect", 303, "unknown-service", "/book-online?reason=unknown-service"),
    ],
)
def test_decisions_by_member_id(
    served: str, emulator: Emulator, member: str, service: str, outcome: str, status: int,
    rule: str, location: str | None,
) -> None:
    response = ask(served, {"memberId": emulator.members[member], "serviceId": service})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert (body["outcome"], body["status"], body["rule"], body["location"]) == (
        outcome, status, rule, location)
    assert body["memberId"] == emulator.members[member]
    assert body["data"] == "fresh"
    assert len(body["policyVersion"]) == 12
    if outcome == "deny":
        assert body["message"] == "Your plan is paused. Resume it from your account to book again."


def test_a_visitor_is_sent_to_sign_in_with_the_page_to_come_back_to(served: str) -> None:
    body = ask(served, {"serviceId": YOGA, "path": f"/booking-form?bookings_serviceId={YOGA}"}
               ).json()
    assert body["outcome"] == "redirect"
    assert body["rule"] == "sign-in-first"
    assert body["location"].startswith("/demo/login?reason=sign-in-required&return_to=/booking-")
    assert body["memberId"] is None
    assert body["data"] == "none"


def test_a_member_token_is_verified_with_wix(served: str, emulator: Emulator) -> None:
    good = ask(served, {"memberToken": emulator.token("ana"), "serviceId": YOGA}).json()
    assert (good["outcome"], good["memberId"]) == ("allow", emulator.members["ana"])
    junk = ask(served, {"memberToken": "not-a-token", "serviceId": YOGA}).json()
    assert (junk["outcome"], junk["rule"], junk["memberId"]) == (
        "redirect", "sign-in-first", None)
    # Not shaped like a token at all: never sent to Wix, a visitor (review finding).
    calls = emulator.calls("POST /oauth2/token-info")
    odd = ask(served, {"memberToken": "Basic dXNlcjpwYXNz", "serviceId": YOGA}).json()
    assert (odd["rule"], emulator.calls("POST /oauth2/token-info")) == ("sign-in-first", calls)


def test_batch_for_a_listing_page(served: str, emulator: Emulator) -> None:
    body = ask(served, {"memberId": emulator.members["fay"], "serviceIds": [YOGA, PILATES]},
               path="/v1/decisions/batch").json()
    assert body["decisions"][YOGA]["outcome"] == "allow"
    assert body["decisions"][PILATES]["rule"] == "not-in-plan"


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no-authorization"),
    pytest.param({"Authorization": "Bearer wrong-secret"}, id="wrong-secret"),
    pytest.param({"Authorization": API_SECRET}, id="no-bearer-word"),
    pytest.param({"Authorization": f"Bearer {API_SECRET}x"}, id="secret-plus-one"),
    pytest.param({"Authorization": f"Bearer {API_SECRET[:-1]}"}, id="secret-minus-one"),
    pytest.param({"Authorization": f"Basic {API_SECRET}"}, id="basic"),
])
def test_without_the_secret_nobody_is_named(
    served: str, emulator: Emulator, headers: dict[str, str]
) -> None:
    """A member id is trusted only from a caller holding the secret."""
    response = ask(served, {"memberId": emulator.members["ana"], "serviceId": YOGA}, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "outcome" not in response.json()


@pytest.mark.parametrize(("content", "status", "field"), [
    pytest.param(b"{not json", 400, None, id="bad-json"),
    pytest.param(b"", 400, None, id="empty-body"),
    pytest.param(b"[1, 2]", 422, "body", id="not-an-object"),
    pytest.param(b"{}", 422, "serviceId", id="no-service"),
    pytest.param(b'{"serviceId": 42}', 422, "serviceId", id="service-not-text"),
    pytest.param(b'{"serviceId": ""}', 422, "serviceId", id="service-empty"),
    pytest.param(b'{"serviceId": "x", "memberID": "m"}', 422, "memberID", id="unknown-field"),
    pytest.param(b'{"serviceId": "x", "memberId": "m", "memberToken": "t"}', 422, "body",
                 id="two-credentials"),
    pytest.param(b'{"serviceId": "x", "path": "plans"}', 422, "path", id="path-not-a-path"),
    pytest.param(b'{"serviceId": "x", "method": "GET /x"}', 422, "method", id="bad-method"),
])
def test_bad_bodies_get_a_field_level_4xx(
    served: str, content: bytes, status: int, field: str | None
) -> None:
    response = httpx.post(served + "/v1/decisions", content=content,
                          headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == status
    body = response.json()
    if field is not None:
        assert field in [f["field"] for f in body["fields"]], body


def test_a_body_over_16_kib_is_refused_unread(served: str) -> None:
    big = b'{"serviceId": "' + b"x" * 17_000 + b'"}'
    assert httpx.post(served + "/v1/decisions", content=big, headers=AUTH).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off as it streams
        for _ in range(20):
            yield b" " * 1024

    chunked = httpx.post(served + "/v1/decisions", content=chunks(), headers=AUTH)
    assert chunked.status_code == 413


def test_wrong_method_is_405(served: str) -> None:
    assert httpx.get(served + "/v1/decisions", headers=AUTH).status_code == 405


def test_when_wix_fails_the_answer_is_the_fail_mode(served: str, emulator: Emulator) -> None:
    emulator.fault("POST /benefit-programs/v1/balances/query", status=500, times=None)
    body = ask(served, {"memberId": emulator.members["eve"], "serviceId": YOGA}).json()
    assert (body["outcome"], body["status"], body["rule"], body["error"]) == (
        "deny", 503, "(on_error)", "upstream_unavailable")
    assert body["data"] == "none"
    ready = httpx.get(served + "/readyz")
    assert ready.status_code == 503
    assert ready.json()["upstream"]["lastError"]["kind"] == "upstream_unavailable"


def test_the_secret_is_compared_in_constant_time(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparison goes through hmac.compare_digest, with the whole header."""
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr("gate.adapters.service.decisions.hmac.compare_digest", spy)
    settings = GateSettings(wix_api_key=emulator.api_key, wix_site_id=SITE_ID,
                            wix_base_url=emulator.url, api_secret=API_SECRET)
    with run_server(create_service(settings)) as url:
        ask(url, {"serviceId": YOGA}, {"Authorization": "Bearer nope"})
    assert seen == [(b"Bearer nope", f"Bearer {API_SECRET}".encode())]


def test_serve_refuses_to_start_without_the_api_secret(emulator: Emulator) -> None:
    env = serve_env(emulator.url, emulator.api_key, SITE_ID)
    del env["BOOKING_GATE_API_SECRET"]
    result = run_cli("serve", "--port", str(free_port()), env=env)
    assert result.returncode == 2
    assert "BOOKING_GATE_API_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_names_a_busy_port_and_the_flag(served: str, emulator: Emulator) -> None:
    port = served.rsplit(":", 1)[1]
    result = run_cli("serve", "--port", port, env=serve_env(emulator.url, emulator.api_key,
                                                            SITE_ID))
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "--port" in result.stderr


def test_serve_reports_a_broken_policy_with_its_position(
    emulator: Emulator, tmp_path: Path
) -> None:
    (tmp_path / "p.yaml").write_text(
        "apiVersion: booking-gate/v1\nrules:\n  - name: x\n    when: availble <= 0\n"
        "    action: allow\n")
    env = serve_env(emulator.url, emulator.api_key, SITE_ID,
                    BOOKING_GATE_POLICIES=f'["{tmp_path}"]')
    result = run_cli("serve", "--port", str(free_port()), env=env)
    assert result.returncode == 2
    assert "p.yaml:4:11" in result.stderr and "did you mean `available`" in result.stderr


def test_a_config_file_cannot_hold_secrets_and_its_paths_are_its_own(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tmp_path / "conf" / "gate.toml"
    config.parent.mkdir()
    config.write_text('api_secret = "in-a-file"\n')
    env = serve_env(emulator.url, emulator.api_key, SITE_ID)
    refused = run_cli("serve", "--config", str(config), env=env)
    assert refused.returncode == 2
    assert "BOOKING_GATE_API_SECRET" in refused.stderr and "in-a-file" not in refused.stderr
    # A relative policy path in the file is read from the file's folder, from any cwd.
    (config.parent / "rules").mkdir()
    (config.parent / "rules" / "p.yaml").write_text(
        "apiVersion: booking-gate/v1\nrules:\n  - name: closed\n    when: 'true'\n"
        "    action: deny\n    message: Closed today.\n")
    config.write_text('policies = ["rules"]\n')
    del env["BOOKING_GATE_POLICIES"]
    with serve(env, "--config", str(config), cwd=tmp_path) as url:
        body = ask(url, {"serviceId": YOGA}).json()
    assert (body["rule"], body["message"]) == ("closed", "Closed today.")
