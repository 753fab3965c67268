"""The request lane: a checkout seen before, answered from the request's own bytes.

The middleware keeps each cached checkout's decision (``gate.decision.kept``) and its answer
ready to send (an allowed checkout's private headers, or a refusal's page) under the request's
method, path, query, ``root_path`` and a digest of the headers the identity resolvers read
(their ``reads``, and ``Accept``, which picks a refusal's page; the client's address too when
a resolver trusts proxies by address). The same request again asks ``DecisionCore.recall``,
which gives the decision only while everything it was made from still stands; otherwise the
request is decided the usual way and kept again. Only paths something is kept for are looked
up (``paths``), before the route match: the same method, path and query match the same route.

Only digests are kept: a token or cookie never stays in memory because of the lane. The table
starts over past ``MAX_KEPT`` requests, so made-up credentials cannot grow it, and requests
with a path and query longer than ``MAX_KEY_TEXT`` are not kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence

from starlette.types import Scope

from gate.adapters.responses import Answer
from gate.data.expiring import remember
from gate.decision.kept import Kept
from gate.identity.base import MemberResolver, keeps_answers
from gate.identity.trusted_header import STRIPPED

__all__ = ["MAX_KEPT", "MAX_KEY_TEXT", "Entry", "Lane"]

#: Requests kept at most; past it the table starts over.
MAX_KEPT = 4096
#: Requests whose path and query are longer than this together are not kept (nor looked up).
MAX_KEY_TEXT = 512


#: What the lane keeps for a request: the decision and its answer.
Entry = tuple[Kept, Answer]


class Lane:
    def __init__(self, reads: frozenset[bytes], client: bool, strips: bool = False) -> None:
        # ``Accept`` too: it chooses a refusal's page (HTML or JSON), kept with the decision.
        self._reads = reads | {b"accept"}
        self._client = client
        #: Whether a resolver strips untrusted headers, and may mark the scope (``STRIPPED``).
        self._strips = strips
        self._kept: dict[Hashable, Entry] = {}
        #: The paths something is kept for: any other request skips the key.
        self.paths: set[str] = set()
        #: The policy set of what is kept: a new one empties the table (see ``put``).
        self._policies: object = None
        # Copying a blank hasher costs less than making one (which parses its options).
        self._blank = hashlib.blake2b(digest_size=16)
        #: The entry kept for a key (``key``), or None: the dict's own ``get``, no extra call.
        self.get = self._kept.get

    @classmethod
    def over(cls, resolvers: Sequence[MemberResolver], strips: bool) -> Lane | None:
        """A lane for these resolvers; None unless each can say what it reads and whether
        its answer still stands (``keeps_answers``)."""
        if not all(keeps_answers(r) for r in resolvers):
            return None
        reads = frozenset(name for r in resolvers for name in r.reads)  # type: ignore[attr-defined]
        return cls(reads, any(getattr(r, "reads_client", False) for r in resolvers), strips)

    def __len__(self) -> int:
        return len(self._kept)

    def key(self, scope: Scope) -> Hashable | None:
        """What identifies the request for the lane; None when it must not use the lane (a
        trusted proxy's header came twice: each such request is refused and logged)."""
        if self._strips and STRIPPED in scope:
            return None
        path, query = scope["path"], scope.get("query_string", b"")
        if len(path) + len(query) > MAX_KEY_TEXT:
            return None  # a visitor's long path or query is not worth keeping
        hasher = None
        reads = self._reads
        for name, value in scope["headers"]:
            if name in reads:
                if hasher is None:
                    hasher = self._blank.copy()
                # Length-prefixed: no two header lists digest the same bytes. Three updates
                # cost less than joining the bytes first.
                hasher.update(name)
                hasher.update(len(value).to_bytes(4, "big"))
                hasher.update(value)
        client = scope.get("client") if self._client else None
        # No credential header at all is the empty digest: blake2b never gives 0 bytes.
        return (scope["method"], path, query, scope.get("root_path", ""),
                client[0] if client else None,
                hasher.digest() if hasher is not None else b"")

    def put(self, key: Hashable, entry: Entry, path: str) -> None:
        """Keep ``entry`` for requests with ``key`` (on ``path``)."""
        kept = entry[0]
        if kept.policies is not self._policies:
            # Kept under an older set, nothing would be given again: let the sets go.
            self._kept.clear()
            self._policies = kept.policies
        remember(self._kept, key, entry, MAX_KEPT)
        if len(self._kept) == 1:
            # A table started over (or this key's own, its path the same): so do its paths.
            self.paths.clear()
        self.paths.add(path)
