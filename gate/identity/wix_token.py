"""A Wix member or visitor access token, verified by asking Wix who it belongs to."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Literal

from cachetools import TLRUCache
from starlette.requests import HTTPConnection

from gate.errors import ConfigError
from gate.identity.base import Identity
from gate.singleflight import SingleFlight
from gate.wix.client import WixClient

__all__ = ["WixTokenResolver"]

logger = logging.getLogger("booking_gate.identity")


class WixTokenResolver:
    """Reads an access token from ``header`` or ``cookie`` and resolves it to a member id.

    ``method="token-info"`` uses ``POST /oauth2/token-info`` (one call, and it tells which
    site issued the token, which is checked against ``site_id``); ``"members-my"`` uses
    ``GET /members/v1/members/my``. Answers are cached by a SHA-256 of the token, never the
    token itself, for ``ttl`` seconds and never past the token's own expiry.
    """

    name = "wix-token"

    def __init__(
        self,
        client: WixClient,
        *,
        site_id: str | None,
        header: str | None = "authorization",
        cookie: str | None = None,
        method: Literal["token-info", "members-my"] = "token-info",
        ttl: float = 300.0,
        maxsize: int = 10_000,
        timer: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not header and not cookie:
            raise ConfigError("WixTokenResolver needs a header or a cookie to read the token from")
        if method not in ("token-info", "members-my"):
            raise ConfigError(f"unknown token method {method!r}: use token-info or members-my")
        self._client = client
        self._site_id = site_id
        self._header = header.lower() if header else None
        self._cookie = cookie
        self._method = method
        self._ttl = ttl
        self._wall_clock = wall_clock
        # Each entry lives for its own lifetime: min(ttl, time left on the token).
        self._cache: TLRUCache[str, tuple[Identity, float]] = TLRUCache(
            maxsize, ttu=lambda _key, entry, now: now + entry[1], timer=timer
        )
        self._flights: SingleFlight[Identity] = SingleFlight()

    def __repr__(self) -> str:
        return f"WixTokenResolver(method={self._method!r}, header={self._header!r})"

    async def resolve(self, conn: HTTPConnection) -> Identity | None:
        token = self._token(conn)
        if token is None:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        return await self._flights.run(key, lambda: self._lookup(key, token))

    def _token(self, conn: HTTPConnection) -> str | None:
        if self._header:
            value = conn.headers.get(self._header, "").strip()
            # Browsers' SDKs send the raw token; some proxies add a Bearer prefix.
            if value[:7].lower() == "bearer ":
                value = value[7:].strip()
            if value:
                return value
        if self._cookie:
            value = conn.cookies.get(self._cookie, "").strip()
            if value:
                return value
        return None

    async def _lookup(self, key: str, token: str) -> Identity:
        if self._method == "members-my":
            member = await self._client.my_member(token)
            identity = Identity(member.id if member else None, self.name)
            self._cache[key] = (identity, self._ttl)
            return identity
        info = await self._client.token_info(token)
        identity = Identity(None, self.name)
        if info is not None and info.active and info.subject_type == "MEMBER" and info.subject_id:
            if self._site_id and info.site_id != self._site_id:
                # No site, or another site's: a token we cannot tie to this studio is nobody.
                logger.warning(
                    "member token not issued for this site ignored (token site %r)", info.site_id
                )
            else:
                identity = Identity(info.subject_id, self.name)
        lifetime = self._ttl
        if info is not None and info.exp:
            lifetime = min(lifetime, info.exp - self._wall_clock())
        if lifetime > 0:
            self._cache[key] = (identity, lifetime)
        return identity
