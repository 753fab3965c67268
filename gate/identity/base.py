"""Who is asking: the interface every member resolver implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from starlette.requests import HTTPConnection

__all__ = ["ANONYMOUS", "Identity", "MemberResolver", "resolve_chain"]


@dataclass(frozen=True, slots=True)
class Identity:
    """The verified member behind a request, or ``member_id=None`` for a signed-out visitor."""

    member_id: str | None
    via: str

    @property
    def signed_in(self) -> bool:
        return self.member_id is not None


ANONYMOUS = Identity(member_id=None, via="none")


@runtime_checkable
class MemberResolver(Protocol):
    """Turns a request into an Identity.

    Return ``None`` when the request carries nothing this resolver understands, so the next
    resolver may try. Return an anonymous Identity when it carries a credential that is
    invalid, expired or belongs to a visitor. Raise ``SourceError`` only when the answer
    could not be learned (upstream down), so the gate's fail mode applies.
    """

    name: str

    async def resolve(self, conn: HTTPConnection) -> Identity | None: ...


async def resolve_chain(resolvers: tuple[MemberResolver, ...], conn: HTTPConnection) -> Identity:
    """The first resolver with an answer wins; nobody recognising the request means signed out."""
    for resolver in resolvers:
        identity = await resolver.resolve(conn)
        if identity is not None:
            return identity
    return ANONYMOUS
