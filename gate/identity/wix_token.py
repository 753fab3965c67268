"""A Wix member or visitor access token, verified by asking Wix who it belongs to."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable

from cachetools import TLRUCache, TTLCache
from starlette.requests import HTTPConnection

from gate.errors import ConfigError, UpstreamBudgetSpent, UpstreamDataError
from gate.identity.base import Identity
from gate.singleflight import SingleFlight
from gate.upstream.budget import Priority
from gate.wix.client import WixClient
from gate.wix.transport import call_priority

__all__ = ["WixTokenResolver"]

logger = logging.getLogger("booking_gate.identity")


class WixTokenResolver:
    """Reads an access token from ``header`` or ``cookie`` and resolves it to a member id.

    Uses ``POST /oauth2/token-info``, which also says which site issued the token; only a
    token of ``site_id`` counts. Answers are cached by a SHA-256 of the token, never the token
    itself: a member until the token expires (at most ``ttl`` seconds), so a token is looked up
    once in its lifetime; a token Wix calls inactive (expired, revoked, made up) as signed out
    for ``inactive_ttl`` seconds, in a separate bounded cache so junk never pushes members out.
    Any other failure (Wix down, 4xx, bad data) raises a ``SourceError`` and is never cached,
    so the gate's fail mode applies instead of silently signing members out.

    Tokens nobody has seen cost Wix calls that anyone can cause, so their lookups are paid from
    a limited share of the Wix budget, at most ``max_concurrent`` at a time, and at most
    ``per_client`` a minute from one client address.
    """

    name = "wix-token"

    def __init__(
        self,
        client: WixClient,
        *,
        site_id: str,
        header: str | None = "authorization",
        cookie: str | None = None,
        ttl: float = 4 * 3600.0,
        inactive_ttl: float = 30.0,
        maxsize: int = 10_000,
        inactive_maxsize: int = 10_000,
        max_concurrent: int = 8,
        per_client: int = 30,
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
        self._inactive: TTLCache[str, Identity] = TTLCache(inactive_maxsize, inactive_ttl,
                                                           timer=timer)
        self._flights: SingleFlight[Identity] = SingleFlight()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._per_client = per_client
        self._client_lookups: TTLCache[str, int] = TTLCache(10_000, 60.0, timer=timer)

    def __repr__(self) -> str:
        return f"WixTokenResolver(header={self._header!r}, cookie={self._cookie!r})"

    async def resolve(self, conn: HTTPConnection) -> Identity | None:
        token = self._token(conn)
        if token is None:
            return None
        client = conn.client
        return await self.identify(token, client=client.host if client else None)

    async def identify(self, token: str, *, client: str | None = None) -> Identity:
        """Who ``token`` belongs to (signed out if nobody here); raises SourceError when Wix
        cannot say. For tokens handed over directly, like the decision API's memberToken."""
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        inactive = self._inactive.get(key)
        if inactive is not None:
            return inactive
        if client is not None and key not in self._flights:  # joining a lookup costs nothing
            count = self._client_lookups.get(client, 0)
            if count >= self._per_client:
                raise UpstreamBudgetSpent("too many unknown tokens from one client; try later")
            self._client_lookups[client] = count + 1
        return await self._flights.run(key, lambda: self._limited_lookup(key, token))

    async def _limited_lookup(self, key: str, token: str) -> Identity:
        async with self._slots:
            with call_priority(Priority.NEW_TOKEN):
                return await self._lookup(key, token)

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
            self._inactive[key] = identity
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
