"""A Redis connection in subscribed mode that hands each message to a callback as it arrives.

The hub's reader used redis-py's ``PubSub.get_message`` once per message: a timeout scope, a
health check, a parser written for every reply type and a dict per message, which came to a
quarter of a busy web process's time. Here the connection is an ``asyncio.Protocol``: whatever a
read brings is parsed in one pass (RESP2: subscribed connections only ever receive arrays of
bulk strings and integers) and each message goes to ``on_message`` with no task switch.

Never reconnects by itself: ``wait_closed`` raises when the link breaks, or when Redis has not
answered a ``PING`` sent after ``health_check_interval`` quiet seconds, so the caller always
learns about an outage (and tells its clients to catch up).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

logger = logging.getLogger(__name__)

_CRLF = b"\r\n"


class _Incomplete(Exception):
    """The buffer ends inside a reply: wait for more bytes."""


def pack(*args: str | bytes) -> bytes:
    """A command as RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


def parse(buf: bytes | bytearray, pos: int) -> tuple[Any, int]:
    """One RESP2 reply starting at ``pos``: (value, position after it); errors come back as
    ``ResponseError`` values. Raises ``_Incomplete`` when the reply is not all there."""
    end = buf.find(_CRLF, pos)
    if end < 0:
        raise _Incomplete
    kind = buf[pos]
    line = bytes(buf[pos + 1 : end])
    pos = end + 2
    if kind == 0x24:  # $ bulk string
        size = int(line)
        if size < 0:
            return None, pos
        if len(buf) < pos + size + 2:
            raise _Incomplete
        return bytes(buf[pos : pos + size]), pos + size + 2
    if kind == 0x2A:  # * array
        count = int(line)
        items = []
        for _ in range(max(count, 0)):
            item, pos = parse(buf, pos)
            items.append(item)
        return (items if count >= 0 else None), pos
    if kind == 0x3A:  # : integer
        return int(line), pos
    if kind == 0x2B:  # + simple string
        return line, pos
    if kind == 0x2D:  # - error
        return ResponseError(line.decode(errors="replace")), pos
    raise RedisConnectionError(f"unexpected reply from Redis: {bytes(buf[pos - 2 : pos + 20])!r}")


class Subscriber(asyncio.Protocol):
    def __init__(
        self,
        on_message: Callable[[bytes, bytes], None],
        on_subscribed: Callable[[bytes], None],
        health_check_interval: float,
    ) -> None:
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._interval = health_check_interval
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._replies: asyncio.Queue[Any] = asyncio.Queue()  # before subscribing (AUTH)
        self._subscribed = False
        self._heard = True
        self._pinged = False
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        on_message: Callable[[bytes, bytes], None],
        on_subscribed: Callable[[bytes], None],
        *,
        connect_timeout: float = 2.0,
        health_check_interval: float = 15.0,
    ) -> Subscriber:
        """A connected (and authenticated) subscriber for the Redis at ``url``; raises
        ``OSError`` or a ``RedisError`` when it cannot be reached."""
        options = parse_url(url)
        loop = asyncio.get_running_loop()
        protocol = cls(on_message, on_subscribed, health_check_interval)
        async with asyncio.timeout(connect_timeout):
            if "path" in options:
                await loop.create_unix_connection(lambda: protocol, options["path"])
            else:
                await loop.create_connection(
                    lambda: protocol,
                    options.get("host", "localhost"),
                    options.get("port", 6379),
                    ssl=_tls(options),
                )
            if password := options.get("password"):
                username = options.get("username")
                protocol._write(
                    pack("AUTH", username, password) if username else pack("AUTH", password)
                )
                reply = await protocol._replies.get()
                if isinstance(reply, Exception):
                    protocol.close()
                    raise reply
        protocol._subscribed = True
        protocol._schedule_check()
        return protocol

    # ------------------------------------------------------------------ commands

    def subscribe(self, channels: Iterable[str]) -> None:
        names = list(channels)
        if names:
            self._write(pack("SUBSCRIBE", *names))

    def unsubscribe(self, channels: Iterable[str]) -> None:
        names = list(channels)
        if names:
            self._write(pack("UNSUBSCRIBE", *names))

    def _write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise RedisConnectionError("the subscriber connection is closed")
        self._transport.write(data)

    async def wait_closed(self) -> None:
        """Until the link breaks: always raises (``ConnectionError``)."""
        await asyncio.shield(self._closed)
        raise RedisConnectionError("the subscriber connection was closed")

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None:
            self._transport.close()

    # ------------------------------------------------------------------ health

    def _schedule_check(self) -> None:
        self._timer = self._loop.call_later(self._interval, self._check)

    def _check(self) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        if not self._heard:
            if self._pinged:
                # Quiet for a whole interval after a PING: treat the link as gone.
                self._lost(RedisConnectionError("Redis did not answer a PING"))
                self._transport.abort()
                return
            self._pinged = True
            self._transport.write(pack("PING"))
        else:
            self._pinged = False
        self._heard = False
        self._schedule_check()

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._lost(RedisConnectionError(f"lost the subscriber connection ({exc or 'closed'})"))

    def _lost(self, exc: Exception) -> None:
        if not self._closed.done():
            self._closed.set_exception(exc)
            self._closed.exception()  # retrieved: nobody may be waiting yet
        self._replies.put_nowait(exc)

    def data_received(self, data: bytes) -> None:
        self._heard = True
        buf = self._buffer
        buf += data
        pos = 0
        replies = []
        try:
            while pos < len(buf):
                reply, pos = parse(buf, pos)
                replies.append(reply)
        except _Incomplete:
            pass
        except Exception as exc:  # a reply we cannot read: the stream is out of step
            self._lost(exc)
            if self._transport is not None:
                self._transport.abort()
            return
        del buf[:pos]
        for reply in replies:
            try:
                self._handle(reply)
            except Exception:
                logger.exception("redis subscriber: handling a message failed")

    def _handle(self, reply: Any) -> None:
        if not self._subscribed or not isinstance(reply, list):
            self._replies.put_nowait(reply)
            return
        kind = reply[0]
        if kind == b"message":
            self._on_message(reply[1], reply[2])
        elif kind == b"subscribe":
            self._on_subscribed(reply[1])


def _tls(options: Mapping[str, Any]) -> ssl.SSLContext | None:
    connection_class = options.get("connection_class")
    if connection_class is None or "SSL" not in connection_class.__name__:
        return None
    context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    if str(options.get("ssl_cert_reqs", "required")).lower() in {"none", "0"}:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
