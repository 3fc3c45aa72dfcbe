"""The web side of rooms on media processes (``ROOM_PLACEMENT=media``).

A web process places a participant's room on a media process (the one holding it, or the least
loaded one with room to spare), then relays the participant's signaling both ways through Redis
(``video.envelopes``). Any web process can serve any participant: nothing is sticky.

Every second this process tells each media process which of its participants it still serves
(one ``alive`` message per media process). ``PUBLISH`` answers how many subscribers heard it: a
media process that does not hear its own channel is gone, and its participants are placed
again at once: the browser is told (``moved``), the new process sends a new ``welcome`` and the
browser makes a new peer connection (our ICE restart). The claim on the new process succeeds
once the dead process's heartbeat has expired (``directory.HEARTBEAT_TTL_MS``), so a lesson has
media again within a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketplace.errors import DomainError
from marketplace.web.health import Unhealthy
from scheduling.lifecycle import BookingTransitioned
from scheduling.rooms import RoomPass
from scheduling.service import Caller
from video.directory import MediaProcess, RoomDirectory, media_channel, web_channel
from video.envelopes import MOVED_CODE, caller_to_json, pass_to_json
from video.registry import CLOSING_EVENTS
from video.session import MessageGate, error_message, quietly

logger = logging.getLogger(__name__)

ALIVE_EVERY = 1.0
REPLY_SECONDS = 5.0  # a media process answers a join within this, or another is tried
PLACE_SECONDS = 15.0  # give up placing a room after this long (the browser will reconnect)


class RoomUnavailable(Exception):
    """No media process could take the room."""


@dataclass
class RelayedParticipant:
    conn: str
    room_pass: RoomPass
    name: str
    caller: Caller
    media: str | None = None  # the media process serving them now
    outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    replies: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    moving: asyncio.Task[None] | None = None


class MediaRelay:
    def __init__(self, redis_url: str) -> None:
        # Its own client: pub/sub holds a connection, and relays must not wait behind requests.
        self.redis = Redis.from_url(redis_url)
        self.directory = RoomDirectory(self.redis)
        self.id = uuid.uuid4().hex[:12]
        self.participants: dict[str, RelayedParticipant] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(web_channel(self.id))
        self._tasks = [
            asyncio.create_task(self._listen(), name="relay-listen"),
            asyncio.create_task(self._keep_alive(), name="relay-alive"),
        ]

    async def close_all(self) -> None:
        for task in [*self._tasks, *self._background]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._background, return_exceptions=True)
        for participant in list(self.participants.values()):
            if participant.media is not None:
                await quietly(self._tell(participant.media, "leave", participant))
        await quietly(self._pubsub.aclose())
        await self.redis.aclose()

    # ------------------------------------------------------------------ one participant

    async def serve(
        self, socket: WebSocket[Any, Any, Any], room_pass: RoomPass, name: str, caller: Caller
    ) -> None:
        participant = RelayedParticipant(uuid.uuid4().hex, room_pass, name, caller)
        self.participants[participant.conn] = participant
        writer = asyncio.create_task(self._write(socket, participant))
        try:
            try:
                await self._place(participant)
            except RoomUnavailable:
                await socket.send_text(
                    json.dumps(
                        error_message(
                            "room_unavailable",
                            "The lesson room cannot be opened right now. Trying again…",
                        )
                    )
                )
                await socket.close(code=1013, reason="room_unavailable")
                return
            await self._read(socket, participant)
        except WebSocketDisconnect:
            pass
        finally:
            self.participants.pop(participant.conn, None)
            if participant.moving is not None:
                participant.moving.cancel()
            if participant.media is not None:
                await quietly(self._tell(participant.media, "leave", participant))
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def _read(
        self, socket: WebSocket[Any, Any, Any], participant: RelayedParticipant
    ) -> None:
        gate = MessageGate()
        while True:
            raw = await socket.receive_text()
            try:
                checked = gate.check(raw)
            except DomainError as exc:
                participant.outbox.put_nowait(
                    {"op": "send", "m": error_message(exc.code, exc.message, exc.fields)}
                )
                continue
            if isinstance(checked, tuple):
                participant.outbox.put_nowait(
                    {"op": "close", "code": checked[0], "reason": checked[1]}
                )
                return
            media = participant.media
            if media is None:
                continue  # being moved: the new welcome starts a fresh negotiation anyway
            if not await self._tell(media, "msg", participant, m=checked):
                self._move(participant, media)

    async def _write(
        self, socket: WebSocket[Any, Any, Any], participant: RelayedParticipant
    ) -> None:
        """Everything for the browser goes out here, in order, one at a time."""
        while True:
            envelope = await participant.outbox.get()
            if envelope["op"] == "send":
                await socket.send_text(json.dumps(envelope["m"]))
            elif envelope["op"] == "close":
                await socket.close(code=int(envelope["code"]), reason=str(envelope["reason"]))
                return

    # ------------------------------------------------------------------ placement

    async def _place(self, participant: RelayedParticipant) -> None:
        """Join the participant to the room's media process, placing the room if needed."""
        booking_id = participant.room_pass.booking_id
        deadline = time.monotonic() + PLACE_SECONDS
        while time.monotonic() < deadline:
            for media in await self._candidates(booking_id):
                outcome = await self._ask(participant, media)
                logger.debug("room %s on %s: %s", booking_id, media, outcome)
                if outcome == "held":
                    participant.media = media
                    return
            await asyncio.sleep(0.25)  # the holder's heartbeat is still expiring, or all full
        raise RoomUnavailable(booking_id)

    async def _candidates(self, booking_id: int) -> list[str]:
        """The room's holder if it is alive; else live processes with room, least loaded first."""
        holder = await self.directory.holder(booking_id)
        processes = await self.directory.processes()
        if holder is not None and any(p.id == holder for p in processes):
            return [holder]
        free: list[MediaProcess] = sorted(
            (p for p in processes if not p.full), key=lambda p: p.load
        )
        return [p.id for p in free]

    async def _ask(self, participant: RelayedParticipant, media: str) -> str:
        while not participant.replies.empty():
            participant.replies.get_nowait()
        heard = await self._tell(
            media,
            "join",
            participant,
            pass_=pass_to_json(participant.room_pass),
            name=participant.name,
            caller=caller_to_json(participant.caller),
        )
        if not heard:
            return "gone"
        try:
            reply = await asyncio.wait_for(participant.replies.get(), REPLY_SECONDS)
        except TimeoutError:
            await self._tell(media, "leave", participant)
            return "timeout"
        return str(reply.get("outcome"))

    def _move(self, participant: RelayedParticipant, gone: str) -> None:
        """The participant's media process is gone (or gave the room up): place them again."""
        if participant.media != gone or participant.moving is not None:
            return
        logger.info(
            "room %s: moving user %s off media process %s",
            participant.room_pass.booking_id,
            participant.room_pass.user_id,
            gone,
        )
        participant.media = None
        participant.outbox.put_nowait(
            {
                "op": "send",
                "m": {
                    "type": "moved",
                    "message": "The lesson moved to another server. Reconnecting…",
                },
            }
        )

        async def again() -> None:
            try:
                await self._place(participant)
            except RoomUnavailable:
                participant.outbox.put_nowait(
                    {"op": "close", "code": 1013, "reason": "room_unavailable"}
                )
            finally:
                participant.moving = None

        participant.moving = asyncio.create_task(again())

    # ------------------------------------------------------------------ Redis

    async def _tell(
        self, media: str, op: str, participant: RelayedParticipant, **fields: Any
    ) -> bool:
        """Send to a media process; False when no process listens on its channel."""
        envelope = {"op": op, "conn": participant.conn, "web": self.id}
        for key, value in fields.items():
            envelope[key.rstrip("_")] = value
        try:
            return bool(await self.redis.publish(media_channel(media), json.dumps(envelope)))
        except RedisError as exc:
            logger.warning("cannot reach Redis to relay a room message: %s", exc)
            return False

    async def _listen(self) -> None:
        async for message in self._pubsub.listen():
            try:
                envelope = json.loads(message["data"])
                participant = self.participants.get(str(envelope.get("conn")))
                if participant is None:
                    continue
                if envelope["op"] == "reply":
                    participant.replies.put_nowait(envelope)
                elif envelope["op"] == "close" and envelope.get("code") == MOVED_CODE:
                    if participant.media is not None:
                        self._move(participant, participant.media)
                else:
                    participant.outbox.put_nowait(envelope)
            except Exception:
                logger.exception("a relayed room message failed")

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(ALIVE_EVERY)
            by_media: dict[str, list[str]] = defaultdict(list)
            for participant in self.participants.values():
                if participant.media is not None:
                    by_media[participant.media].append(participant.conn)
            for media, conns in by_media.items():
                try:
                    envelope = {"op": "alive", "conns": conns, "web": self.id}
                    heard = await self.redis.publish(media_channel(media), json.dumps(envelope))
                except RedisError as exc:
                    logger.warning("cannot reach Redis: %s", exc)
                    continue
                if not heard:
                    logger.warning("media process %s is gone: moving its rooms", media)
                    for conn in conns:
                        moving = self.participants.get(conn)
                        if moving is not None:
                            self._move(moving, media)

    # ------------------------------------------------------------------ whole rooms

    async def close(self, booking_id: int, reason: str) -> None:
        """Close a room wherever it is (the lesson ended, or was cancelled)."""
        holder = await self.directory.holder(booking_id)
        if holder is not None:
            envelope = {"op": "close", "booking": booking_id, "reason": reason}
            await self.redis.publish(media_channel(holder), json.dumps(envelope))

    def on_booking_transitioned(self, event: BookingTransitioned) -> None:
        if event.event in CLOSING_EVENTS:
            reason = "ended" if event.event == "end_lesson" else event.to_state
            task = asyncio.ensure_future(self.close(event.booking_id, reason))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def snapshot(self) -> dict[str, Any]:
        """Every media process and the rooms it holds, as each last reported them."""
        processes = await self.directory.processes()
        snapshots = await self.directory.snapshots([p.id for p in processes])
        rooms: list[dict[str, Any]] = []
        for process in processes:
            for room in snapshots.get(process.id, {}).get("rooms", []):
                rooms.append({**room, "media_process": process.id})
        return {
            "placement": "media",
            "media_processes": [
                {**p.public(), "loop_lag_ms": snapshots.get(p.id, {}).get("loop_lag_ms")}
                for p in processes
            ],
            "rooms": rooms,
        }

    async def health(self) -> str:
        processes = await self.directory.processes()
        if not processes:
            # Also for the second or two a `duet run` takes to start its media processes.
            raise Unhealthy("no media process is running")
        rooms = sum(p.rooms for p in processes)
        capacity = sum(p.capacity for p in processes)
        return f"{len(processes)} media processes, {rooms} of {capacity} rooms"
