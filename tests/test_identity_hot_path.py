"""The checkout's identity hot path answers exactly as the slow path does.

``WixTokenResolver.resolve_now`` remembers each header value's parse by its digest, and
``resolve_chain_now`` must combine one resolver's answer as it combines several: both must give
``resolve``'s and ``_combine``'s answers, keep no token or header value in memory, and stay
bounded.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import pytest
from starlette.requests import HTTPConnection

from gate.identity.base import (
    ANONYMOUS,
    PENDING,
    Identity,
    NowAnswer,
    Pending,
    _combine,
    resolve_chain,
    resolve_chain_now,
)
from gate.identity.wix_token import WixTokenResolver
from tests.security.support import FakeTokenInfo, wix_token

WIX = FakeTokenInfo()
ANA = WIX.member("m-ana")
BOB = WIX.member("m-bob")
VISITOR = WIX.visitor()
INACTIVE = wix_token("revoked")
BASIC = "Basic bS1hbmE6aHVudGVyMg=="

#: Values an Authorization header or the token cookie may hold.
HEADER_VALUES = [f"Bearer {ANA}", ANA, f"bearer   {ANA} ", f"Bearer {BOB}", f"Bearer {VISITOR}",
                 f"Bearer {INACTIVE}", BASIC, "Bearer not-a-token", "", f"Bearer {ANA} {BOB}"]
COOKIE_VALUES = [f"wix_member_token={ANA}", f"wix_member_token={BOB}",
                 f"wix_member_token={ANA}; wix_member_token={BOB}", "other=1",
                 f"wix_member_token={ANA}; theme=dark", "wix_member_token="]


def _scope(headers: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "http", "path": "/", "headers": [(n.encode(), v.encode("latin-1"))
                                                     for n, v in headers],
            "client": ("127.0.0.1", 1)}


def _header_sets() -> list[list[tuple[str, str]]]:
    sets: list[list[tuple[str, str]]] = [[]]
    sets += [[("authorization", v)] for v in HEADER_VALUES]
    sets += [[("authorization", a), ("host", "x"), ("authorization", b)]
             for a, b in itertools.product(HEADER_VALUES[:7], repeat=2)]
    sets += [[("cookie", c)] for c in COOKIE_VALUES]
    sets += [[("authorization", a), ("cookie", c)]
             for a, c in itertools.product(HEADER_VALUES[:7], COOKIE_VALUES)]
    return sets


async def _slow(resolver: WixTokenResolver, scope: dict[str, Any]) -> Identity | None:
    return await resolver.resolve(HTTPConnection(scope))


@pytest.mark.parametrize("cookie", [None, "wix_member_token"])
def test_resolve_now_agrees_with_resolve(cookie: str | None) -> None:
    resolver = WIX.resolver(cookie=cookie)

    async def run() -> None:
        for headers in _header_sets():
            scope = _scope(headers)
            expected = await _slow(resolver, scope)  # looks every token up first
            for _ in range(2):  # the first parse, then what was remembered
                assert resolver.resolve_now(scope) == expected, headers

    asyncio.run(run())


def test_unseen_tokens_are_pending_until_looked_up() -> None:
    resolver = WIX.resolver()
    scope = _scope([("authorization", f"Bearer {BOB}")])
    assert resolver.resolve_now(scope) is PENDING
    assert resolver.resolve_now(scope) is PENDING  # remembering the parse is not an answer
    asyncio.run(_slow(resolver, scope))
    assert resolver.resolve_now(scope) == Identity("m-bob", "wix-token")


def test_the_memo_keeps_no_token_or_header_and_stays_bounded() -> None:
    resolver = WIX.resolver(maxsize=8)

    async def run() -> None:
        for headers in _header_sets():
            await _slow(resolver, _scope(headers))
            resolver.resolve_now(_scope(headers))

    asyncio.run(run())
    memo: dict[bytes, str] = resolver._parsed
    assert 0 < len(memo) <= 8
    remembered = b" ".join(memo) + " ".join(memo.values()).encode()
    for value in HEADER_VALUES:
        if value.strip():
            assert value.strip().encode() not in remembered
            assert value.split()[-1].encode() not in remembered
    for number in range(100):  # junk never grows it past its bound
        resolver.resolve_now(_scope([("authorization", f"Bearer junk-{number}")]))
    assert len(memo) <= 8


class _Fixed:
    """A resolver whose immediate answer is given."""

    name = "fixed"

    def __init__(self, answer: NowAnswer) -> None:
        self.answer = answer

    async def resolve(self, conn: HTTPConnection) -> Identity | None:
        raise AssertionError("not asked")

    def resolve_now(self, scope: dict[str, Any]) -> NowAnswer:
        return self.answer


class _Slow:
    name = "slow"

    async def resolve(self, conn: HTTPConnection) -> Identity | None:
        return Identity("m-ana", self.name)


@pytest.mark.parametrize("answer", [
    None, PENDING, Pending(), Identity("m-ana", "fixed"), Identity(None, "fixed"),
    Identity(None, "fixed", "more than one fixed credential"),
], ids=repr)
def test_one_resolver_answers_as_the_chain_does(answer: NowAnswer,
                                                caplog: pytest.LogCaptureFixture) -> None:
    scope = _scope([])
    caplog.set_level(logging.WARNING, "booking_gate.identity")
    alone = resolve_chain_now((_Fixed(answer),), scope)
    warned_alone = [r.getMessage() for r in caplog.records]
    caplog.clear()
    general = resolve_chain_now([_Fixed(answer)], scope)  # a list, not a tuple: the same
    assert warned_alone == [r.getMessage() for r in caplog.records]
    if isinstance(answer, Pending):
        assert alone is PENDING and general is PENDING
    else:
        assert alone == general == _combine([answer], scope)
    assert resolve_chain_now((), scope) == ANONYMOUS


def test_a_resolver_without_resolve_now_makes_the_chain_wait() -> None:
    assert resolve_chain_now((_Slow(),), _scope([])) is PENDING
    assert asyncio.run(resolve_chain((_Slow(),), HTTPConnection(_scope([])))) \
        == Identity("m-ana", "slow")
