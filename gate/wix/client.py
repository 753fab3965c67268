"""The one HTTP client the gate uses to talk to Wix (or to the emulator standing in for it).

Every response is mapped to a model or to one of the errors in ``gate.errors``; nothing from
httpx leaks out. Error messages name the endpoint, status and Wix's own message, never the
API key, site id headers or a member's token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from gate.credits.balances import BOOKINGS_APP_ID, PRICING_PLANS_NAMESPACE
from gate.errors import (
    UpstreamDataError,
)
from gate.upstream.breaker import CircuitBreaker
from gate.upstream.budget import CallBudget
from gate.wix.models import (
    Balance,
    Item,
    Pool,
    QueryBalancesResponse,
    QueryItemsResponse,
    QueryPoolsResponse,
    TokenInfo,
)
from gate.wix.transport import ResponseHook, UpstreamSpan, WixTransport

__all__ = ["DEFAULT_BASE_URL", "WixClient"]


def _members(member_ids: Sequence[str]) -> dict[str, Any]:
    ids = list(member_ids)
    # $eq for one: the exact query the Wix docs show; $in for a batch of members.
    return {"beneficiary.memberId": {"$eq": ids[0]} if len(ids) == 1 else {"$in": ids}}

DEFAULT_BASE_URL = "https://www.wixapis.com"
BALANCES_QUERY = "/benefit-programs/v1/balances/query"
POOLS_QUERY = "/benefit-programs/v1/pools/query"
ITEMS_QUERY = "/benefit-programs/v1/items/query"
TOKEN_INFO = "/oauth2/token-info"
#: What metrics and traces call each endpoint: a fixed set, whatever the path holds.
ENDPOINTS = {BALANCES_QUERY: "balances/query", POOLS_QUERY: "pools/query",
             ITEMS_QUERY: "items/query", TOKEN_INFO: "token-info"}
#: Wix's documented maximum for cursorPaging.limit.
MAX_PAGE_SIZE = 100
# A member with more pools than this is not a studio customer; stop rather than loop forever.
MAX_PAGES = 50

ModelT = TypeVar("ModelT", bound=BaseModel)
PageT = TypeVar("PageT", QueryBalancesResponse, QueryPoolsResponse, QueryItemsResponse)


class WixClient:
    """Calls the Wix REST endpoints the gate needs, with the site's API key.

    ``http`` is injected so tests and the demo can point it at the emulator, and so one
    connection pool serves every request; a client passed in is never closed here. Without
    one, the client opens its own on first use and ``aclose`` closes it; the next call opens
    a new one, so a gate can start, stop and start again in one process. ``retries`` applies
    only to errors worth retrying (connection failures, timeouts, 429 and 5xx). Every call is
    paid from ``budget`` and stopped by ``breaker`` while Wix keeps failing.

    ``on_response`` and ``upstream_span`` watch each attempt (``gate.wix.transport``): the
    gate's metrics and traces. Both are optional and cost nothing when absent.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient | None = None,
        api_key: str | None,
        site_id: str | None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 5.0,
        retries: int = 1,
        budget: CallBudget | None = None,
        breaker: CircuitBreaker | None = None,
        on_response: ResponseHook | None = None,
        upstream_span: UpstreamSpan | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = api_key
        if site_id:
            headers["wix-site-id"] = site_id
        self.transport = WixTransport(http=http, base_url=self._base_url, headers=headers,
                                      timeout=timeout, retries=retries, budget=budget,
                                      breaker=breaker, on_response=on_response,
                                      upstream_span=upstream_span)

    def __repr__(self) -> str:
        return f"WixClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def last_ok(self) -> float | None:
        return self.transport.last_ok

    @property
    def last_error(self) -> tuple[float, str] | None:
        return self.transport.last_error

    async def open(self) -> None:
        """Ready the connections at start-up (see ``WixTransport.open``)."""
        await self.transport.open()

    async def aclose(self) -> None:
        """Close the connections this client opened itself; a shared client stays open."""
        await self.transport.aclose()

    async def query_balances(self, member_ids: Sequence[str]) -> list[Balance]:
        """Every balance of these members (one query for all of them), to the last page."""
        pages = await self._query(BALANCES_QUERY, QueryBalancesResponse, _members(member_ids))
        return [b for page in pages for b in page.balances or ()]

    async def query_pools(self, member_ids: Sequence[str]) -> list[Pool]:
        """These members' Pricing Plans pools, with their benefits (prices per item set)."""
        pages = await self._query(
            POOLS_QUERY, QueryPoolsResponse,
            {**_members(member_ids), "namespace": {"$eq": PRICING_PLANS_NAMESPACE}},
        )
        return [p for page in pages for p in page.pools or ()]

    async def query_items(self, service_ids: Sequence[str]) -> list[Item]:
        """The Benefit Programs items that stand for these Bookings services (item sets)."""
        ids = list(service_ids)
        external = {"$eq": ids[0]} if len(ids) == 1 else {"$in": ids}
        pages = await self._query(
            ITEMS_QUERY, QueryItemsResponse,
            {"externalId": external, "providerAppId": {"$eq": BOOKINGS_APP_ID}},
        )
        return [i for page in pages for i in page.items or ()]

    async def _query(
        self, path: str, model: type[PageT], filter_: dict[str, Any]
    ) -> list[PageT]:
        """Every page of a cursor query.

        The cursor alone says whether there is more: ``hasNext`` may be missing or wrong, and
        ``metadata`` may be null on a last page. A repeated cursor or more than ``MAX_PAGES``
        pages is bad upstream data, never a silently shortened answer.
        """
        query: dict[str, Any] = {"filter": filter_, "cursorPaging": {"limit": MAX_PAGE_SIZE}}
        pages: list[PageT] = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = await self._call("POST", path, model, json_body={"query": query})
            pages.append(page)
            cursor = page.next_cursor
            if cursor is None:
                if page.metadata is not None and page.metadata.has_next:
                    # Stopping here would silently drop whatever the later pages hold.
                    raise UpstreamDataError(f"POST {path} said hasNext but gave no cursor")
                return pages
            if cursor in seen:
                raise UpstreamDataError(f"POST {path} returned the same cursor twice")
            seen.add(cursor)
            # Follow-up pages carry only the cursor; Wix ignores filter and sort there.
            query = {"cursorPaging": {"limit": MAX_PAGE_SIZE, "cursor": cursor}}
        raise UpstreamDataError(f"POST {path} had more than {MAX_PAGES} pages")

    async def token_info(self, token: str) -> TokenInfo:
        """Introspect an access token. ``active: false`` comes back as such; any other
        failure raises a ``SourceError``, so a Wix blip never looks like a signed-out member."""
        return await self._call(
            "POST", TOKEN_INFO, TokenInfo, json_body={"token": token}, app_auth=False
        )

    async def _call(
        self, method: str, path: str, model: type[ModelT], *, json_body: Any = None,
        app_auth: bool = True,
    ) -> ModelT:
        return await self.transport.call(method, path, model, json_body=json_body,
                                         app_auth=app_auth,
                                         endpoint=ENDPOINTS.get(path, "other"))
