"""A lean HTTP/1.1 keep-alive client for load generation over loopback.

httpx costs about a millisecond of CPU per request (several on a busy 2-vCPU box): at 500
requests a second the load generator, not the gate, would set the latency. This client does
what a load generator needs and nothing more: prebuilt request bytes, a pool of keep-alive
connections, Content-Length or chunked bodies. It is used for every measured request of the
cold-path and (without wrk) throughput scenarios; httpx is used for set-up and checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RawClient", "RawResponse"]


@dataclass(slots=True)
class RawResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class RawClient:
    """``await client.get(path, headers=...)`` / ``post(path, json=...)`` over at most
    ``connections`` keep-alive connections to one loopback server."""

    def __init__(self, base_url: str, connections: int) -> None:
        parts = urlsplit(base_url)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("the load generator only talks to loopback servers")
        self._host, self._port = parts.hostname, parts.port or 80
        self._authority = f"{self._host}:{self._port}".encode()
        self.connections = connections
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(connections)

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def warm(self, path: str) -> None:
        """Open every connection first, so connecting is never part of a measured latency."""
        await asyncio.gather(*(self.get(path) for _ in range(self.connections)))

    async def get(self, path: str, headers: dict[str, str] | None = None) -> RawResponse:
        return await self.request("GET", path, headers=headers)

    async def post(self, path: str, *, json: Any = None,
                   headers: dict[str, str] | None = None) -> RawResponse:
        import json as json_module

        body = json_module.dumps(json).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        return await self.request("POST", path, headers=all_headers, body=body)

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                      body: bytes = b"") -> RawResponse:
        lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self._authority]
        lines += [f"{k}: {v}".encode("latin-1") for k, v in (headers or {}).items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(b"Content-Length: " + str(len(body)).encode())
        raw = b"\r\n".join(lines) + b"\r\n\r\n" + body
        conn, reused = await self._acquire()
        try:
            response, reusable = await self._exchange(conn, raw)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self._discard(conn)
            stale = isinstance(exc, ConnectionError) or not exc.partial
            if not (reused and stale):
                raise
            # The server closed an idle keep-alive connection (uvicorn: after 5 s): once more
            # on a new connection.
            conn, _ = await self._acquire(fresh=True)
            try:
                response, reusable = await self._exchange(conn, raw)
            except BaseException:
                self._discard(conn)
                raise
        except BaseException:
            self._discard(conn)
            raise
        if reusable:
            self._release(conn)
        else:
            self._discard(conn)
        return response

    async def _acquire(self, fresh: bool = False) -> tuple[_Conn, bool]:
        """A connection and whether it was used before (it may have been closed since)."""
        await self._slots.acquire()
        if self._idle and not fresh:
            return self._idle.pop(), True
        try:
            return await asyncio.open_connection(self._host, self._port), False
        except BaseException:
            self._slots.release()
            raise

    def _release(self, conn: _Conn) -> None:
        self._idle.append(conn)
        self._slots.release()

    def _discard(self, conn: _Conn) -> None:
        conn[1].close()
        self._slots.release()

    @staticmethod
    async def _exchange(conn: _Conn, raw: bytes) -> tuple[RawResponse, bool]:
        reader, writer = conn
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunks.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(chunk[:-2] for chunk in chunks)
        else:
            body = await reader.read()
            return RawResponse(status, headers, body), False
        reusable = headers.get("connection", "").lower() != "close"
        return RawResponse(status, headers, body), reusable
