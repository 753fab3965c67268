"""One instance's connection to the fleet's Redis: short timeouts, up or down, and recovery.

Every Redis command of the gate goes through ``RedisLink.run``. A command that does not answer
within ``timeout`` (a quarter of a second by default), or a Redis that refuses connections,
marks the link down. While it is down, ``run`` fails at once with ``Unavailable`` instead of
trying, and every caller falls back to this instance's own memory (see docs/redis.md). So a
dead Redis costs a decision nothing, and a slow one at most one short timeout.

One background task (started on first use, on the running loop) holds the pub/sub
subscription of the site's invalidation channel and pings Redis every second. When Redis is
gone it retries with exponential backoff and jitter; when Redis answers again it runs the
recovery hooks (replaying what could not be written meanwhile), then marks the link up. No
restart is ever needed.

Logs and errors name Redis by host and port only: a URL may carry a password.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gate.state.keys import where

__all__ = ["Hook", "RedisLink", "Unavailable", "as_bytes"]

logger = logging.getLogger("booking_gate.redis")

T = TypeVar("T")
#: Called with each message of the channel; called after each (re)connection.
Handler = Callable[[bytes], Awaitable[None]]
Hook = Callable[[Redis], Awaitable[None]]
State = Literal["connecting", "up", "down"]

#: Seconds the watcher waits for a message before it looks whether it should stop or probe.
_WAKE = 0.25
#: Failures that say Redis is unreachable or too slow (rather than that one command was wrong).
_OUTAGES = (RedisConnectionError, RedisTimeoutError, TimeoutError, OSError)


def as_bytes(value: object) -> bytes | None:
    """A reply as bytes (the client never decodes, but its types allow str)."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise TypeError(f"unexpected Redis reply of type {type(value).__name__}")


class Unavailable(Exception):
    """Redis did not answer in time, or refused: the caller uses this instance's own state."""


class RedisLink:
    """The client, its health, the subscription and the reconnection loop of one instance."""

    def __init__(
        self, url: str, *, channel: str, timeout: float = 0.25,
        backoff: tuple[float, float] = (0.1, 2.0), probe_every: float = 1.0,
    ) -> None:
        self.where = where(url)
        self.timeout = timeout
        self.channel = channel
        # No retries inside redis-py: a retry would hold the decision; the fallback is ours.
        self.client: Redis = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0), health_check_interval=0)
        self._backoff = backoff
        self._probe_every = probe_every
        self.state: State = "connecting"
        self._handlers: list[Handler] = []
        self._hooks: list[Hook] = []
        self._supervisor: asyncio.Task[None] | None = None
        # Bumped by aclose(): the supervisor it started stops at its next wake-up even if it
        # never sees the cancel (redis-py's read timeouts can swallow one on Python 3.11).
        self._run_id = 0

    def __repr__(self) -> str:
        return f"RedisLink({self.where}, {self.state})"

    @property
    def up(self) -> bool:
        return self.state == "up"

    def on_message(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def on_connect(self, hook: Hook) -> None:
        """Run ``hook`` each time Redis answers after a gap (and at the first connection),
        before the link counts as up."""
        self._hooks.append(hook)

    def start(self) -> None:
        """Start the background task on the running loop, once (again after a restart)."""
        loop = asyncio.get_running_loop()
        task = self._supervisor
        if task is None or task.done() or task.get_loop() is not loop:
            self._supervisor = loop.create_task(self._supervise(self._run_id),
                                                name=f"booking-gate redis {self.where}")

    async def run(self, op: Callable[[Redis], Awaitable[T]]) -> T:
        """``op(client)``, or ``Unavailable`` at once while the link is down."""
        self.start()
        if self.state == "down":
            raise Unavailable(f"Redis at {self.where} is not answering")
        try:
            # Each read has its socket timeout; this bounds ops of several commands too.
            async with asyncio.timeout(self.timeout * 4):
                return await op(self.client)
        except _OUTAGES as exc:
            self._down(exc)
            raise Unavailable(f"Redis at {self.where} is not answering") from None
        except RedisError as exc:
            # Redis answered, with an error (a full memory, a script refused): this command
            # falls back, the link stays up.
            logger.warning("Redis at %s refused a command (%s); this instance decides with "
                           "its own state for it", self.where, type(exc).__name__)
            raise Unavailable(f"Redis at {self.where} refused a command") from None
        except Exception as exc:
            # Not Redis's answer but our side failing (a bug, a connection left from another
            # event loop): this instance's own state is still a better answer than none.
            logger.exception("a Redis command failed unexpectedly at %s", self.where)
            self._down(exc)
            raise Unavailable(f"Redis at {self.where} could not be used") from None

    async def aclose(self) -> None:
        task, self._supervisor = self._supervisor, None
        self._run_id += 1
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(RuntimeError):  # a task of a loop that has ended
                await asyncio.wait([task], timeout=_WAKE * 4)
        self.state = "connecting"
        await self.client.aclose()

    async def _supervise(self, run_id: int) -> None:
        delay = self._backoff[0]
        while run_id == self._run_id:
            try:
                await self._session(run_id)
            except (RedisError, *_OUTAGES) as exc:
                self._down(exc)
            except Exception as exc:  # a bug must not end recovery for good
                logger.exception("booking-gate's Redis watcher failed")
                self._down(exc)
            if self.state == "up":
                delay = self._backoff[0]
            # Jitter: a fleet that lost Redis together does not reconnect in step.
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self._backoff[1])

    async def _session(self, run_id: int) -> None:
        """Subscribe, recover, then listen and probe until something fails."""
        loop = asyncio.get_running_loop()
        pubsub = self.client.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            await self._recover()
            probed = loop.time()
            while run_id == self._run_id:
                message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                   timeout=_WAKE)
                if message is not None and message.get("type") == "message":
                    await self._dispatch(message["data"])
                if self.state == "down" or loop.time() - probed >= self._probe_every:
                    # The subscription can outlive a Redis that no longer answers commands.
                    await self.client.ping()
                    probed = loop.time()
                    if self.state == "down":
                        await self._recover()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _recover(self) -> None:
        await self.client.ping()
        for hook in self._hooks:
            async with asyncio.timeout(self.timeout * 8):
                await hook(self.client)
        if self.state != "up":
            # A recovery is worth a warning (the outage was one); the first connection is not.
            logger.log(logging.WARNING if self.state == "down" else logging.INFO,
                       "Redis at %s answers: sharing the cache, budget and holds with the "
                       "fleet", self.where)
        self.state = "up"

    async def _dispatch(self, data: bytes) -> None:
        for handler in self._handlers:
            try:
                await handler(data)
            except Exception:
                logger.exception("booking-gate failed to apply a message from the fleet")

    def _down(self, exc: BaseException) -> None:
        if self.state != "down":
            logger.warning("Redis at %s is not answering (%s): this instance uses its own "
                           "memory and a local share of the budget until it does", self.where,
                           type(exc).__name__)
        self.state = "down"
