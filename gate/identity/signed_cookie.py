"""A session cookie signed by a host app that runs its own login."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.requests import HTTPConnection
from starlette.types import Scope

from gate.config.wix import ENV_SESSION_SECRET
from gate.errors import ConfigError
from gate.identity.base import Identity, StillTrue, always
from gate.identity.cookies import parse_cookies
from gate.secrets import MIN_SECRET_CHARS, MIN_SECRET_DISTINCT, check_secret

__all__ = ["MIN_SECRET_CHARS", "MIN_SECRET_DISTINCT", "SignedCookieResolver"]

_SALT = "booking-gate.session"
#: Shorter secrets, or ones with fewer distinct characters ("aaaa...", "abababab..."), are
#: refused: anyone holding the secret can sign a cookie for any member.


class SignedCookieResolver:
    """Verifies ``cookie`` with ``secret`` (itsdangerous, HMAC-SHA1 with a salt, timestamped).

    A missing cookie means "not mine"; a forged, tampered or older-than-``max_age`` cookie
    means a signed-out visitor, and so does the cookie sent twice with different values (one
    may have been planted by a page on a sibling domain). The host app creates the value with
    ``sign(member_id)``.

    Without ``secret``, the secret is read from BOOKING_GATE_SESSION_SECRET in ``environ``
    (``os.environ`` by default). The secret never appears in ``repr`` or in error messages.
    """

    name = "session-cookie"

    def __init__(
        self,
        *,
        secret: str | None = None,
        cookie: str = "gate_session",
        max_age: int = 14 * 86400,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if secret is None:
            secret = (os.environ if environ is None else environ).get(ENV_SESSION_SECRET)
            if secret is None:
                raise ConfigError(
                    f"the session secret is missing: set {ENV_SESSION_SECRET} (at least "
                    f"{MIN_SECRET_CHARS} random characters) or pass secret="
                )
        check_secret(secret, f"the session secret ({ENV_SESSION_SECRET} or secret=)")
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._cookie = cookie
        self._max_age = max_age
        #: What the answer depends on besides this resolver's settings (``resolve_kept``).
        self.reads = frozenset({b"cookie"})

    def __repr__(self) -> str:
        return f"SignedCookieResolver(cookie={self._cookie!r}, max_age={self._max_age})"

    def sign(self, member_id: str) -> str:
        """The cookie value that proves ``member_id`` signed in through the host app."""
        return self._serializer.dumps({"m": member_id})

    async def resolve(self, conn: HTTPConnection) -> Identity | None:
        return self.resolve_now(conn.scope)

    def resolve_now(self, scope: Scope) -> Identity | None:
        return self.resolve_kept(scope)[0]

    def resolve_kept(self, scope: Scope) -> tuple[Identity | None, StillTrue | None]:
        """The answer, and until when it stands: a good cookie while it is between 0 and
        ``max_age`` seconds old (itsdangerous's own rule, on whole seconds); a forged one for
        good; an expired one is not kept."""
        values = {v for v in parse_cookies(scope).get(self._cookie, ()) if v}
        if not values:
            return None, always
        if len(values) > 1:
            return Identity(None, self.name, f"more than one {self._cookie} cookie"), always
        value = values.pop()
        try:
            payload, signed = self._serializer.loads(value, max_age=self._max_age,
                                                     return_timestamp=True)
        except SignatureExpired:
            # Not kept: one signed "in the future" (a clock stepped back) becomes good later.
            return Identity(member_id=None, via=self.name), None
        except BadSignature:
            return Identity(member_id=None, via=self.name), always
        member_id = payload.get("m") if isinstance(payload, dict) else None
        if not isinstance(member_id, str) or not member_id:
            return Identity(member_id=None, via=self.name), always
        signed_at, max_age = int(signed.timestamp()), self._max_age
        return Identity(member_id=member_id, via=self.name), \
            lambda: 0 <= int(time.time()) - signed_at <= max_age
