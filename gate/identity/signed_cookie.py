"""A session cookie signed by a host app that runs its own login."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection

from gate.errors import ConfigError
from gate.identity.base import Identity

__all__ = ["SignedCookieResolver"]

_SALT = "booking-gate.session"


class SignedCookieResolver:
    """Verifies ``cookie`` with ``secret`` (itsdangerous, HMAC-SHA1 with a salt, timestamped).

    A missing cookie means "not mine"; a forged, tampered or older-than-``max_age`` cookie
    means a signed-out visitor. The host app creates the value with ``sign(member_id)``.
    """

    name = "session-cookie"

    def __init__(self, *, secret: str, cookie: str = "gate_session", max_age: int = 14 * 86400):
        if not secret or len(secret) < 16:
            raise ConfigError(
                "the session secret must be at least 16 characters; set BOOKING_GATE_SESSION_SECRET"
            )
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._cookie = cookie
        self._max_age = max_age

    def __repr__(self) -> str:
        return f"SignedCookieResolver(cookie={self._cookie!r}, max_age={self._max_age})"

    def sign(self, member_id: str) -> str:
        """The cookie value that proves ``member_id`` signed in through the host app."""
        return self._serializer.dumps({"m": member_id})

    async def resolve(self, conn: HTTPConnection) -> Identity | None:
        value = conn.cookies.get(self._cookie)
        if not value:
            return None
        try:
            payload = self._serializer.loads(value, max_age=self._max_age)
        except BadSignature:
            return Identity(member_id=None, via=self.name)
        member_id = payload.get("m") if isinstance(payload, dict) else None
        if not isinstance(member_id, str) or not member_id:
            return Identity(member_id=None, via=self.name)
        return Identity(member_id=member_id, via=self.name)
