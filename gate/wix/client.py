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

from gate.errors import (
    SourceError,
    UpstreamAuthError,
    UpstreamDataError,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from gate.wix.models import Balance, Member, MyMemberResponse, QueryBalancesResponse, TokenInfo

__all__ = ["DEFAULT_BASE_URL", "WixClient"]

DEFAULT_BASE_URL = "https://www.wixapis.com"
BALANCES_QUERY = "/benefit-programs/v1/balances/query"
TOKEN_INFO = "/oauth2/token-info"
MEMBERS_MY = "/members/v1/members/my"
#: Wix's documented maximum for cursorPaging.limit.
MAX_PAGE_SIZE = 100
# A member with more pools than this is not a studio customer; stop rather than loop forever.
MAX_PAGES = 50

ModelT = TypeVar("ModelT", bound=BaseModel)


class WixClient:
    """Calls the Wix REST endpoints the gate needs, with the site's API key.

    ``http`` is injected so tests and the demo can point it at the emulator, and so one
    connection pool serves every request. ``retries`` applies only to errors worth retrying
    (connection failures, timeouts, 429 and 5xx).
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        api_key: str | None,
        site_id: str | None,
        base_url: str = DEFAULT_BASE_URL,
        retries: int = 1,
        backoff: float = 0.1,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
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

    async def query_balances(self, member_id: str) -> list[Balance]:
        """Every balance whose beneficiary is ``member_id``, following cursors to the end."""
        query: dict[str, Any] = {
            "filter": {"beneficiary.memberId": {"$eq": member_id}},
            "cursorPaging": {"limit": MAX_PAGE_SIZE},
        }
        balances: list[Balance] = []
        seen_cursors: set[str] = set()
        for _ in range(MAX_PAGES):
            page = await self._call(
                "POST", BALANCES_QUERY, QueryBalancesResponse, json_body={"query": query}
            )
            balances.extend(page.balances)
            cursor = page.metadata.cursors.next
            if not page.metadata.has_next:
                return balances
            if not cursor:
                # Stopping here would silently drop the pools on the later pages.
                raise UpstreamDataError(f"POST {BALANCES_QUERY} said hasNext but gave no cursor")
            if cursor in seen_cursors:
                raise UpstreamDataError(f"POST {BALANCES_QUERY} returned the same cursor twice")
            seen_cursors.add(cursor)
            # Follow-up pages carry only the cursor; Wix ignores filter and sort there.
            query = {"cursorPaging": {"limit": MAX_PAGE_SIZE, "cursor": cursor}}
        raise UpstreamDataError(f"POST {BALANCES_QUERY} had more than {MAX_PAGES} pages")

    async def token_info(self, token: str) -> TokenInfo | None:
        """Introspect an access token; ``None`` when Wix says the token itself is bad."""
        try:
            return await self._call(
                "POST", TOKEN_INFO, TokenInfo, json_body={"token": token}, app_auth=False
            )
        except (UpstreamRejected, UpstreamAuthError, UpstreamNotFound):
            return None

    async def my_member(self, token: str) -> Member | None:
        """The member a token belongs to; ``None`` for a visitor or an invalid token."""
        try:
            body = await self._call(
                "GET", MEMBERS_MY, MyMemberResponse, headers={"Authorization": token},
                app_auth=False,
            )
        except (UpstreamAuthError, UpstreamNotFound, UpstreamRejected):
            return None
        return body.member

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
            return await self._http.request(
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
