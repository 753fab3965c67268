"""One check for every secret the gate is given: long enough and varied enough to be unguessable.

Used for the decision API's shared secret, the status token and the session-cookie secret.
A secret that fails is refused at start-up with a ConfigError that says which setting is weak
and why, and never shows the value.
"""

from __future__ import annotations

from gate.errors import ConfigError

__all__ = ["GENERATE_HINT", "MIN_SECRET_CHARS", "MIN_SECRET_DISTINCT", "check_secret"]

#: Shorter secrets, or ones with fewer distinct characters ("aaaa...", "abababab..."), are
#: refused: anyone who guesses one acts as the operator, the Velo backend or any member.
MIN_SECRET_CHARS = 16
MIN_SECRET_DISTINCT = 8
GENERATE_HINT = ("Generate one with: python -c 'import secrets; "
                 "print(secrets.token_urlsafe(32))'")


def check_secret(secret: object, where: str) -> str:
    """Return ``secret`` if it is strong enough; raise ConfigError naming ``where`` if not.

    ``where`` names the setting in the words an operator uses, like
    ``"the API secret (BOOKING_GATE_API_SECRET)"``. The value itself is never in the message.
    """
    if not isinstance(secret, str):
        raise ConfigError(f"{where} must be a string, got {type(secret).__name__}")
    if not secret.strip():
        raise ConfigError(f"{where} is empty or only whitespace. {GENERATE_HINT}")
    if len(secret) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"{where} must be at least {MIN_SECRET_CHARS} characters, got {len(secret)}. "
            f"{GENERATE_HINT}"
        )
    if len(set(secret)) < MIN_SECRET_DISTINCT:
        raise ConfigError(
            f"{where} is too easy to guess: it has fewer than {MIN_SECRET_DISTINCT} different "
            f"characters. {GENERATE_HINT}"
        )
    return secret
