"""Faults: answers a test arms on one Wix route with ``POST /_emulator/faults``.

A plain fault answers with its ``status``, ``headers`` and ``body`` (a 429 burst is
``{"status": 429, "times": N}``, with ``"headers": {"Retry-After": "2"}`` or without);
``delay`` holds any answer first, so a delay longer than the client's timeout is a timeout.
``kind`` asks for a body that a string cannot express:

- ``truncated``: Content-Length promises the whole body; only ``size`` bytes of it (half by
  default) are sent, then the connection is closed.
- ``huge``: a valid JSON object of exactly ``size`` bytes (40 MB by default), made while it is
  sent, 64 KiB at a time, never held in memory: a list of copies of one record of the route
  (``fill: "records"``) or whitespace (``"whitespace"``). ``declareLength: false`` drops the
  Content-Length and sends it chunked.
- ``endless``: a JSON list that never closes, one record every ``interval`` seconds, until the
  client goes away.
- ``drip``: a complete, valid answer, ``chunkSize`` bytes every ``interval`` seconds.

``truncated`` and ``drip`` send the fault's own ``body`` when it has a ``status``, else the real
answer (auth and all); ``huge`` and ``endless`` answer ``status`` or 200. The
``emptyErrorDescriptions`` quirk empties the body of plain 5xx faults only. Refused connections
cannot come from a running server: see README.md.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gate.strict import StrictModel
from gate.tooling.emulator.errors import validation_error

__all__ = ["Fault", "FaultBody", "build_fault", "fault_response", "quiet_truncation_logs"]

FaultKind = Literal["truncated", "huge", "endless", "drip"]
Fill = Literal["records", "whitespace"]
Answer = Callable[[], Awaitable[Response]]
Sample = Callable[[], tuple[str, bytes]]  # a route's list key and one record, as JSON

_CHUNK = 64 * 1024
_SPACES = b" " * _CHUNK
# The parameters each kind takes, with their defaults (None: computed when sent).
_KIND_PARAMS: dict[str, dict[str, Any]] = {
    "truncated": {"size": None},
    "huge": {"size": 40_000_000, "fill": "records", "declareLength": True},
    "endless": {"interval": 1.0},
    "drip": {"interval": 0.2, "chunkSize": 8, "declareLength": True},
}
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FRAMING = {"content-length", "transfer-encoding", "connection"}


class FaultBody(StrictModel):
    route: str
    status: int | None = Field(default=None, ge=100, le=599)
    body: str = ""
    contentType: str = "application/json"
    times: int | None = Field(default=1, ge=1)  # explicit null: until cleared
    delay: float = Field(default=0.0, ge=0, le=60)
    headers: dict[str, str] = Field(default_factory=dict)
    kind: FaultKind | None = None
    size: int | None = Field(default=None, ge=0, le=1 << 40)
    interval: float | None = Field(default=None, ge=0, le=60)
    chunkSize: int | None = Field(default=None, ge=1, le=1 << 20)
    fill: Fill | None = None
    declareLength: bool | None = None


@dataclass
class Fault:
    """A canned response for one route. ``status`` None and no ``kind``: only delay the real
    answer."""

    status: int | None
    body: str = ""
    content_type: str = "application/json"
    remaining: int | None = 1  # None: until cleared
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    kind: FaultKind | None = None
    params: dict[str, Any] = field(default_factory=dict)  # the kind's, defaults filled in

    def describe(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "body": self.body,
            "contentType": self.content_type,
            "times": self.remaining,
            "delay": self.delay,
            "headers": dict(self.headers),
            "kind": self.kind,
            **self.params,
        }


def build_fault(body: FaultBody) -> Fault:
    """The fault a checked ``FaultBody`` asks for; a 400 names the first field that is wrong."""
    if body.status is None and not body.delay and body.kind is None:
        raise validation_error("status", "give a status, a delay or a kind")
    for name, value in body.headers.items():
        if not _HEADER_NAME.fullmatch(name) or name.lower() in _FRAMING:
            raise validation_error(f"headers.{name}", "must be a header name other than framing")
        if not value.isprintable() or not value.isascii():
            raise validation_error(f"headers.{name}", "must be printable ASCII")
    allowed = _KIND_PARAMS.get(body.kind or "", {})
    given = {name: getattr(body, name) for name in ("size", "interval", "chunkSize", "fill",
                                                     "declareLength")}
    for name, value in given.items():
        if value is not None and name not in allowed:
            kinds = [kind for kind, params in _KIND_PARAMS.items() if name in params]
            raise validation_error(name, f"only applies to kind {' or '.join(kinds)}")
    params = {name: default if given[name] is None else given[name]
              for name, default in allowed.items()}
    if body.kind == "huge" and params["size"] < 64:
        raise validation_error("size", "a huge body has at least 64 bytes")
    return Fault(body.status, body.body, body.contentType, body.times, body.delay,
                 dict(body.headers), body.kind, params)


async def fault_response(
    fault: Fault, answer: Answer, sample: Sample, *, empty_5xx: bool = False
) -> Response | None:
    """The response ``fault`` makes, after its delay; None: let the real answer through."""
    if fault.delay:
        await asyncio.sleep(fault.delay)
    headers, params = dict(fault.headers), fault.params
    if fault.kind is None:
        if fault.status is None:
            return None
        body = "" if empty_5xx and fault.status >= 500 else fault.body
        return Response(body, fault.status, headers=headers, media_type=fault.content_type)
    if fault.kind in ("huge", "endless"):
        key, record = sample()
        if fault.kind == "huge":
            chunks = _huge(params["size"], key, record, params["fill"])
            if params["declareLength"]:
                headers["content-length"] = str(params["size"])
        else:
            chunks = _endless(key, record, params["interval"])
        return StreamingResponse(chunks, fault.status or 200, headers, fault.content_type)
    media_type: str | None = fault.content_type
    if fault.status is not None:
        status, content = fault.status, fault.body.encode()
    else:
        real = await answer()
        status, content, media_type = real.status_code, bytes(real.body), real.media_type
    if fault.kind == "truncated":
        return _TruncatedResponse(content, status, headers, media_type, params["size"])
    if params["declareLength"]:
        headers["content-length"] = str(len(content))
    chunks = _drip(content, params["chunkSize"], params["interval"])
    return StreamingResponse(chunks, status, headers, media_type)


async def _huge(size: int, key: str, record: bytes, fill: Fill) -> AsyncIterator[bytes]:
    head, tail = b'{"' + key.encode() + b'":[', b"]}"
    room = size - len(head) - len(tail)  # for the records and the padding
    yield head
    if fill == "records" and room >= len(record):
        yield record
        room -= len(record)
        unit = b"," + record
        block = unit * max(1, _CHUNK // len(unit))
        while room >= len(block):
            yield block
            room -= len(block)
        if room >= len(unit):
            yield unit * (room // len(unit))
            room %= len(unit)
    while room > 0:  # whitespace before "]" keeps the JSON valid and the size exact
        yield _SPACES[: min(room, _CHUNK)]
        room -= _CHUNK
    yield tail


async def _endless(key: str, record: bytes, interval: float) -> AsyncIterator[bytes]:
    yield b'{"' + key.encode() + b'":[' + record
    while True:  # ends when the client goes away: the response cancels this generator
        await asyncio.sleep(interval)
        yield b"," + record


async def _drip(content: bytes, chunk_size: int, interval: float) -> AsyncIterator[bytes]:
    for start in range(0, len(content), chunk_size):
        if start:
            await asyncio.sleep(interval)
        yield content[start : start + chunk_size]


# Set while a truncated response is sent, so the server's complaint about it can be dropped.
_TRUNCATING: contextvars.ContextVar[bool] = contextvars.ContextVar("truncating", default=False)


class _TruncatedResponse(Response):
    def __init__(
        self, content: bytes, status: int, headers: dict[str, str], media_type: str | None,
        size: int | None,
    ) -> None:
        part = content[: len(content) // 2 if size is None else size]
        super().__init__(part, status, headers, media_type)
        self.headers["content-length"] = str(max(len(content), len(part) + 1))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _TRUNCATING.set(True)
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        # Returning mid-body makes the server close the connection: the client sees fewer bytes
        # than Content-Length promised.


class _QuietTruncation(logging.Filter):
    """Drops uvicorn's error about a response left incomplete, when a fault did it on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_TRUNCATING.get() and "without completing response" in record.getMessage())


def quiet_truncation_logs() -> None:
    """Install the filter on uvicorn's error logger once (uvicorn logs in the request's task,
    where ``_TRUNCATING`` is visible)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietTruncation) for f in logger.filters):
        logger.addFilter(_QuietTruncation())
