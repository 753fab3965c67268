"""Reading a request body with a hard size limit, before any of it is parsed."""

from __future__ import annotations

from starlette.requests import Request

__all__ = ["BodyTooLarge", "read_limited"]


class BodyTooLarge(Exception):
    """The body is larger than the endpoint accepts (answered with 413)."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it passes ``limit`` bytes.

    A declared Content-Length over the limit is refused before reading a byte; a body that
    lies about its length (or is chunked) is cut off as it streams, so a huge body never
    sits in memory.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
