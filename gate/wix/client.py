"""The one HTTP client the gate uses to talk to Wix (or to the emulator standing in for it).

Every response is mapped to a model or to one of the errors in ``gate.errors``; nothing from
httpx leaks out. Error messages name the endpoint, status and Wix's own message, never the
API key, site id headers or a member's token.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from gate.balances import BOOKINGS_APP_ID, PRICING_PLANS_NAMESPACE
from gate.errors import (
    SourceError,
    UpstreamAuthError,
    UpstreamDataError,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from gate.wix.models import (
    Balance,
    Item,
    Pool,
    QueryBalancesResponse,
    QueryItemsResponse,
    QueryPoolsResponse,
    TokenInfo,
)

__all__ = ["DEFAULT_BASE_URL", "WixClient"]

DEFAULT_BASE_URL = "https://www.wixapis.com"
BALANCES_QUERY = "/benefit-programs/v1/balances/query"
POOLS_QUERY = "/benefit-programs/v1/pools/query"
ITEMS_QUERY = "/benefit-programs/v1/items/query"
TOKEN_INFO = "/oauth2/token-info"
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
    only to errors worth retrying (connection failures, timeouts, 429 and 5xx).
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
        backoff: float = 0.1,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._shared = http
        self._own: httpx.AsyncClient | None = None
        self._timeout = timeout
        self._base_url = base_url.rstrip("/")
        self._app_headers = {"Content-Type": "application/json"}
        if api_key:
            self._app_headers["Authorization"] = api_key
        if site_id:
            self._app_headers["wix-site-id"] = site_id
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"WixClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    def _http(self) -> httpx.AsyncClient:
        if self._shared is not None:
            return self._shared
        if self._own is None or self._own.is_closed:
            self._own = httpx.AsyncClient(timeout=self._timeout)
        return self._own

    async def aclose(self) -> None:
        """Close the connections this client opened itself; a shared client stays open."""
        own, self._own = self._own, None
        if own is not None:
            await own.aclose()

    async def query_balances(self, member_id: str) -> list[Balance]:
        """Every balance whose beneficiary is ``member_id``, following cursors to the end."""
        pages = await self._query(
            BALANCES_QUERY, QueryBalancesResponse,
            {"beneficiary.memberId": {"$eq": member_id}},
        )
        return [b for page in pages for b in page.balances or ()]

    async def query_pools(self, member_id: str) -> list[Pool]:
        """The member's Pricing Plans pools, with their benefits (prices per item set)."""
        pages = await self._query(
            POOLS_QUERY, QueryPoolsResponse,
            {"beneficiary.memberId": {"$eq": member_id},
             "namespace": {"$eq": PRICING_PLANS_NAMESPACE}},
        )
        return [p for page in pages for p in page.pools or ()]

    async def query_items(self, service_id: str) -> list[Item]:
        """The Benefit Programs items that stand for a Bookings service (its item sets)."""
        pages = await self._query(
            ITEMS_QUERY, QueryItemsResponse,
            {"externalId": {"$eq": service_id}, "providerAppId": {"$eq": BOOKINGS_APP_ID}},
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
        self,
        method: str,
        path: str,
        model: type[ModelT],
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        app_auth: bool = True,
    ) -> ModelT:
        attempt = 0
        while True:
            try:
                response = await self._send(method, path, json_body, headers, app_auth)
                return _parse(method, path, response, model)
            except UpstreamUnavailable:
                if attempt >= self._retries:
                    raise
            attempt += 1
            # Full jitter, so many gates retrying after one Wix hiccup do not retry in step.
            await self._sleep(random.uniform(0, self._backoff * 2 ** attempt))

    async def _send(
        self,
        method: str,
        path: str,
        json_body: Any,
        headers: dict[str, str] | None,
        app_auth: bool,
    ) -> httpx.Response:
        send_headers = dict(self._app_headers) if app_auth else {"Content-Type": "application/json"}
        if headers:
            send_headers.update(headers)
        try:
            return await self._http().request(
                method, self._base_url + path, json=json_body, headers=send_headers
            )
        except httpx.TimeoutException:
            raise UpstreamUnavailable(f"{method} {path}: timed out") from None
        except (httpx.LocalProtocolError, UnicodeEncodeError):
            # A header we were about to send is invalid: a key or token with a stray newline
            # or non-ASCII text. Its text would contain the value, so it is never quoted.
            raise UpstreamRejected(
                f"{method} {path}: a header value is invalid (check BOOKING_GATE_WIX_API_KEY "
                "and BOOKING_GATE_WIX_SITE_ID for stray spaces or line breaks)"
            ) from None
        except httpx.TransportError as exc:
            # Only the exception's type: its text can quote request details.
            raise UpstreamUnavailable(f"{method} {path}: {type(exc).__name__}") from None


def _parse(method: str, path: str, response: httpx.Response, model: type[ModelT]) -> ModelT:
    status = response.status_code
    if status >= 300:
        raise _status_error(method, path, response)
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, httpx.DecodingError):
        raise UpstreamDataError(f"{method} {path}: {status} with a body that is not JSON") from None
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise UpstreamDataError(
            f"{method} {path}: unexpected response shape at {where}: {first['msg']}"
            f" ({exc.error_count()} problem(s))"
        ) from None


def _status_error(method: str, path: str, response: httpx.Response) -> SourceError:
    status = response.status_code
    detail = _wix_message(response)
    text = f"{method} {path}: HTTP {status}{': ' + detail if detail else ''}"
    if status in (401, 403):
        return UpstreamAuthError(
            text + " (check the API key's permissions and BOOKING_GATE_WIX_SITE_ID)"
        )
    if status == 404:
        return UpstreamNotFound(text)
    if status == 429 or status >= 500:
        return UpstreamUnavailable(text)
    return UpstreamRejected(text)


def _wix_message(response: httpx.Response) -> str:
    """Wix's own error text, cut short: enough to act on, never a dump of the body."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return message[:200] if isinstance(message, str) else ""
