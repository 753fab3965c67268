"""Where each piece of shared state lives in Redis, and how a Redis address may be shown.

Every key starts with ``booking-gate:{<site>}:``. The site id keeps two sites (tenants) on one
Redis apart; the braces make it a Redis Cluster hash tag, so every key of a site lives on one
node and the Lua scripts, which touch several keys of a site at once, work on a cluster too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["PREFIX", "Keys", "where"]

PREFIX = "booking-gate"
# What may appear in a key as it is; anything else (a brace, a space) is hashed first, so no
# value can end the hash tag early or make two keys collide.
_PLAIN = re.compile(r"[A-Za-z0-9._:@|-]{1,200}")


def _part(value: str) -> str:
    return value if _PLAIN.fullmatch(value) else \
        "sha256-" + hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys of one site."""

    site: str

    @property
    def base(self) -> str:
        return f"{PREFIX}:{{{_part(self.site)}}}"

    def balance(self, member_id: str) -> str:
        """A member's balance snapshot, as JSON (``gate.state.codec``)."""
        return f"{self.base}:balance:{_part(member_id)}"

    def generation(self, member_id: str) -> str:
        """Bumped by every invalidation: a fetch that began before it may not store."""
        return f"{self.base}:gen:{_part(member_id)}"

    def fetching(self, member_id: str) -> str:
        """The lock of the one instance reading this member from Wix right now."""
        return f"{self.base}:fetch:{_part(member_id)}"

    def holds(self, member_id: str) -> str:
        """The member's last-credit holds, as JSON."""
        return f"{self.base}:holds:{_part(member_id)}"

    def turn(self, member_id: str) -> str:
        """The lock of the one checkout submission of this member being decided."""
        return f"{self.base}:turn:{_part(member_id)}"

    def budget(self) -> list[str]:
        """The budget's sorted sets: every call; unseen-token lookups; unknown-service lookups."""
        return [f"{self.base}:budget:calls", f"{self.base}:budget:new_token",
                f"{self.base}:budget:new_service"]

    def webhook(self, event_id: str) -> str:
        """A webhook event id seen by some instance (the fleet-wide dedupe)."""
        return f"{self.base}:webhook:{_part(event_id)}"

    @property
    def channel(self) -> str:
        """The pub/sub channel invalidations of this site travel on."""
        return f"{self.base}:invalidate"


def where(url: str) -> str:
    """The address of a Redis URL, for logs and errors: host and port, never a password, user
    name or database."""
    try:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            return "a unix socket"
        host, port = parts.hostname, parts.port
    except ValueError:
        return "an address that could not be read"
    return f"{host or 'localhost'}:{port or 6379}"
