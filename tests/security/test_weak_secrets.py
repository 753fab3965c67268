"""Secrets an attacker could guess are refused at start-up, for every secret the gate takes.

One check (``gate.secrets.check_secret``: at least 16 characters, at least 8 different ones,
not only whitespace) for the decision API's secret, the status token and the session secret.
The refusal names the setting and never shows the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from gate import BookingGate, ConfigError, StaticBalanceSource, WixSettings
from gate.adapters.service import create_service
from gate.config.settings import GateSettings
from gate.identity import TrustedHeaderResolver, signed_cookie
from gate.policy.shipped import shipped_policies
from gate.secrets import MIN_SECRET_CHARS, MIN_SECRET_DISTINCT, check_secret
from tests.conftest import CHECKOUT_APP

GOOD = "k3Jd9-xQ2mZp7LwV"
WEAK = [
    pytest.param("", "empty or only whitespace", id="empty"),
    pytest.param(" " * 32, "empty or only whitespace", id="spaces"),
    pytest.param("\t\n " * 8, "empty or only whitespace", id="whitespace"),
    pytest.param("Ab3$efG7", "at least 16 characters, got 8", id="short"),
    pytest.param("k3Jd9-xQ2mZp7Lw", "at least 16 characters, got 15", id="one-short"),
    pytest.param("a" * 64, "fewer than 8 different", id="one-character"),
    pytest.param("abababababababab", "fewer than 8 different", id="two-characters"),
    pytest.param("1234567" * 4, "fewer than 8 different", id="seven-characters"),
    pytest.param("password" * 2, "fewer than 8 different", id="password-twice"),
]


@pytest.mark.parametrize(("value", "message"), WEAK)
def test_check_secret_refuses_guessable_values(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        check_secret(value, "the thing (BOOKING_GATE_THING)")
    assert "BOOKING_GATE_THING" in str(caught.value)
    if value.strip():
        assert value not in str(caught.value)


def test_check_secret_accepts_a_random_value() -> None:
    assert check_secret(GOOD, "x") == GOOD
    assert check_secret("abcdefgh" * 2, "x") == "abcdefgh" * 2  # 8 different: enough
    with pytest.raises(ConfigError, match="must be a string"):
        check_secret(b"k3Jd9-xQ2mZp7LwV", "x")


def test_the_session_secret_uses_the_same_limits() -> None:
    assert (signed_cookie.MIN_SECRET_CHARS, signed_cookie.MIN_SECRET_DISTINCT) == (
        MIN_SECRET_CHARS, MIN_SECRET_DISTINCT)


def _settings(**values: Any) -> GateSettings:
    return GateSettings(policies=[shipped_policies()], reload_interval=None, **values)


def _static(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "balances.yaml"
    path.write_text("members: {}\n")
    return {"source": StaticBalanceSource(path, clock=lambda: 0.0),
            "resolvers": [TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])]}


@pytest.mark.parametrize(("value", "message"), WEAK)
def test_serve_refuses_a_weak_api_secret(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        create_service(_settings(api_secret=SecretStr(value)), **_static(tmp_path))
    assert "BOOKING_GATE_API_SECRET" in str(caught.value)
    if value.strip():
        assert value not in str(caught.value)


@pytest.mark.parametrize(("value", "message"), WEAK)
def test_serve_refuses_a_weak_status_token(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        create_service(_settings(api_secret=SecretStr(GOOD), status_token=SecretStr(value)),
                       **_static(tmp_path))
    assert "BOOKING_GATE_STATUS_TOKEN" in str(caught.value)


@pytest.mark.parametrize(("value", "message"), WEAK)
def test_the_middleware_refuses_weak_secrets(tmp_path: Path, value: str, message: str) -> None:
    status = BookingGate(CHECKOUT_APP, policies=shipped_policies(), reload_interval=None,
                         status_path="/_gate/status", status_token=value, **_static(tmp_path))
    assert isinstance(status.problem, ConfigError)
    assert "BOOKING_GATE_STATUS_TOKEN" in str(status.problem)
    static = _static(tmp_path)
    static.pop("resolvers")
    session = BookingGate(CHECKOUT_APP, policies=shipped_policies(), reload_interval=None,
                          session_secret=value, **static,
                          wix=WixSettings(api_key="unused-key", site_id="site-1"))
    assert isinstance(session.problem, ConfigError)
    assert "BOOKING_GATE_SESSION_SECRET" in str(session.problem)
    for gate in (status, session):
        if value.strip():
            assert value not in str(gate.problem)
