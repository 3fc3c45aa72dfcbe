"""A media process (``duet media``): holds lesson rooms and forwards their media.

Web processes keep pages, APIs and the participants' WebSockets; they place each room on a
media process through the directory in Redis (``video.directory``) and relay signaling both
ways over pub/sub (``video.envelopes``). Browsers send media straight to this process's ICE
addresses. Here a relayed participant is a ``RelayConnection``: the room cannot tell it from a
WebSocket, and runs the same ``RoomSession`` as a room inside a web process.

The process renews its heartbeat and its rooms' leases every second. When it cannot reach Redis
for ``SELF_FENCE_MS``, or a lease turns out to be someone else's, it drops those rooms at once:
another process may take them over, and two must never forward one room. Participants whose web
process stopped saying they are alive are dropped after ``LINK_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketplace.web.services import Services
from video.directory import (
    HEARTBEAT_EVERY,
    SELF_FENCE_MS,
    RoomDirectory,
    media_channel,
    web_channel,
)
from video.envelopes import MOVED_CODE, caller_from_json, pass_from_json
from video.registry import RoomRegistry
from video.session import RoomSession, quietly

if TYPE_CHECKING:
    from video.room import Participant, Room

logger = logging.getLogger(__name__)

LINK_TIMEOUT = 5.0  # seconds without an ``alive`` from the participant's web process
SNAPSHOT_EVERY = 2  # heartbeats


@dataclass
class Link:
    """One participant's signaling, relayed from a web process."""

    conn: str
    web: str
    inbox: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    last_seen: float = field(default_factory=time.monotonic)
    booking_id: int | None = None
    room: Room | None = None
    participant: Participant | None = None
    session: RoomSession | None = None
    task: asyncio.Task[None] | None = None


class RelayConnection:
    """A participant's ``Connection`` (``video.room``) through their web process."""

    def __init__(self, server: MediaServer, link: Link) -> None:
        self.server, self.link = server, link

    async def send(self, message: dict[str, Any]) -> None:
        await self.server.to_web(self.link, {"op": "send", "m": message})

    async def close(self, code: int, reason: str) -> None:
        await self.server.to_web(self.link, {"op": "close", "code": code, "reason": reason})
        self.link.inbox.put_nowait(None)


class MediaServer:
    def __init__(
        self,
        services: Services,
        registry: RoomRegistry,
        redis: Redis,
        process_id: str,
        capacity: int,
    ) -> None:
        self.services = services
        self.registry = registry
        self.redis = redis
        self.directory = RoomDirectory(redis)
        self.id = process_id
        self.capacity = capacity
        self.links: dict[str, Link] = {}
        self.leases: dict[int, str] = {}  # booking -> lease token
        self._tasks: list[asyncio.Task[None]] = []
        self._last_beat = 0.0  # when the last heartbeat that Redis took was sent
        self._cpu_at = (time.monotonic(), time.process_time())
        registry.closed_hooks.append(self._room_closed)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        # Forwarding media is this process's whole job: load aiortc and PyAV now, not while
        # the first participant of a moved room waits for their answer.
        import video.room  # noqa: F401

        _ = self.registry.configuration
        await self.registry.start()
        await self._beat()  # registered before it can be chosen, or claim anything
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(media_channel(self.id))
        self._tasks = [
            asyncio.create_task(self._listen(), name="media-listen"),
            asyncio.create_task(self._keep_alive(), name="media-heartbeat"),
            asyncio.create_task(self._fence(), name="media-fence"),
        ]
        logger.info("media process %s ready (capacity %d rooms)", self.id, self.capacity)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Leave first so no web process sends anyone here again, then close the rooms: their
        # participants are told to move, not that the lesson ended.
        await quietly(self.directory.retire(self.id))
        for booking_id in list(self.registry.rooms):
            await self._lose(booking_id)
        await self.registry.close_all()
        await quietly(self._pubsub.aclose())

    # ------------------------------------------------------------------ from web processes

    async def _listen(self) -> None:
        async for message in self._pubsub.listen():
            try:
                envelope = json.loads(message["data"])
                self._route(envelope)
            except Exception:
                logger.exception("media process %s: a relayed message failed", self.id)

    def _route(self, envelope: dict[str, Any]) -> None:
        op = envelope.get("op")
        if op == "alive":
            now = time.monotonic()
            for conn in envelope.get("conns", ()):
                link = self.links.get(conn)
                if link is not None:
                    link.last_seen = now
                else:  # the web process thinks its participant is here: it is not (any more)
                    self.registry.spawn(self._moved(envelope["web"], conn))
            return
        if op == "close":
            booking_id = int(envelope["booking"])
            self.registry.spawn(
                self.registry.close(booking_id, str(envelope.get("reason", "closed")))
            )
            return
        conn = str(envelope["conn"])
        link = self.links.get(conn)
        if op == "join" and link is None:
            link = Link(conn=conn, web=str(envelope["web"]))
            self.links[conn] = link
            link.task = asyncio.create_task(self._serve(link), name=f"media-link-{conn}")
        if link is None:
            if op == "msg":
                self.registry.spawn(self._moved(str(envelope["web"]), conn))
            return
        link.last_seen = time.monotonic()
        link.inbox.put_nowait(envelope if op != "leave" else None)

    async def _serve(self, link: Link) -> None:
        """One participant's messages, in order (an offer is answered before the next)."""
        try:
            while (envelope := await link.inbox.get()) is not None:
                if envelope["op"] == "join":
                    if not await self._join(link, envelope):
                        return
                elif (
                    envelope["op"] == "msg"
                    and link.session is not None
                    and await link.session.handle(envelope["m"])
                ):
                    return
        except Exception:
            logger.exception("media process %s: participant %s failed", self.id, link.conn)
            await quietly(self.to_web(link, {"op": "close", "code": 1011, "reason": "error"}))
        finally:
            self.links.pop(link.conn, None)
            if link.room is not None and link.participant is not None:
                await quietly(link.room.leave(link.participant))

    async def _join(self, link: Link, envelope: dict[str, Any]) -> bool:
        room_pass = pass_from_json(envelope["pass"])
        booking_id = room_pass.booking_id
        claim = await self.directory.claim(self.id, booking_id, self.capacity)
        if claim.outcome != "held":
            await self.to_web(
                link, {"op": "reply", "outcome": claim.outcome, "holder": claim.holder}
            )
            return False
        self.leases[booking_id] = claim.token
        try:
            room = await self.registry.open(room_pass)
        except Exception:
            if booking_id not in self.registry.rooms:
                await self._release(booking_id)
            raise
        participant = await room.join(room_pass, str(envelope["name"]), RelayConnection(self, link))
        link.booking_id, link.room, link.participant = booking_id, room, participant
        link.session = RoomSession(
            self.services,
            self.registry,
            room,
            participant,
            room_pass,
            caller_from_json(envelope["caller"]),
        )
        await self.to_web(link, {"op": "reply", "outcome": "held", "holder": self.id})
        await link.session.welcome()
        return True

    # ------------------------------------------------------------------ to web processes

    async def to_web(self, link: Link, envelope: dict[str, Any]) -> None:
        envelope["conn"] = link.conn
        await self.redis.publish(web_channel(link.web), json.dumps(envelope))

    async def _moved(self, web: str, conn: str) -> None:
        envelope = {"op": "close", "conn": conn, "code": MOVED_CODE, "reason": "moved"}
        await quietly(self.redis.publish(web_channel(web), json.dumps(envelope)))

    # ------------------------------------------------------------------ leases and heartbeat

    async def _keep_alive(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY)
            beats += 1
            try:
                # Bounded: a Redis that hangs must not hold the next beat (nor the fence).
                async with asyncio.timeout(2 * HEARTBEAT_EVERY):
                    await self._beat()
                    lost = await self.directory.renew(dict(self.leases))
                    if beats % SNAPSHOT_EVERY == 0:
                        await self.directory.publish_snapshot(self.id, self.registry.snapshot())
            except (RedisError, TimeoutError) as exc:
                logger.warning("media process %s cannot reach Redis: %r", self.id, exc)
                continue
            for booking_id in lost:
                logger.warning("room %s: lease lost to another process", booking_id)
                await self._lose(booking_id)
            self._sweep_links()

    async def _fence(self) -> None:
        """Let go of every room before the heartbeat can have expired in Redis: by this
        process's own clock, needing nothing from Redis (which may be what is gone)."""
        while True:
            await asyncio.sleep(0.1)
            if self.leases and (time.monotonic() - self._last_beat) * 1000 > SELF_FENCE_MS:
                logger.error("media process %s lost Redis: dropping its rooms", self.id)
                for booking_id in list(self.leases):
                    await self._lose(booking_id)

    async def _beat(self) -> None:
        sent = time.monotonic()
        await self.directory.heartbeat(self.id, self.capacity, self.cpu())
        self._last_beat = sent

    def cpu(self) -> float:
        """Share of one core used since the last call."""
        now, used = time.monotonic(), time.process_time()
        then, used_then = self._cpu_at
        self._cpu_at = (now, used)
        return (used - used_then) / max(1e-6, now - then)

    def _sweep_links(self) -> None:
        cutoff = time.monotonic() - LINK_TIMEOUT
        for link in list(self.links.values()):
            if link.last_seen < cutoff:
                logger.info("participant %s: their web process went quiet", link.conn)
                link.inbox.put_nowait(None)

    async def _lose(self, booking_id: int) -> None:
        """This process may no longer hold the room: its participants go elsewhere. Nothing
        here waits for Redis (telling their web processes is best effort, in the background)."""
        self.leases.pop(booking_id, None)
        for link in [link for link in self.links.values() if link.booking_id == booking_id]:
            self.registry.spawn(self._moved(link.web, link.conn))
            link.booking_id = link.room = link.participant = None
            link.inbox.put_nowait(None)
        await self.registry.close(booking_id, "moved", finish_recording=False, notify=False)

    async def _room_closed(self, booking_id: int) -> None:
        await self._release(booking_id)

    async def _release(self, booking_id: int) -> None:
        token = self.leases.pop(booking_id, None)
        if token is not None:
            await quietly(self.directory.release(self.id, booking_id, token))

    # ------------------------------------------------------------------ operators
