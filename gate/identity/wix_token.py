"""A Wix member or visitor access token, verified by asking Wix who it belongs to."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Callable

from cachetools import TTLCache
from starlette.requests import HTTPConnection
from starlette.types import Scope

from gate.data.expiring import ExpiringDict, Held, remember
from gate.data.singleflight import SingleFlight
from gate.errors import ConfigError, UpstreamBudgetSpent, UpstreamDataError
from gate.identity.base import PENDING, Identity, NowAnswer, Pending, StillTrue, always
from gate.identity.cookies import parse_cookies
from gate.upstream.budget import Priority
from gate.wix.client import WixClient
from gate.wix.transport import call_priority

__all__ = ["MAX_TOKEN_CHARS", "WIX_TOKEN_PATTERN", "WixTokenResolver"]

logger = logging.getLogger("booking_gate.identity")

#: What a Wix access token looks like: ``OauthNG.JWS.`` and a compact JWS (three base64url
#: parts), as Wix's OAuth, visitor and member tokens are. Anything else is not sent to Wix.
WIX_TOKEN_PATTERN = r"OauthNG\.JWS\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
#: Seconds unseen tokens are refused at once after the budget refused one (see identify).
REFUSED_FOR = 1.0
#: Longer values are not looked at, let alone matched: no Wix token comes near this.
MAX_TOKEN_CHARS = 8192
#: What the memo says of a header value that holds no token (a token's key is never empty).
_NOT_A_TOKEN = ""
#: Longer header values hold no token (``Bearer`` and spaces fit in the margin).
_MAX_HEADER_BYTES = MAX_TOKEN_CHARS + 16


class WixTokenResolver:
    """Reads an access token from ``header`` and ``cookie`` and resolves it to a member id.

    Only values that fully match ``token_pattern`` (by default the shape of a Wix access token,
    ``WIX_TOKEN_PATTERN``) are tokens: in the header either ``Bearer <token>`` or the raw token,
    as Wix's SDKs send it. ``Basic`` credentials, other schemes, the app's own JWTs and anything
    else are ignored as if absent, and never leave the process. Two different tokens in the
    header (two headers), or two values of the cookie, name nobody; a token in the header and
    another in the cookie are both looked up, and name nobody if they belong to different
    members.

    Uses ``POST /oauth2/token-info``, which also says which site issued the token; only a
    token of ``site_id`` counts. Answers are cached by a SHA-256 of the token, never the token
    itself: a member until the token expires (at most ``ttl`` seconds), so a token is looked up
    once in its lifetime; a token Wix calls inactive (expired, revoked, made up) as signed out
    for ``inactive_ttl`` seconds, in a separate bounded cache so junk never pushes members out.
    Any other failure (Wix down, 4xx, bad data) raises a ``SourceError`` and is never cached,
    so the gate's fail mode applies instead of silently signing members out.

    Tokens nobody has seen cost Wix calls that anyone can cause, so their lookups are paid from
    a limited share of the Wix budget and at most ``max_concurrent`` run at a time. With
    ``per_client``, one client address may cause at most that many a minute: set it only where
    the client address is the visitor's own (not behind a proxy that hides it, and never for
    forward-auth, where every request comes from the proxy).
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
        per_client: int | None = None,
        timer: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        token_pattern: str | re.Pattern[str] = WIX_TOKEN_PATTERN,
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
        self._raw_header = self._header.encode("latin-1") if self._header else None
        #: What the answer depends on besides the token caches (``resolve_kept``).
        self.reads: frozenset[bytes] = frozenset(
            name for name in (self._raw_header, b"cookie" if cookie else None) if name)
        self._cookie = cookie
        # A cookie header that does not contain the name cannot hold the cookie (see
        # _cookie_token); a name latin-1 cannot encode never matches a decoded header.
        try:
            self._raw_cookie = cookie.encode("latin-1") if cookie else None
        except UnicodeEncodeError:
            self._raw_cookie = None
        try:
            self._pattern = re.compile(token_pattern)
        except (re.error, TypeError) as exc:
            raise ConfigError(f"token_pattern is not a regular expression: {exc}") from None
        self._ttl = ttl
        self._inactive_ttl = inactive_ttl
        self._wall_clock = wall_clock
        # Read on every checkout: ExpiringDict (a dict lookup), not cachetools (4 µs a read).
        # Each member entry lives for its own lifetime: min(ttl, time left on the token).
        self._cache: ExpiringDict[str, Identity] = ExpiringDict(maxsize, ttl, timer=timer)
        self._inactive: ExpiringDict[str, Identity] = ExpiringDict(inactive_maxsize,
                                                                   inactive_ttl, timer=timer)
        self._flights: SingleFlight[Identity] = SingleFlight()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._per_client = per_client
        self._timer = timer
        #: Until when (``timer``) unseen tokens are refused without asking the budget again.
        self._refused_until = float("-inf")
        self._client_lookups: TTLCache[str, int] = TTLCache(10_000, 60.0, timer=timer)
        # Header value's digest -> its token's key (_NOT_A_TOKEN: none), so a checkout with a
        # known token costs a digest and two dict lookups, not a decode, a split and a regex.
        # Digests only: the header, like the token, is never kept. Bounded like the member
        # cache: junk values make it start over (the price is parsing again), never grow.
        self._parsed: dict[bytes, str] = {}
        self._parsed_max = maxsize
        # What a header value is digested with: blake2b, the cheapest of hashlib's digests up
        # to ~500 bytes (OpenSSL's sha256 costs ~0.5 µs more to set up, and wins only on longer
        # values); copying this blank one costs less than making one (which parses options).
        self._blank = hashlib.blake2b(digest_size=32)

    def __repr__(self) -> str:
        return f"WixTokenResolver(header={self._header!r}, cookie={self._cookie!r})"

    async def resolve(self, conn: HTTPConnection) -> Identity | None:
        # Parsed once here (not through resolve_now): identify() reads the caches first.
        from_header, from_cookie, ambiguity = self._tokens(conn.scope)
        if ambiguity is not None:
            return Identity(None, self.name, ambiguity)
        if from_header is None and from_cookie is None:
            return None
        client = conn.client.host if conn.client else None
        if from_header is None or from_cookie is None or from_header == from_cookie:
            token = from_header or from_cookie
            assert token is not None
            return await self.identify(token, client=client)
        first = await self.identify(from_header, client=client)
        second = await self.identify(from_cookie, client=client)
        return self._pair(first, second)

    def resolve_now(self, scope: Scope) -> NowAnswer:
        """The answer when every token in the request has been seen; else PENDING.

        ``resolve``'s rules, on the tokens' keys instead of the tokens (equal keys, equal
        tokens). This is the hot path of a checkout, so a header value is parsed once
        (``_parse``); after that, one header with a known token costs a digest and lookups.
        """
        return self.resolve_kept(scope)[0]

    def resolve_kept(
        self, scope: Scope,
    ) -> tuple[NowAnswer, StillTrue | tuple[Held, ...] | None]:
        """``resolve_now``, and whether it still stands: while each token it read is still
        remembered as the same answer (member or signed out; either expires on its own)."""
        header_key: str | None = None
        raw_header = self._raw_header
        if raw_header is not None:
            first: bytes | None = None
            more: list[bytes] | None = None
            for name, raw in scope["headers"]:  # a loop: cheaper here than a comprehension
                if name == raw_header:
                    if first is None:
                        first = raw
                    elif more is None:
                        more = [raw]
                    else:
                        more.append(raw)
            if more is not None:
                assert first is not None
                keys = {k for raw in (first, *more) if (k := self._key_of(raw))}
                if len(keys) > 1:
                    return Identity(None, self.name, self._many_headers), always
                header_key = keys.pop() if keys else _NOT_A_TOKEN
            elif first is not None:
                header_key = self._key_of(first)
        cookie_key: str | None = None
        if self._cookie:
            from_cookie, ambiguity = self._cookie_token(scope)
            if ambiguity is not None:
                return Identity(None, self.name, ambiguity), always
            cookie_key = _key(from_cookie) if from_cookie is not None else None
        if header_key and (cookie_key is None or cookie_key == header_key):
            return self._kept(header_key)
        if not header_key:
            return (None, always) if cookie_key is None else self._kept(cookie_key)
        assert cookie_key is not None
        first_known, second_known = self._known(header_key), self._known(cookie_key)
        if first_known is PENDING or second_known is PENDING:
            return PENDING, None
        assert isinstance(first_known, Identity) and isinstance(second_known, Identity)
        return self._pair(first_known, second_known), \
            (*self._held(header_key), *self._held(cookie_key))

    def _kept(self, key: str) -> tuple[NowAnswer, tuple[Held, ...] | None]:
        known = self._cached(key)
        if known is None:
            return PENDING, None
        return known, self._held(key)

    def _held(self, key: str) -> tuple[Held, ...]:
        """What keeps ``_cached(key)``'s answer: its entry in the member cache, or none there
        and its entry among the signed-out tokens."""
        member = self._cache.held(key)
        return (member,) if member.entry is not None else (member, self._inactive.held(key))

    @property
    def _many_headers(self) -> str:
        return f"more than one token in {self._header} headers"

    def _key_of(self, raw: bytes) -> str:
        """The key (``_key``) of the token in one header value, or _NOT_A_TOKEN."""
        if len(raw) > _MAX_HEADER_BYTES:  # no token, not worth a digest
            return _NOT_A_TOKEN
        hasher = self._blank.copy()
        hasher.update(raw)
        digest = hasher.digest()
        key = self._parsed.get(digest)
        return key if key is not None else self._parse(raw, digest)

    def _parse(self, raw: bytes, digest: bytes) -> str:
        """``_key_of`` the long way, remembered under the value's ``digest``."""
        token = self._from_header(raw)
        key = _key(token) if token is not None else _NOT_A_TOKEN
        return remember(self._parsed, digest, key, self._parsed_max)

    def _pair(self, first: Identity, second: Identity) -> Identity:
        if first.member_id and second.member_id and first.member_id != second.member_id:
            return Identity(None, self.name, f"the {self._header} header and the "
                            f"{self._cookie} cookie hold tokens of different members")
        return first if first.member_id else second

    def _known(self, key: str) -> Identity | Pending:
        known = self._cached(key)
        return known if known is not None else PENDING

    def _cached(self, key: str) -> Identity | None:
        """What is remembered of a token (by its hash): a member, or signed out for a while."""
        cached = self._cache.get(key)
        return cached if cached is not None else self._inactive.get(key)

    def accepts(self, value: str) -> bool:
        """True when ``value`` has the shape of a token (``token_pattern``), so it may be sent
        to Wix; anything else is never looked up."""
        return len(value) <= MAX_TOKEN_CHARS and self._pattern.fullmatch(value) is not None

    async def identify(self, token: str, *, client: str | None = None) -> Identity:
        """Who ``token`` belongs to (signed out if nobody here); raises SourceError when Wix
        cannot say. For tokens handed over directly, like the decision API's memberToken."""
        key = _key(token)
        known = self._cached(key)
        if known is not None:
            return known
        if self._per_client is not None and client is not None and key not in self._flights:
            # Joining a lookup already under way costs nothing, so it is not counted.
            count = self._client_lookups.get(client, 0)
            if count >= self._per_client:
                raise UpstreamBudgetSpent("too many unknown tokens from one client; try later")
            self._client_lookups[client] = count + 1
        if self._timer() < self._refused_until and key not in self._flights:
            # The new-token share was spent a moment ago: a flood of unseen tokens is refused
            # here, without the retry machinery, the budget and a 503 for each costing CPU
            # that members' checkouts need. Asked again after REFUSED_FOR seconds.
            raise UpstreamBudgetSpent("unseen tokens are not looked up for now; try later")
        try:
            return await self._flights.run(key, lambda: self._limited_lookup(key, token))
        except UpstreamBudgetSpent:
            self._refused_until = self._timer() + REFUSED_FOR
            raise

    async def _limited_lookup(self, key: str, token: str) -> Identity:
        async with self._slots:
            with call_priority(Priority.NEW_TOKEN):
                return await self._lookup(key, token)

    def _tokens(self, scope: Scope) -> tuple[str | None, str | None, str | None]:
        """(token from the header, token from the cookie, what makes them ambiguous)."""
        from_header: str | None = None
        if self._raw_header is not None:
            found = {t for name, raw in scope["headers"] if name == self._raw_header
                     if (t := self._from_header(raw)) is not None}
            if len(found) > 1:
                return None, None, self._many_headers
            from_header = found.pop() if found else None
        from_cookie: str | None = None
        if self._cookie:
            from_cookie, ambiguity = self._cookie_token(scope)
            if ambiguity is not None:
                return None, None, ambiguity
        return from_header, from_cookie, None

    def _cookie_token(self, scope: Scope) -> tuple[str | None, str | None]:
        """(the token in the cookie, what makes it ambiguous); only when ``cookie`` is set."""
        assert self._cookie
        raw_cookie = self._raw_cookie
        # Parsed only when a cookie header contains the name: the name is a substring of any
        # header holding the cookie (latin-1 maps bytes to characters one to one).
        if raw_cookie is None or not any(name == b"cookie" and raw_cookie in raw
                                         for name, raw in scope.get("headers") or ()):
            return None, None
        values = {v for v in parse_cookies(scope).get(self._cookie, ()) if v}
        if len(values) > 1:
            return None, f"more than one {self._cookie} cookie"
        if values:
            value = values.pop()
            return (value if self.accepts(value) else None), None
        return None, None

    def _from_header(self, raw: bytes) -> str | None:
        """The token in one header value (``Bearer <token>`` or a raw token), or None."""
        if len(raw) > _MAX_HEADER_BYTES:
            return None
        parts = raw.decode("latin-1").split(None, 1)
        if len(parts) == 2:
            if parts[0].lower() != "bearer":
                return None  # Basic, Digest, the app's own schemes: not ours to send anywhere
            value = parts[1].strip()
        elif parts:
            value = parts[0]
        else:
            return None
        return value if self.accepts(value) else None

    async def _lookup(self, key: str, token: str) -> Identity:
        info = await self._client.token_info(token)
        if not info.active:
            identity = Identity(None, self.name)
            self._inactive.set(key, identity)
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
            self._cache.set(key, identity, lifetime)
        return identity


def _key(token: str) -> str:
    """What a token is remembered by: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()
