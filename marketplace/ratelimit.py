"""Fixed-window rate limits, counted in Redis (shared by every web process) or in memory."""

from __future__ import annotations

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


logger = logging.getLogger(__name__)


class RedisCounter:
    """Counts in Redis; while Redis is unreachable, counts in this process instead, so limits
    still hold (per process) and an outage does not turn every request into an error."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._fallback = MemoryCounter()

    async def hit(self, key: str, window_seconds: int) -> int:
        window = int(time.time()) // window_seconds
        full_key = f"duet:ratelimit:{key}:{window}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(full_key)
                pipe.expire(full_key, window_seconds)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning("rate limits: Redis unreachable (%s); counting in this process", exc)
            return await self._fallback.hit(key, window_seconds)
        return int(count)


class MemoryCounter:
    """For a single process (tests, one-off tools)."""

    def __init__(self) -> None:
        self._hits: dict[str, int] = {}

    async def hit(self, key: str, window_seconds: int) -> int:
        window = int(time.time()) // window_seconds
        full_key = f"{key}:{window}"
        if len(self._hits) > 10_000:
            self._hits.clear()
        self._hits[full_key] = self._hits.get(full_key, 0) + 1
        return self._hits[full_key]


class RateLimiter:
    def __init__(self, counter: Counter) -> None:
        self._counter = counter

    async def check(self, key: str, *, limit: int, window_seconds: int, what: str) -> None:
        if await self._counter.hit(key, window_seconds) > limit:
            raise RateLimited(
                f"Too many {what}. Please wait a few minutes and try again.",
                retry_after=window_seconds - int(time.time()) % window_seconds,
            )
