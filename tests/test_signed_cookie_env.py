"""SignedCookieResolver reads BOOKING_GATE_SESSION_SECRET, and refuses guessable secrets."""

from __future__ import annotations

import pytest

from gate import ConfigError, SignedCookieResolver
from gate.config.wix import ENV_SESSION_SECRET

GOOD = "k3Jd9-xQ2mZp7LwV"  # 16 characters, 16 different ones


def test_the_secret_comes_from_the_environment() -> None:
    from_env = SignedCookieResolver(environ={ENV_SESSION_SECRET: GOOD})
    explicit = SignedCookieResolver(secret=GOOD)
    cookie = from_env.sign("m-1")
    assert explicit._serializer.loads(cookie) == {"m": "m-1"}  # same key, either way


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_SESSION_SECRET, GOOD)
    assert SignedCookieResolver().sign("m-1")
    monkeypatch.delenv(ENV_SESSION_SECRET)
    with pytest.raises(ConfigError, match=ENV_SESSION_SECRET):
        SignedCookieResolver()


def test_an_explicit_secret_wins_over_the_environment() -> None:
    resolver = SignedCookieResolver(secret=GOOD, environ={ENV_SESSION_SECRET: "x"})
    assert resolver.sign("m-1")


def test_a_missing_secret_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=f"missing: set {ENV_SESSION_SECRET}"):
        SignedCookieResolver(environ={})


BAD = [
    pytest.param("", "empty or only whitespace", id="empty"),
    pytest.param(" " * 32, "empty or only whitespace", id="spaces"),
    pytest.param("\t\n \t\n \t\n \t\n \t\n ", "empty or only whitespace", id="whitespace"),
    pytest.param("Ab3$efG7", "at least 16 characters, got 8", id="short"),
    pytest.param("k3Jd9-xQ2mZp7Lw", "at least 16 characters, got 15", id="one-short"),
    pytest.param("a" * 64, "fewer than 8 different", id="one-character"),
    pytest.param("abababababababab", "fewer than 8 different", id="two-characters"),
    pytest.param("1234567" * 4, "fewer than 8 different", id="seven-characters"),
]


@pytest.mark.parametrize(("value", "message"), BAD)
@pytest.mark.parametrize("via", ["environ", "argument"])
def test_weak_secrets_are_refused_without_showing_them(
    value: str, message: str, via: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        if via == "environ":
            SignedCookieResolver(environ={ENV_SESSION_SECRET: value})
        else:
            SignedCookieResolver(secret=value, environ={})
    text = str(caught.value)
    assert ENV_SESSION_SECRET in text
    if value.strip():
        assert value not in text
    assert caught.value.__cause__ is None


def test_a_secret_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be a string"):
        SignedCookieResolver(secret=b"k3Jd9-xQ2mZp7LwV")  # type: ignore[arg-type]


def test_eight_different_characters_are_enough() -> None:
    SignedCookieResolver(environ={ENV_SESSION_SECRET: "abcdefgh" * 2})


def test_the_secret_is_never_in_repr() -> None:
    resolver = SignedCookieResolver(environ={ENV_SESSION_SECRET: GOOD})
    assert GOOD not in repr(resolver)
    assert repr(resolver) == "SignedCookieResolver(cookie='gate_session', max_age=1209600)"
