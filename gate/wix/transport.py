"""One Wix call, made safely: budget, circuit breaker, retries, deadline and a size cap.

Every response becomes a model or one of the errors in ``gate.errors``; nothing from httpx
leaks out. Error messages name the endpoint, status and Wix's own message, never the API key,
the site id header or a member's token.

Each attempt can be watched (metrics, traces): ``on_response(endpoint, status)`` is called once
per attempt, and ``upstream_span(endpoint, method)`` wraps it. ``endpoint`` is a fixed template
(``balances/query``), never a URL; ``status`` is the HTTP status (``"200"``) or why no answer
came: ``timeout``, ``error``, ``budget`` (not sent: the call budget is spent) or
``breaker_open`` (not sent: the circuit breaker is open).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import anyio.lowlevel
import httpx
import stamina
from pydantic import BaseModel, ValidationError

from gate.errors import (
    SourceError,
    UpstreamAuthError,
    UpstreamBudgetSpent,
    UpstreamDataError,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from gate.upstream.breaker import CircuitBreaker
from gate.upstream.budget import CallBudget, Priority, UpstreamBudget

__all__ = ["MAX_ANSWER_BYTES", "ResponseHook", "UpstreamSpan", "WixTransport", "call_priority"]

logger = logging.getLogger("booking_gate")

#: Told how each attempt ended: ``(endpoint, status)``. Runs on the event loop: cheap, no I/O.
ResponseHook = Callable[[str, str], None]
#: Wraps one attempt, ``(endpoint, method)``; yields a function to call with its status.
UpstreamSpan = Callable[[str, str], AbstractContextManager[Callable[[str], None]]]

#: The largest answer the gate reads from Wix. A member's pools are a few KB; anything near
#: this is not a real answer, and reading it would hold the event loop and the memory.
MAX_ANSWER_BYTES = 2 * 1024 * 1024
#: Longest wait a Retry-After may ask for before the gate gives up on that call instead.
_MAX_RETRY_AFTER = 2.0
ModelT = TypeVar("ModelT", bound=BaseModel)

_priority: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "booking_gate_priority", default=Priority.CHECKOUT)


@contextmanager
def call_priority(priority: Priority) -> Iterator[None]:
    """Mark the Wix calls made inside (this task and the tasks it starts) with ``priority``."""
    token = _priority.set(priority)
    try:
        yield
    finally:
        _priority.reset(token)


class WixTransport:
    """Sends a request to Wix and turns the answer into a model or a SourceError."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient | None,
        base_url: str,
        headers: dict[str, str],
        timeout: float,
        retries: int,
        budget: CallBudget | None = None,
        breaker: CircuitBreaker | None = None,
        on_response: ResponseHook | None = None,
        upstream_span: UpstreamSpan | None = None,
    ) -> None:
        self._shared = http
        self._own: httpx.AsyncClient | None = None
        self._base_url = base_url
        self._headers = headers
        self._timeout = timeout
        self._retries = retries
        self.budget: CallBudget = budget or UpstreamBudget()
        self.breaker = breaker or CircuitBreaker()
        #: When Wix last answered as documented, and when (and how) it last failed, on the
        #: monotonic clock: what /readyz reports.
        self.last_ok: float | None = None
        self.last_error: tuple[float, str] | None = None
        self._on_response = on_response
        self._upstream_span = upstream_span

    def _http(self) -> httpx.AsyncClient:
        if self._shared is not None:
            return self._shared
        if self._own is None or self._own.is_closed:
            self._own = httpx.AsyncClient(timeout=self._timeout)
        return self._own

    async def open(self) -> None:
        """Ready the connection pool now, at start-up, not under the first burst of members:
        its TLS context costs ~80 ms of CPU, and httpcore loads anyio's event-loop backend
        (tens of ms of imports) on its first request."""
        self._http()
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        own, self._own = self._own, None
        if own is not None:
            await own.aclose()

    async def call(
        self, method: str, path: str, model: type[ModelT], *, json_body: Any = None,
        app_auth: bool = True, endpoint: str = "other",
    ) -> ModelT:
        """One logical call: retried on 429, 5xx and connection errors only, with backoff,
        jitter and Wix's Retry-After, each attempt paid from the budget.

        ``endpoint`` names the call for metrics and traces: a fixed template, never the path
        of a particular record (it would be a label with no bound).
        """
        try:
            async for attempt in stamina.retry_context(
                on=_retry_hook, attempts=self._retries + 1, timeout=self._timeout * 2,
                wait_initial=0.05, wait_max=1.0, wait_jitter=0.1,
            ):
                with attempt:
                    result = await self._attempt(method, path, endpoint, model, json_body,
                                                 app_auth)
        except SourceError as exc:
            self.last_error = (time.monotonic(), exc.kind)
            raise
        self.last_ok = time.monotonic()
        return result

    async def _attempt(
        self, method: str, path: str, endpoint: str, model: type[ModelT], json_body: Any,
        app_auth: bool,
    ) -> ModelT:
        if self._upstream_span is None:
            return await self._try(method, path, endpoint, model, json_body, app_auth, None)
        with self._upstream_span(endpoint, method) as mark:
            return await self._try(method, path, endpoint, model, json_body, app_auth, mark)

    async def _try(
        self, method: str, path: str, endpoint: str, model: type[ModelT], json_body: Any,
        app_auth: bool, mark: Callable[[str], None] | None,
    ) -> ModelT:
        if not self.breaker.allow():
            self._ended(endpoint, "breaker_open", mark)
            raise UpstreamUnavailable(f"{method} {path}: Wix kept failing; not calling it "
                                      "during the cool-down", retryable=False)
        # Awaited: a budget shared by the fleet asks Redis (briefly; see gate.state).
        if not await self.budget.take(_priority.get()):
            self._ended(endpoint, "budget", mark)
            raise UpstreamBudgetSpent(f"{method} {path}: the Wix call budget is spent for now")
        try:
            # The whole exchange, not just each read: a dripped or endless answer is cut off.
            async with asyncio.timeout(self._timeout):
                status, headers, body = await self._exchange(method, path, json_body, app_auth)
        except TimeoutError:
            self.breaker.failure()
            self._ended(endpoint, "timeout", mark)
            raise UpstreamUnavailable(f"{method} {path}: timed out") from None
        except UpstreamUnavailable:
            self.breaker.failure()
            self._ended(endpoint, "error", mark)
            raise
        except SourceError:
            # No usable answer (too large, or a header we could not send): not Wix failing.
            self._ended(endpoint, "error", mark)
            raise
        if status == 429 or status >= 500:
            self.breaker.failure()
        else:
            self.breaker.success()
        self._ended(endpoint, str(status), mark)
        return _parse(method, path, status, headers, body, model)

    def _ended(self, endpoint: str, status: str, mark: Callable[[str], None] | None) -> None:
        """Tell whoever watches how the attempt ended; watching never changes the call."""
        try:
            if mark is not None:
                mark(status)
            if self._on_response is not None:
                self._on_response(endpoint, status)
        except Exception:
            logger.exception("booking-gate upstream hook failed")

    async def _exchange(
        self, method: str, path: str, json_body: Any, app_auth: bool
    ) -> tuple[int, httpx.Headers, bytes]:
        headers = self._headers if app_auth else {"Content-Type": "application/json"}
        try:
            async with self._http().stream(
                method, self._base_url + path, json=json_body, headers=headers
            ) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                    raise _too_large(method, path)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise _too_large(method, path)
                    chunks.append(chunk)
                return response.status_code, response.headers, b"".join(chunks)
        except httpx.TimeoutException:
            # The same as the overall deadline running out: one place says "timed out".
            raise TimeoutError from None
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


def _retry_hook(exc: Exception) -> bool | float:
    """Retry what may succeed later; wait as long as Wix asked, if it asked reasonably."""
    if not isinstance(exc, UpstreamUnavailable) or not exc.retryable:
        return False
    if exc.retry_after is not None:
        return exc.retry_after if exc.retry_after <= _MAX_RETRY_AFTER else False
    return True


def _too_large(method: str, path: str) -> UpstreamDataError:
    return UpstreamDataError(f"{method} {path}: the answer is over {MAX_ANSWER_BYTES} bytes")


def _parse(
    method: str, path: str, status: int, headers: httpx.Headers, body: bytes,
    model: type[ModelT],
) -> ModelT:
    if status >= 300:
        raise _status_error(method, path, status, headers, body)
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
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


def _status_error(
    method: str, path: str, status: int, headers: httpx.Headers, body: bytes
) -> SourceError:
    detail = _wix_message(body)
    text = f"{method} {path}: HTTP {status}{': ' + detail if detail else ''}"
    if status in (401, 403):
        return UpstreamAuthError(
            text + " (check the API key's permissions and BOOKING_GATE_WIX_SITE_ID)"
        )
    if status == 404:
        return UpstreamNotFound(text)
    if status == 429 or status >= 500:
        return UpstreamUnavailable(text, retry_after=_retry_after(headers))
    return UpstreamRejected(text)


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date, or junk: fall back to the usual backoff
    return seconds if 0 <= seconds < 3600 else None


def _wix_message(body: bytes) -> str:
    """Wix's own error text, cut short: enough to act on, never a dump of the body."""
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    message = parsed.get("message") if isinstance(parsed, dict) else None
    return message[:200] if isinstance(message, str) else ""
