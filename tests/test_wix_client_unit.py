"""The Wix client against ``httpx.MockTransport``: fast unit tests of what one answer does.

The emulator-level tests (``tests/test_gate_wix.py``...) prove the whole path over real HTTP;
these pin the client's reading of single answers (liberties Wix may take, errors, paging)
without a server, so a failure points at the client itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from gate.errors import (
    UpstreamAuthError,
    UpstreamDataError,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from gate.upstream import UpstreamBudget
from gate.wix.client import WixClient

Handler = Callable[[httpx.Request], httpx.Response]


def _balance(member: str, available: str, pool: str = "pool-1") -> dict[str, Any]:
    return {"id": pool, "beneficiary": {"memberId": member},
            "amount": {"available": available, "reserved": "0"},
            "poolInfo": {"id": pool, "status": "ACTIVE", "namespace": "@wix/pricing-plans",
                         "someFieldWixAddedLater": {"x": 1}}}


def _run(handler: Handler, call: Callable[[WixClient], Any], *, retries: int = 0) -> Any:
    async def go() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            client = WixClient(http=http, api_key="k", site_id="s", retries=retries,
                               base_url="https://wix.test", budget=UpstreamBudget(limit=1000))
            return await call(client)
    return asyncio.run(go())


@pytest.mark.parametrize("amount", ["7", "7.0000", "7.5", "0.0001", "-1"])
def test_amounts_in_every_spelling_wix_may_send(amount: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"balances": [_balance("m", amount)]})

    balances = _run(handler, lambda c: c.query_balances(["m"]))
    assert balances[0].amount.available == Decimal(amount)
    assert isinstance(balances[0].amount.available, Decimal)


@pytest.mark.parametrize("last_page", [
    {"balances": [], "metadata": {"cursors": {"next": None}}},
    {"balances": [], "metadata": {"cursors": {}}},
    {"balances": [], "metadata": None},
    {},
], ids=["null-cursor", "absent-cursor", "null-metadata", "no-fields"])
def test_pages_of_one_until_a_last_page_in_any_shape(last_page: dict[str, Any]) -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        page = len(sent)
        if page <= 3:
            return httpx.Response(200, json={"balances": [_balance("m", "1", f"p{page}")],
                                             "metadata": {"cursors": {"next": f"c{page}"}}})
        return httpx.Response(200, json=last_page)

    balances = _run(handler, lambda c: c.query_balances(["m"]))
    assert [b.id for b in balances] == ["p1", "p2", "p3"]
    assert "filter" in sent[0]["query"]
    assert sent[1]["query"] == {"cursorPaging": {"limit": 100, "cursor": "c1"}}


def test_a_repeated_cursor_is_bad_data_not_an_endless_loop() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"balances": [], "metadata": {"cursors": {"next": "c"}}})

    with pytest.raises(UpstreamDataError, match="same cursor"):
        _run(handler, lambda c: c.query_balances(["m"]))


@pytest.mark.parametrize(("status", "body", "error"), [
    (401, {"message": ""}, UpstreamAuthError),
    (403, {}, UpstreamAuthError),
    (404, {"message": "", "details": {}}, UpstreamNotFound),
    (400, {"message": ""}, UpstreamRejected),
    (500, {}, UpstreamUnavailable),
    (503, {"message": "down"}, UpstreamUnavailable),
    (429, {}, UpstreamUnavailable),
], ids=lambda v: str(v) if isinstance(v, int) else None)
def test_errors_with_empty_descriptions_get_their_kind(
    status: int, body: dict[str, Any], error: type[Exception]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    with pytest.raises(error):
        _run(handler, lambda c: c.query_balances(["m"]))


def test_a_429_is_retried_after_the_time_wix_names() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "0"}, json={}),
                    httpx.Response(200, json={"balances": [_balance("m", "2")]})])
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return next(answers)

    balances = _run(handler, lambda c: c.query_balances(["m"]), retries=1)
    assert len(calls) == 2 and balances[0].amount.available == Decimal(2)


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"balances": [{"id": ""}]}',
                                  b'{"balances": [{"amount": {"available": 7}}]}'])
def test_malformed_answers_are_bad_data_never_zero(body: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    with pytest.raises(UpstreamDataError):
        _run(handler, lambda c: c.query_balances(["m"]))


def test_the_api_key_and_site_go_in_headers_and_nowhere_else() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    _run(handler, lambda c: c.query_balances(["m-1", "m-2"]))
    request = seen[0]
    assert request.headers["authorization"] == "k" and request.headers["wix-site-id"] == "s"
    body = json.loads(request.content)
    assert body["query"]["filter"] == {"beneficiary.memberId": {"$in": ["m-1", "m-2"]}}
    assert "k" not in request.url.query.decode()
