"""A Wix member or visitor access token, verified by asking Wix who it belongs to."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from cachetools import TLRUCache
from starlette.requests import HTTPConnection

from gate.errors import ConfigError, UpstreamDataError
from gate.identity.base import Identity
from gate.singleflight import SingleFlight
from gate.wix.client import WixClient

__all__ = ["WixTokenResolver"]

logger = logging.getLogger("booking_gate.identity")


class WixTokenResolver:
    """Reads an access token from ``header`` or ``cookie`` and resolves it to a member id.

    Uses ``POST /oauth2/token-info``, which also says which site issued the token; only a
    token of ``site_id`` counts. Answers are cached by a SHA-256 of the token, never the token
    itself: a member for ``ttl`` seconds and never past the token's own expiry; a token Wix
    calls inactive (expired, revoked, made up) as signed out for ``inactive_ttl`` seconds.
    Any other failure (Wix down, 4xx, bad data) raises a ``SourceError`` and is never cached,
    so the gate's fail mode applies instead of silently signing members out.
    """

    name = "wix-token"

    def __init__(
        self,
        client: WixClient,
        *,
        site_id: str,
        header: str | None = "authorization",
        cookie: str | None = None,
        ttl: float = 300.0,
        inactive_ttl: float = 30.0,
        maxsize: int = 10_000,
        timer: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not header and not cookie:
            raise ConfigError("WixTokenResolver needs a header or a cookie to read the token from")
        if not isinstance(site_id, str) or not site_id.strip():
            raise ConfigError(
                "WixTokenResolver needs the site id (set BOOKING_GATE_WIX_SITE_ID): without it a "
                "member token from any Wix site would be accepted"
            )
        self._client = client
        self._site_id = site_id.strip()
        self._header = header.lower() if header else None
        self._cookie = cookie
        self._ttl = ttl
        self._inactive_ttl = inactive_ttl
        self._wall_clock = wall_clock
        # Each entry lives for its own lifetime: min(ttl, time left on the token).
        self._cache: TLRUCache[str, tuple[Identity, float]] = TLRUCache(
            maxsize, ttu=lambda _key, entry, now: now + entry[1], timer=timer
        )
        self._flights: SingleFlight[Identity] = SingleFlight()

    def __repr__(self) -> str:
        return f"WixTokenResolver(header={self._header!r}, cookie={self._cookie!r})"

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
        info = await self._client.token_info(token)
        if not info.active:
            identity = Identity(None, self.name)
            self._cache[key] = (identity, self._inactive_ttl)
            return identity
        if info.subject_type == "MEMBER" and not info.subject_id:
            raise UpstreamDataError("POST /oauth2/token-info: an active member token without "
                                    "a subjectId")
        identity = Identity(None, self.name)
        if info.subject_type == "MEMBER" and info.subject_id:
            if info.site_id != self._site_id:
                # Another site's token is nobody here. Said loudly: if every token is refused
                # this way, BOOKING_GATE_WIX_SITE_ID is probably wrong.
                logger.warning(
                    "member token issued for another site ignored (token site %r, configured "
                    "site %r): check BOOKING_GATE_WIX_SITE_ID if every member is signed out",
                    info.site_id, self._site_id,
                )
            else:
                identity = Identity(info.subject_id, self.name)
        lifetime = self._ttl
        if info.exp:
            lifetime = min(lifetime, info.exp - self._wall_clock())
        if lifetime > 0:
            self._cache[key] = (identity, lifetime)
        return identity
