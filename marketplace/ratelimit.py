"""Fixed-window rate limits, counted in Redis (shared by every web process) or in memory."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketplace.errors import RateLimited


class Counter(Protocol):
    async def hit(self, key: str, window_seconds: int) -> int:
        """Count one hit in the current window and return the hits so far in it."""
        ...

    async def count(self, key: str, window_seconds: int) -> int:
        """The hits so far in the current window, without counting one."""
        ...

    async def reset(self, key: str, window_seconds: int) -> None:
        """Forget the hits of the current window."""
        ...


def _window(window_seconds: int) -> int:
    return int(time.time()) // window_seconds


def seconds_left(window_seconds: int) -> int:
    """Seconds until the current fixed window ends (when its counts stop mattering)."""
    return window_seconds - int(time.time()) % window_seconds


logger = logging.getLogger(__name__)


def wait_phrase(seconds: int) -> str:
    """``"12 minutes"``, ``"1 minute"``, ``"40 seconds"``: how long a user waits, in words."""
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


# Count a burst of hits in one command: each key's count so far, with its expiry set when the
# window's first hit makes it (the script runs atomically, so no key is left without one).
_HITS = """
local counts = {}
for i, key in ipairs(KEYS) do
    local n = redis.call('INCR', key)
    if n == 1 then redis.call('EXPIRE', key, ARGV[i]) end
    counts[i] = n
end
return counts
"""


class RedisCounter:
    """Counts in Redis; while Redis is unreachable, counts in this process instead, so limits
    still hold (per process) and an outage does not turn every request into an error."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._hits = client.register_script(_HITS)
        self._fallback = MemoryCounter()
        self._waiting: list[tuple[str, int, asyncio.Future[int]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def hit(self, key: str, window_seconds: int) -> int:
        """Counted in one command shared with the other hits of the same moment: while one is
        in flight, new hits wait and go together in the next (one round trip and one command
        per burst of messages rather than two commands per message)."""
        loop = asyncio.get_running_loop()
        flusher = self._flusher
        busy = flusher is not None and not flusher.done()
        if busy and flusher is not None and flusher.get_loop() is not loop:
            # Another event loop's pipeline: futures cannot cross loops, so this one goes alone.
            future: asyncio.Future[int] = loop.create_future()
            await self._count_hits([(key, window_seconds, future)])
            return future.result()
        future = loop.create_future()
        self._waiting.append((key, window_seconds, future))
        if not busy:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            await self._count_hits(batch)

    async def _count_hits(self, batch: list[tuple[str, int, asyncio.Future[int]]]) -> None:
        try:
            try:
                results = await self._hits(
                    keys=[self._key(key, window_seconds) for key, window_seconds, _ in batch],
                    args=[window_seconds for _, window_seconds, _ in batch],
                )
                counts = [int(n) for n in results]
            except (RedisError, OSError) as exc:
                logger.warning("rate limits: Redis unreachable (%s); counting in this process", exc)
                counts = [await self._fallback.hit(k, w) for k, w, _ in batch]
        except BaseException as exc:
            # Cancelled (shutdown) or a bug: nobody may wait for a count that will not come.
            stranded, self._waiting = [*batch, *self._waiting], []
            for _, _, future in stranded:
                if not future.done():
                    future.set_exception(exc)
            raise
        for (_, _, future), count in zip(batch, counts, strict=True):
            if not future.done():
                future.set_result(count)

    async def count(self, key: str, window_seconds: int) -> int:
        try:
            value = await self._client.get(self._key(key, window_seconds))
        except (RedisError, OSError) as exc:
            logger.warning("rate limits: Redis unreachable (%s); counting in this process", exc)
            return await self._fallback.count(key, window_seconds)
        return int(value or 0)

    async def reset(self, key: str, window_seconds: int) -> None:
        await self._fallback.reset(key, window_seconds)
        try:
            await self._client.delete(self._key(key, window_seconds))
        except (RedisError, OSError) as exc:
            logger.warning("rate limits: Redis unreachable (%s); counting in this process", exc)

    @staticmethod
    def _key(key: str, window_seconds: int) -> str:
        return f"duet:ratelimit:{key}:{_window(window_seconds)}"


class MemoryCounter:
    """For a single process (tests, one-off tools)."""

    def __init__(self) -> None:
        self._hits: dict[str, int] = {}

    async def hit(self, key: str, window_seconds: int) -> int:
        full_key = f"{key}:{_window(window_seconds)}"
        if len(self._hits) > 10_000:
            self._hits.clear()
        self._hits[full_key] = self._hits.get(full_key, 0) + 1
        return self._hits[full_key]

    async def count(self, key: str, window_seconds: int) -> int:
        return self._hits.get(f"{key}:{_window(window_seconds)}", 0)

    async def reset(self, key: str, window_seconds: int) -> None:
        self._hits.pop(f"{key}:{_window(window_seconds)}", None)


class RateLimiter:
    def __init__(self, counter: Counter) -> None:
        self._counter = counter

    @property
    def counter(self) -> Counter:
        return self._counter

    async def check(self, key: str, *, limit: int, window_seconds: int, what: str) -> None:
        if await self._counter.hit(key, window_seconds) > limit:
            wait = seconds_left(window_seconds)
            raise RateLimited(
                f"Too many {what}. Please try again in {wait_phrase(wait)}.",
                retry_after=wait,
            )
