"""The hub's pub/sub connection: replies split anywhere are read whole, messages reach the
callback from a real Redis, and a Redis that stops answering is noticed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from marketplace.embedded import EmbeddedRedis
from marketplace.realtime import Hub
from marketplace.redis_subscriber import Subscriber, pack


class _Inbox:
    """The messages a subscriber handed on; ``arrived`` is set at each one."""

    def __init__(self) -> None:
        self.messages: list[tuple[bytes, bytes]] = []
        self.arrived = asyncio.Event()

    def __call__(self, channel: bytes, data: bytes) -> None:
        self.messages.append((channel, data))
        self.arrived.set()

    async def until(self, done: Callable[[list[tuple[bytes, bytes]]], bool]) -> None:
        async with asyncio.timeout(5):
            while not done(self.messages):
                self.arrived.clear()
                await self.arrived.wait()


def _reply(*items: bytes | int) -> bytes:
    out = [b"*%d\r\n" % len(items)]
    for item in items:
        out.append(
            b":%d\r\n" % item if isinstance(item, int) else b"$%d\r\n%b\r\n" % (len(item), item)
        )
    return b"".join(out)


async def test_replies_cut_at_any_byte_are_read_whole() -> None:
    stream = b"".join(
        [
            _reply(b"subscribe", b"duet:rt:user:1", 1),
            _reply(b"message", b"duet:rt:user:1", 'abc|{"é":"\\r\\n"}'.encode()),
            _reply(b"pong", b""),
            _reply(b"message", b"duet:rt:user:2", b""),
            _reply(b"message", b"duet:rt:user:1", b"x" * 300),
        ]
    )
    expected = [
        (b"duet:rt:user:1", 'abc|{"é":"\\r\\n"}'.encode()),
        (b"duet:rt:user:2", b""),
        (b"duet:rt:user:1", b"x" * 300),
    ]
    for cut in range(1, len(stream)):
        inbox = _Inbox()
        subscribed: list[bytes] = []
        subscriber = Subscriber(inbox, subscribed.append, 15.0)
        subscriber._subscribed = True
        subscriber.data_received(stream[:cut])
        subscriber.data_received(stream[cut:])
        assert inbox.messages == expected, cut
        assert subscribed == [b"duet:rt:user:1"]


def test_commands_are_resp_arrays() -> None:
    assert pack("SUBSCRIBE", "a", b"bc") == b"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$2\r\nbc\r\n"


async def test_messages_from_a_real_redis(redis_server: EmbeddedRedis) -> None:
    inbox = _Inbox()
    confirmed = asyncio.Event()
    subscriber = await Subscriber.connect(redis_server.url(), inbox, lambda _: confirmed.set())
    client = Redis.from_url(redis_server.url())
    try:
        subscriber.subscribe(["test:a", "test:b"])
        await asyncio.wait_for(confirmed.wait(), 5)
        for i in range(50):
            await client.publish("test:a" if i % 2 else "test:b", f"event {i}")
        await inbox.until(lambda got: len(got) >= 50)
        assert inbox.messages[:2] == [(b"test:b", b"event 0"), (b"test:a", b"event 1")]
        subscriber.unsubscribe(["test:a"])
        # Redis takes the UNSUBSCRIBE in its own time (another client's PUBLISH may come first):
        # wait until nobody hears test:a, then nothing published there may arrive.
        for _ in range(200):
            if await client.publish("test:a", "probe") == 0:
                break
            await asyncio.sleep(0.01)
        assert await client.publish("test:a", "after") == 0
        await client.publish("test:b", "last")
        await inbox.until(lambda got: got[-1] == (b"test:b", b"last"))
        assert (b"test:a", b"after") not in inbox.messages
    finally:
        subscriber.close()
        await client.aclose()


async def test_a_silent_redis_is_noticed() -> None:
    """A server that accepts and never answers (a hung Redis): the PING after a quiet interval
    goes unanswered, and ``wait_closed`` raises."""
    held: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        subscriber = await Subscriber.connect(
            f"redis://127.0.0.1:{port}/0",
            lambda c, d: None,
            lambda c: None,
            health_check_interval=0.2,
        )
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(subscriber.wait_closed(), 5)
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_publish_tells_which_channels_another_process_listens_to(
    redis_server: EmbeddedRedis,
) -> None:
    """What ``announce`` reads instead of asking presence: a user whose channel reached a
    subscriber has a socket somewhere."""
    here, there = Hub(redis_server.url()), Hub(redis_server.url())
    await here.start()
    await there.start()
    try:
        # The readers connect in the background.
        for _ in range(500):
            if here._pubsub is not None and there._pubsub is not None:
                break
            await asyncio.sleep(0.01)
        async with there.subscribe(["user:2"], user_id=2) as sub:
            reached = await here.publish_encoded([(["user:1"], "{}"), (["user:2"], '{"a":1}')])
            assert reached == {"user:2"}
            assert await asyncio.wait_for(sub.get(), 5) == '{"a":1}'
    finally:
        await here.stop()
        await there.stop()
