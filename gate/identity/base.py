"""Who is asking: the interface every member resolver implements, and how their answers combine.

One credential, or nobody. The rules, in the order ``resolve_chain`` applies them:

1. Every resolver is asked, whatever an earlier one answered: a credential that names someone
   else must be seen to be refused.
2. A resolver that finds more than one credential of its kind (two session cookies, two Wix
   tokens in ``Authorization``, two ``X-Member-Id`` headers) reports an ambiguity, and the
   request is a signed-out visitor: whoever planted the second one must not choose the member.
3. Two resolvers that name *different* members (a session cookie and a Wix token, a cookie and a
   proxy header) make the request a signed-out visitor too.
4. Otherwise the member named by a valid credential is the member, whichever resolver found it;
   the same member named twice is that member.
5. A credential that names nobody (forged, expired, a Wix visitor token) never outweighs one that
   names a member: it is not a claim to be someone else. So a valid session cookie is never
   replaced by a stale token, and headers the resolvers do not read (``Basic`` credentials, the
   app's own JWTs, anything that does not look like a Wix token) are not credentials at all.
6. Nothing recognised: a signed-out visitor.

Every refusal of rules 2 and 3 is logged at WARNING on ``booking_gate.identity``, saying which
kinds of credential clashed and the client address, never a credential's value.

A resolver that cannot learn the answer (Wix down) raises ``SourceError``, and the gate's fail
mode applies, even when another resolver already named a member: whether the two agree is
exactly what is unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from starlette.requests import HTTPConnection
from starlette.types import Scope

from gate.data.expiring import StillTrue

__all__ = ["ANONYMOUS", "PENDING", "Identify", "Identity", "MemberResolver", "NowAnswer", "Pending",
           "StillTrue", "always", "identify_later", "keeps_answers", "resolve_chain",
           "resolve_chain_kept", "resolve_chain_now", "strip_untrusted"]

logger = logging.getLogger("booking_gate.identity")


@dataclass(frozen=True, slots=True)
class Identity:
    """The verified member behind a request, or ``member_id=None`` for a signed-out visitor.

    ``ambiguity`` says why a request that carries credentials names nobody: which kinds of
    credential clashed (never their values). Only resolvers set it.
    """

    member_id: str | None
    via: str
    ambiguity: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.member_id is not None


ANONYMOUS = Identity(member_id=None, via="none")


@runtime_checkable
class MemberResolver(Protocol):
    """Turns a request into an Identity.

    Return ``None`` when the request carries nothing this resolver understands. Return an
    anonymous Identity when it carries a credential that is invalid, expired or belongs to a
    visitor, and one with ``ambiguity`` set when it carries several candidates of this
    resolver's kind. Raise ``SourceError`` only when the answer could not be learned (upstream
    down), so the gate's fail mode applies.

    A resolver may offer ``resolve_now(scope) -> Identity | None | PENDING``: the same answer
    when it needs no waiting, so a checkout with everything cached never awaits (PENDING: ask
    ``resolve``). With ``resolve_kept(scope) -> (answer, still)`` and ``reads`` (the header
    names it reads), its answer can be kept for requests with the same such headers: ``still()``
    says whether it still stands (a token still cached, a cookie not yet expired), or is None
    when the answer must not be kept (``resolve_chain_kept``). A resolver that reads the
    client's address sets ``reads_client``. A resolver may also offer
    ``strip_untrusted(scope) -> None``, which removes
    from an ASGI scope the headers the app must not see from this client
    (``TrustedHeaderResolver`` does).
    """

    name: str

    async def resolve(self, conn: HTTPConnection) -> Identity | None: ...


class Pending:
    """Marks an answer that needs waiting on something (a Wix lookup): ask ``resolve``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PENDING"


#: What ``resolve_now`` returns when only the async ``resolve`` can answer.
PENDING = Pending()
#: A resolver's immediate answer: an Identity, None ("not mine") or PENDING.
NowAnswer = Identity | None | Pending


def always() -> bool:
    """``StillTrue`` of an answer that depends on the request's own bytes alone."""
    return True


async def resolve_chain(resolvers: Iterable[MemberResolver], conn: HTTPConnection) -> Identity:
    """One member named without contradiction, or a signed-out visitor (see the module doc)."""
    return _combine([await resolver.resolve(conn) for resolver in resolvers], conn.scope)


#: How an adapter tells the core who is asking; may raise SourceError (identity unverifiable).
Identify = Callable[[], Awaitable[Identity]]


def identify_later(
    resolvers: Sequence[MemberResolver], scope: Scope, known: Identity | Pending,
) -> Identify:
    """How ``DecisionCore.decide`` learns who asks: ``known``, when ``resolve_chain_now``
    could tell, or else ``resolve_chain`` once it is asked."""
    if isinstance(known, Identity):
        async def identified() -> Identity:
            return known
        return identified
    conn = HTTPConnection(scope)
    return lambda: resolve_chain(resolvers, conn)


def keeps_answers(resolver: object) -> bool:
    """Whether ``resolver``'s answers may be kept: it has ``reads`` and a ``resolve_kept`` that
    is its own ``resolve_now``'s (defined by one class). A subclass that overrides
    ``resolve_now`` alone must be asked through it: its answer may differ."""
    kept = getattr(getattr(resolver, "resolve_kept", None), "__func__", None)
    now = getattr(getattr(resolver, "resolve_now", None), "__func__", None)
    owner = next((c for c in type(resolver).__mro__ if c.__dict__.get("resolve_kept") is kept),
                 None)
    return kept is not None and hasattr(resolver, "reads") and owner is not None \
        and owner.__dict__.get("resolve_now") is now


def resolve_chain_now(resolvers: Iterable[MemberResolver], scope: Scope) -> Identity | Pending:
    """``resolve_chain`` without waiting: PENDING when any resolver would have to (a token not
    seen before). The hot path; the same rules, applied by the same code."""
    return _resolve_now(resolvers, scope, keep=False)[0]


def resolve_chain_kept(
    resolvers: Iterable[MemberResolver], scope: Scope,
) -> tuple[Identity | Pending, tuple[StillTrue, ...] | None]:
    """``resolve_chain_now``, and what says whether its answer still stands for a request
    with the same headers the resolvers read: None when it must not be kept (a resolver
    cannot say, or the answer was an ambiguity, whose warning each request must log)."""
    return _resolve_now(resolvers, scope, keep=True)


def _resolve_now(
    resolvers: Iterable[MemberResolver], scope: Scope, *, keep: bool,
) -> tuple[Identity | Pending, tuple[StillTrue, ...] | None]:
    answers: list[Identity | None] = []
    checks: list[StillTrue] | None = [] if keep else None
    for resolver in resolvers:
        still: StillTrue | tuple[StillTrue, ...] | None = None
        if checks is not None and keeps_answers(resolver):
            answer, still = resolver.resolve_kept(scope)  # type: ignore[attr-defined]
        else:
            now = getattr(resolver, "resolve_now", None)
            if now is None:
                return PENDING, None
            answer = now(scope)
        if isinstance(answer, Pending):
            return PENDING, None
        answers.append(answer)
        if still is None:
            checks = None  # every resolver is still asked: rule 1
        elif checks is not None and still is not always:
            if isinstance(still, tuple):
                checks.extend(still)
            else:
                checks.append(still)
    identity = _combine(answers, scope)
    if checks is None or identity.ambiguity is not None:
        return identity, None
    return identity, tuple(checks)


def _combine(answers: Iterable[Identity | None], scope: Scope) -> Identity:
    member: Identity | None = None
    visitor: Identity | None = None
    for identity in answers:
        if identity is None:
            continue
        if identity.ambiguity is not None:
            return _nobody(scope, identity.ambiguity)
        if identity.member_id is None:
            visitor = visitor or identity
        elif member is None:
            member = identity
        elif identity.member_id != member.member_id:
            return _nobody(scope, f"{member.via} and {identity.via} name different members")
    return member or visitor or ANONYMOUS


def strip_untrusted(resolvers: Iterable[MemberResolver], scope: Scope) -> None:
    """Let every resolver that can remove, from ``scope``, headers this client may not send."""
    for resolver in resolvers:
        strip = getattr(resolver, "strip_untrusted", None)
        if strip is not None:
            strip(scope)


def _nobody(scope: Scope, why: str) -> Identity:
    client = scope.get("client")
    logger.warning("ambiguous identity, treated as a signed-out visitor: %s (client %s)", why,
                   client[0] if client else "-")
    return Identity(None, "ambiguous", why)
