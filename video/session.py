"""One participant's signaling in a room, message by message.

The same code runs wherever the room lives: in the web process (``ROOM_PLACEMENT=local``) it is
fed straight from the WebSocket; on a media process (``ROOM_PLACEMENT=media``) it is fed the
messages the participant's web process relays through Redis (``video.relay``). The web side
checks size, rate and JSON before anything reaches it.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from marketplace.errors import BadRequest, DomainError, Forbidden, ValidationFailed
from marketplace.web.services import Services
from scheduling.rooms import RoomPass, RoomRole
from scheduling.service import Caller
from video import sdp, service
from video.registry import RoomRegistry

if TYPE_CHECKING:
    from video.room import Participant, Room

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 96 * 1024
MAX_CHAT_CHARS = 1000  # one chat line in a lesson room


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class MessageGate:
    """What the web process checks before a message goes anywhere: rate, size, JSON shape.

    ``check`` returns the message, or a close (code, reason) for a flood or an oversized frame,
    or raises a ``DomainError`` for a message to answer with an error."""

    def __init__(self) -> None:
        self.bucket = TokenBucket(rate=20, burst=60)

    def check(self, raw: str) -> dict[str, Any] | tuple[int, str]:
        if not self.bucket.take():
            return (1008, "too_many_messages")
        if len(raw) > MAX_MESSAGE_CHARS:
            return (1009, "message_too_big")
        try:
            message = json.loads(raw)
        except json.JSONDecodeError:
            raise BadRequest("Send JSON messages.", code="malformed_json") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ValidationFailed({"type": "Send a JSON object with a type."})
        return message


async def quietly(awaitable: Any, what: str = "room signaling") -> None:
    """Best effort: a peer that just went away must not break the others' lesson."""
    try:
        await awaitable
    except Exception as exc:
        logger.debug("%s: %s", what, exc)


def error_message(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "fields": fields or {}}


class RoomSession:
    """One participant's messages in the room that holds them."""

    def __init__(
        self,
        services: Services,
        registry: RoomRegistry,
        room: Room,
        participant: Participant,
        room_pass: RoomPass,
        caller: Caller,
    ) -> None:
        self.services = services
        self.registry = registry
        self.room = room
        self.participant = participant
        self.room_pass = room_pass
        self.caller = caller
        self.connection = participant.connection
        self.chat_bucket = TokenBucket(rate=1, burst=5)

    async def welcome(self) -> None:
        ttl = max(600, int((self.room.closes_at - datetime.now(UTC)).total_seconds()) + 600)
        async with self.services.sessions() as session:
            choice = await service.room_choice(session, self.room.booking_id)
        message = self.room.welcome(self.participant)
        message.update(
            ice_servers=await self.registry.ice.for_join(ttl),
            music_fmtp=sdp.music_fmtp(self.room.bitrate_kbps),
            consent=service.consent_view(choice),
            recording=bool(self.room.sinks),
        )
        await self.connection.send(message)

    async def handle(self, message: dict[str, Any]) -> bool:
        """Act on one checked message; True when the participant is done (left, ended)."""
        try:
            return await self.dispatch(message)
        except DomainError as exc:
            await self.connection.send(error_message(exc.code, exc.message, exc.fields))
        except Exception:
            # A bug must not throw the participant out of the lesson: log it, say so.
            logger.exception("room message %r failed", message.get("type"))
            await self.connection.send(
                error_message("internal_error", "That did not work. Please try again.")
            )
        return False

    async def dispatch(self, message: dict[str, Any]) -> bool:
        kind = message["type"]
        handler = getattr(self, f"on_{kind}", None)
        if handler is None:
            raise ValidationFailed({"type": f"Unknown message type {kind!r}."})
        return bool(await handler(message))

    async def on_offer(self, message: dict[str, Any]) -> None:
        try:
            answer = await self.room.negotiate(self.participant, message.get("sdp"))  # type: ignore[arg-type]
        except ConnectionError:
            return
        await self.connection.send({"type": "answer", "sdp": answer})

    async def on_candidate(self, message: dict[str, Any]) -> None:
        peer = self.participant.peer
        if peer is None:
            return
        mid = message.get("sdpMid")
        index = message.get("sdpMLineIndex")
        await peer.add_candidate(
            message.get("candidate"),
            mid if isinstance(mid, str) else None,
            index if isinstance(index, int) else None,
        )

    async def on_state(self, message: dict[str, Any]) -> None:
        names = ("muted", "camera", "mode")
        changes: dict[str, Any] = {k: message[k] for k in names if k in message}
        if any(k != "mode" and not isinstance(v, bool) for k, v in changes.items()):
            raise ValidationFailed({"state": "muted and camera are true or false."})
        if "mode" in changes and changes["mode"] not in ("music", "speech"):
            raise ValidationFailed({"mode": "Choose music or speech."})
        await self.room.update_state(self.participant, changes)

    async def on_chat(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed({"text": "Write a message."})
        if len(text) > MAX_CHAT_CHARS:
            raise ValidationFailed({"text": f"Keep messages under {MAX_CHAT_CHARS} characters."})
        if not self.chat_bucket.take():
            raise ValidationFailed({"text": "Slow down a little."}, "Too many messages.")
        await self.room.say(self.participant, text.strip())

    async def on_bitrate(self, message: dict[str, Any]) -> None:
        default = self.services.settings.video.default_bitrate_kbps
        async with self.services.transaction() as session:
            kbps = await service.set_bitrate(
                session, self.room.booking_id, self.room_pass.role, message.get("kbps"), default
            )
        await self.room.set_bitrate(kbps)

    async def on_bitrate_failed(self, message: dict[str, Any]) -> None:
        """A browser could not apply the new bitrate to its sender: it keeps the one it had
        (until its next connection, which takes the room's), and the tutor is told."""
        kbps = message.get("kbps")
        if not isinstance(kbps, int) or isinstance(kbps, bool):
            raise ValidationFailed({"kbps": "Say which bitrate could not be applied."})
        await self.room.bitrate_failed(self.participant, kbps)

    async def on_record(self, message: dict[str, Any]) -> None:
        default = self.services.settings.video.default_bitrate_kbps
        async with self.services.transaction() as session:
            row = await service.set_consent(
                session, self.room.booking_id, self.room_pass.role, message.get("consent"), default
            )
            consent = service.consent_view(row)
        await self.room.broadcast({"type": "consent", **consent})
        await self.registry.sync_recording(self.room)

    async def on_end(self, message: dict[str, Any]) -> bool:
        if self.room_pass.role is RoomRole.STUDENT:
            raise Forbidden("Only the tutor ends the lesson.", code="tutor_only")
        async with self.services.transaction() as session:
            await service.end_lesson(
                session,
                self.room.booking_id,
                self.caller,
                timedelta(hours=self.services.settings.scheduling.dispute_window_hours),
            )
        await self.registry.close(self.room.booking_id, "ended")
        return True

    async def on_ping(self, message: dict[str, Any]) -> None:
        await self.connection.send({"type": "pong", "t": message.get("t")})

    async def on_leave(self, message: dict[str, Any]) -> bool:
        await self.connection.close(1000, "left")
        return True
