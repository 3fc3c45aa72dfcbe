"""Real-time fan-out to connected browsers, across every web process, through Redis pub/sub.

A ``Hub`` lives in each web process. Sockets subscribe to channels (``user:42``, later
``course:7``); ``publish`` delivers an event at once to the local subscribers and through Redis
to the other processes, each of which hands it to its own subscribers (events a process published
itself are skipped when Redis echoes them back). Without Redis the hub is local only.

Pub/sub is a doorbell, not a store: the rows are written (and committed) first, and a client that
missed an event (dropped socket, Redis outage) catches up from the database. When the link to
Redis breaks, subscribers get ``{"type": "degraded"}`` (poll until further notice); when it is
back they get ``{"type": "resync"}`` (catch up once now).

Presence (is a user connected anywhere?) is a Redis hash per user, one field per process with an
expiry that each process refreshes while the user's sockets stay open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from marketplace.redis_subscriber import Subscriber

logger = logging.getLogger(__name__)

PREFIX = "duet:rt:"
_PREFIX = PREFIX.encode()
PRESENCE_PREFIX = "duet:presence:"
PRESENCE_TTL = 60
PRESENCE_REFRESH = 20
PRESENCE_CACHE = 5.0
QUEUE_LIMIT = 1000
DEGRADED = json.dumps({"type": "degraded"})
RESYNC = json.dumps({"type": "resync"})

# Every envelope of a burst in one command: ARGV is channel, envelope, channel, envelope…;
# the answer is, per envelope, how many subscriber connections (processes) it reached.
_PUBLISH = """
local reached = {}
for i = 1, #ARGV, 2 do reached[#reached + 1] = redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end
return reached
"""

_Sent = asyncio.Future[list[int] | None]


class Subscription:
    """One socket's inbox: serialised events, newest last; bounded so a stalled socket cannot
    grow memory (an overflowing subscriber is told to resync and its backlog dropped)."""

    def __init__(self, hub: Hub, channels: frozenset[str], user_id: int | None) -> None:
        self.hub = hub
        self.channels = channels
        self.user_id = user_id
        # A deque and the one reader's future: an asyncio.Queue did more bookkeeping per event
        # than a socket has readers.
        self._items: deque[str] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()

    def put(self, text: str) -> None:
        try:
            same_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            same_loop = False
        if not same_loop:
            # Published from another event loop (a test client runs each socket in its own):
            # asyncio queues are not thread-safe, so hand it over to the socket's loop.
            self._loop.call_soon_threadsafe(self._put, text)
            return
        self._put(text)

    def _put(self, text: str) -> None:
        if len(self._items) >= QUEUE_LIMIT:
            self._items.clear()
            text = RESYNC
        self._items.append(text)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> str:
        while not self._items:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def get_nowait(self) -> str | None:
        return self._items.popleft() if self._items else None


class Hub:
    def __init__(self, redis_url: str | None) -> None:
        self._redis: Redis | None = None
        self._redis_url = redis_url
        if redis_url:
            # A bounded pool: a burst of sockets waits for a connection instead of opening
            # hundreds (Redis refuses clients past its file-descriptor limit).
            self._redis = Redis.from_pool(
                BlockingConnectionPool.from_url(
                    redis_url,
                    max_connections=32,
                    timeout=5,
                    socket_connect_timeout=2,
                    socket_timeout=5,
                )
            )
            self._publish = self._redis.register_script(_PUBLISH)
        self._origin = secrets.token_hex(8)
        self._own = f"{self._origin}|".encode()
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._online: dict[int, int] = defaultdict(int)
        self._seen_online: dict[int, float] = {}
        # The subscriber connection never reconnects quietly behind our back: events published
        # while it was away would be lost without anyone being told to resync.
        self._pubsub: Subscriber | None = None
        self._reader: asyncio.Task[None] | None = None
        self._presence: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._pending: dict[str, list[asyncio.Future[None]]] = defaultdict(list)
        self._outbox: list[tuple[list[tuple[str, str]], _Sent | None]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.degraded = False

    @property
    def distributed(self) -> bool:
        return self._redis is not None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._redis is None or self._reader is not None:
            return
        self._reader = asyncio.create_task(self._read_forever(), name="realtime-reader")
        self._presence = asyncio.create_task(self._refresh_presence(), name="realtime-presence")

    async def stop(self) -> None:
        for task in (self._reader, self._presence, self._flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._reader = self._presence = self._flusher = None
        await self._close_pubsub()
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._forget_presence(list(self._online))
            await self._redis.aclose()

    # ------------------------------------------------------------------ subscribing

    @contextlib.asynccontextmanager
    async def subscribe(
        self, channels: Iterable[str], *, user_id: int | None = None
    ) -> AsyncIterator[Subscription]:
        """Receive the events of ``channels`` until the block ends.

        Returns once Redis has confirmed the subscription (or at once when Redis is down or
        absent), so whatever the caller then reads from the database cannot miss an event.
        """
        sub = Subscription(self, frozenset(channels), user_id)
        fresh = [ch for ch in sub.channels if not self._subscribers[ch]]
        for channel in sub.channels:
            self._subscribers[channel].add(sub)
        if user_id is not None:
            self._online[user_id] += 1
            if self._online[user_id] == 1:
                await self._mark_present([user_id])
        try:
            await self._redis_subscribe(fresh)
            if self.degraded:
                sub.put(DEGRADED)
            yield sub
        finally:
            gone = []
            for channel in sub.channels:
                members = self._subscribers.get(channel)
                if members is not None:
                    members.discard(sub)
                    if not members:
                        del self._subscribers[channel]
                        gone.append(channel)
            if user_id is not None:
                self._online[user_id] -= 1
                if self._online[user_id] <= 0:
                    del self._online[user_id]
                    await self._forget_presence([user_id])
            await self._redis_unsubscribe(gone)

    async def _redis_subscribe(self, channels: list[str]) -> None:
        if self._redis is None or not channels or self._pubsub is None or self.degraded:
            return
        loop = asyncio.get_running_loop()
        waiters = []
        for channel in channels:
            future: asyncio.Future[None] = loop.create_future()
            self._pending[PREFIX + channel].append(future)
            waiters.append(future)
        try:
            self._pubsub.subscribe(PREFIX + ch for ch in channels)
            await asyncio.wait_for(asyncio.gather(*waiters), timeout=2.0)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("realtime: subscribing failed (%s); delivery falls back to polling", exc)
            for future in waiters:
                future.cancel()

    async def _redis_unsubscribe(self, channels: list[str]) -> None:
        if self._redis is None or not channels or self._pubsub is None or self.degraded:
            return
        with contextlib.suppress(RedisError, OSError):
            self._pubsub.unsubscribe(PREFIX + ch for ch in channels)

    # ------------------------------------------------------------------ publishing

    async def publish(self, channels: Iterable[str], event: dict[str, Any]) -> None:
        """Deliver ``event`` to every subscriber of ``channels`` in every process.

        Never raises for a Redis problem: the event is already stored, so clients in other
        processes get it on their next catch-up.
        """
        await self.publish_many([(channels, event)])

    async def publish_many(self, items: Iterable[tuple[Iterable[str], dict[str, Any]]]) -> None:
        """Several events in one round trip to Redis (a message, then the unread count)."""
        await self.publish_encoded(
            (channels, json.dumps(event, separators=(",", ":"), default=str))
            for channels, event in items
        )

    async def publish_encoded(self, items: Iterable[tuple[Iterable[str], str]]) -> set[str] | None:
        """As ``publish_many``, for events already encoded as JSON text (encoded once, however
        many sockets and processes receive them). Returns the channels that some web process
        (this one included) subscribes to, as Redis counted them; None when unknown (no
        Redis, or it is away)."""
        envelopes: list[tuple[str, str]] = []
        for channels, text in items:
            targets = list(dict.fromkeys(channels))
            self._deliver(targets, text)
            if self._redis is not None:
                # "<origin>|<event>": the event text travels as it is, not re-encoded.
                envelope = f"{self._origin}|{text}"
                envelopes.extend((PREFIX + channel, envelope) for channel in targets)
        if self._redis is None or self.degraded or not envelopes:
            return None  # while Redis is away, other processes' clients poll the database
        reached = await self._send_envelopes(envelopes)
        if reached is None:
            return None
        return {
            channel[len(PREFIX) :] for (channel, _), n in zip(envelopes, reached, strict=True) if n
        }

    async def _send_envelopes(self, envelopes: list[tuple[str, str]]) -> list[int] | None:
        """Publish through Redis, sharing the command with whatever else is being published
        at the same moment: while one is in flight, new envelopes wait and go together in the
        next (one round trip and one script call per burst, not a command per envelope). One
        at a time also keeps this process's events in the order they were published. Returns
        once Redis has taken them (or refused)."""
        loop = asyncio.get_running_loop()
        busy = self._flusher is not None and not self._flusher.done()
        if busy and self._flusher.get_loop() is not loop:  # type: ignore[union-attr]
            # Another event loop's burst (test clients run sockets in loops of their own):
            # futures cannot cross loops, so this one goes on its own.
            return await self._publish_batch([(envelopes, None)])
        future: _Sent = loop.create_future()
        self._outbox.append((envelopes, future))
        if not busy:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._outbox:
                batch, self._outbox = self._outbox, []
                await self._publish_batch(batch)
        finally:
            # Cancelled (the hub stops): publishers waiting for a later burst go on; their
            # events are stored, and the receivers catch up.
            stranded, self._outbox = self._outbox, []
            for _, future in stranded:
                if future is not None and not future.done():
                    future.set_result(None)

    async def _publish_batch(
        self, batch: list[tuple[list[tuple[str, str]], _Sent | None]]
    ) -> list[int] | None:
        """Publishes; answers (and tells each waiting publisher) how many subscriber
        connections each envelope reached, None when Redis refused."""
        assert self._redis is not None
        reached: list[int] | None = None
        try:
            reached = [
                int(n)
                for n in await self._publish(
                    args=[part for envelopes, _ in batch for pair in envelopes for part in pair]
                )
            ]
        except (RedisError, OSError) as exc:
            logger.warning("realtime: publish failed (%s); receivers will catch up", exc)
        finally:
            at = 0
            for envelopes, future in batch:
                if future is not None and not future.done():
                    future.set_result(reached[at : at + len(envelopes)] if reached else None)
                at += len(envelopes)
        return reached

    def _deliver(self, channels: Iterable[str], text: str) -> None:
        seen: set[int] = set()
        for channel in channels:
            for sub in self._subscribers.get(channel, ()):
                if id(sub) not in seen:
                    seen.add(id(sub))
                    sub.put(text)

    def _broadcast_local(self, text: str) -> None:
        self._deliver(list(self._subscribers), text)

    # ------------------------------------------------------------------ presence

    async def is_online(self, user_id: int) -> bool:
        """Whether ``user_id`` has a live socket in any web process.

        A "yes" from Redis is trusted for a few seconds (a busy conversation asks for every
        message); a "no" is asked again each time, so a user who just connected counts."""
        if self._online.get(user_id):
            return True
        if self._redis is None:
            return False
        now = time.time()
        if self._seen_online.get(user_id, 0.0) > now:
            return True
        try:
            fields = await self._redis.hgetall(PRESENCE_PREFIX + str(user_id))
        except (RedisError, OSError):
            return False  # unknown: treat as offline, so they get a notification rather than none
        online = any(float(expiry) > now for expiry in fields.values())
        if online:
            if len(self._seen_online) > 10_000:
                self._seen_online.clear()
            self._seen_online[user_id] = now + PRESENCE_CACHE
        return online

    async def _mark_present(self, user_ids: list[int]) -> None:
        if self._redis is None or not user_ids:
            return
        expiry = str(time.time() + PRESENCE_TTL)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id in user_ids:
                    key = PRESENCE_PREFIX + str(user_id)
                    pipe.hset(key, self._origin, expiry)
                    pipe.expire(key, PRESENCE_TTL)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.debug("realtime: presence update failed: %s", exc)

    async def _forget_presence(self, user_ids: list[int]) -> None:
        if self._redis is None or not user_ids:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id in user_ids:
                    pipe.hdel(PRESENCE_PREFIX + str(user_id), self._origin)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.debug("realtime: presence removal failed: %s", exc)

    async def _refresh_presence(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_REFRESH)
            await self._mark_present(list(self._online))

    # ------------------------------------------------------------------ the Redis reader

    async def _read_forever(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._connect()
                backoff = 0.2
                await self._read()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if not self.degraded:
                    logger.warning("realtime: lost Redis (%s); clients poll until it is back", exc)
                    self.degraded = True
                    self._broadcast_local(DEGRADED)
            except Exception:
                logger.exception("realtime: reader failed; restarting")
            await self._close_pubsub()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _connect(self) -> None:
        assert self._redis_url is not None
        pubsub = await Subscriber.connect(
            self._redis_url, self._on_message, self._on_subscribed, connect_timeout=2
        )
        # A private control channel keeps the connection subscribed even with no sockets.
        pubsub.subscribe([f"{PREFIX}_hub:{self._origin}"])
        pubsub.subscribe([PREFIX + ch for ch in self._subscribers])
        self._pubsub = pubsub
        if self.degraded:
            logger.info("realtime: Redis is back; clients catch up")
        self.degraded = False
        await self._mark_present(list(self._online))
        # Anything published while we were not subscribed is in the database: catch up.
        self._broadcast_local(RESYNC)

    async def _read(self) -> None:
        assert self._pubsub is not None
        await self._pubsub.wait_closed()  # messages arrive through the callbacks below

    def _on_subscribed(self, channel: bytes) -> None:
        for future in self._pending.pop(channel.decode(), []):
            if not future.done():
                future.set_result(None)

    def _on_message(self, channel: bytes, data: bytes) -> None:
        if not channel.startswith(_PREFIX) or data.startswith(self._own):
            return  # not ours, or ours: delivered locally when it was published
        _, _, text = data.partition(b"|")
        if text:
            self._deliver([channel[len(_PREFIX) :].decode()], text.decode())

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        for futures in self._pending.values():
            for future in futures:
                if not future.done():
                    future.cancel()
        self._pending.clear()
        if pubsub is not None:
            pubsub.close()
