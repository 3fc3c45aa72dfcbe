"""Signaling over a WebSocket, authenticated by the session cookie (or a bearer token).

``/lessons/{id}/room/ws``: the handshake is refused (HTTP 403) unless the caller may be in the
room now (``scheduling.rooms``) and the page's Origin is ours. Then JSON messages, each with a
``type``:

from the browser: ``offer`` {sdp} (a new peer connection each time: first join, ICE restart
after a network change), ``candidate`` {candidate, sdpMid, sdpMLineIndex},
``state`` {muted, camera, mode}, ``chat`` {text}, ``bitrate`` {kbps} (tutor),
``bitrate_failed`` {kbps} (the browser could not apply it), ``record`` {consent}, ``end``
(tutor), ``ping`` {t};

from the server: ``welcome``, ``answer`` {sdp}, ``participant``, ``left``, ``chat``,
``bitrate`` (applied by each browser to its sender, without a new offer), ``bitrate_failed``
{user_id, name, kbps} (to the tutor), ``loss`` {uplink} (every 2 s), ``consent``,
``recording`` {active}, ``peer_failed``, ``ended`` {reason}, ``pong`` {t}, ``error`` {code,
message, fields}.

A participant who drops opens the socket again and is back (a second socket of the same person
replaces the first). ``/api/v1/rooms/echo`` answers pings for the pre-lesson network test.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from marketplace.errors import DomainError, Forbidden, ValidationFailed
from marketplace.web.access import Access, Principal, require_principal
from marketplace.web.services import Services
from scheduling import rooms as room_rules
from scheduling.rooms import RoomPass, RoomRole
from scheduling.service import Caller
from video import sdp, service
from video.registry import RoomRegistry

if TYPE_CHECKING:
    from video.room import Participant, Room

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 96 * 1024
ECHO_LIMIT = 200
MAX_CHAT_CHARS = 1000  # one chat line in a lesson room


class SocketConnection:
    """Serialises sends: broadcasts from other participants' tasks share one socket."""

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self.socket = socket
        self._lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self._lock:
            await self.socket.send_text(json.dumps(message))

    async def close(self, code: int, reason: str) -> None:
        async with self._lock:
            await self.socket.close(code=code, reason=reason)


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


def _services(socket: WebSocket[Any, Any, Any]) -> Services:
    services: Services = socket.app.state.services
    return services


def registry_of(app_state: Any) -> RoomRegistry:
    registry: RoomRegistry = app_state.rooms
    return registry


def origin_allowed(socket: WebSocket[Any, Any, Any], base_url: str) -> bool:
    """Browsers send Origin: it must be this site (API clients send none)."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True
    host = socket.headers.get("host", "")
    allowed = {urlsplit(base_url).netloc, host}
    return urlsplit(origin).netloc in allowed


@websocket("/lessons/{booking_id:int}/room/ws", access=Access.USER)
async def room_socket(socket: WebSocket[Any, Any, Any], booking_id: FromPath[int]) -> None:
    services = _services(socket)
    settings = services.settings
    principal = require_principal(socket)
    if not origin_allowed(socket, settings.web.base_url):
        await socket.close(code=4403, reason="origin_not_allowed")
        return
    try:
        async with services.sessions() as session:
            room_pass = await room_rules.room_pass(
                session,
                booking_id,
                user_id=principal.id,
                is_admin=principal.is_admin,
                now=datetime.now(UTC),
                settings=settings.scheduling,
            )
    except DomainError as exc:
        # Closing before accepting refuses the handshake: the client sees HTTP 403.
        await socket.close(code=4000 + exc.status_code, reason=exc.code)
        return
    await socket.accept()
    registry = registry_of(socket.app.state)
    room = await registry.open(room_pass)
    connection = SocketConnection(socket)
    participant = await room.join(room_pass, principal.full_name, connection)
    session_handler = _Session(services, registry, room, participant, room_pass, principal)
    try:
        await session_handler.welcome()
        await session_handler.run(socket)
    except WebSocketDisconnect:
        pass
    finally:
        await room.leave(participant)


class _Session:
    """One participant's signaling, message by message."""

    def __init__(
        self,
        services: Services,
        registry: RoomRegistry,
        room: Room,
        participant: Participant,
        room_pass: RoomPass,
        principal: Principal,
    ) -> None:
        self.services = services
        self.registry = registry
        self.room = room
        self.participant = participant
        self.room_pass = room_pass
        self.principal = principal
        self.connection = participant.connection
        self.bucket = TokenBucket(rate=20, burst=60)
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

    async def run(self, socket: WebSocket[Any, Any, Any]) -> None:
        while True:
            raw = await socket.receive_text()
            if not self.bucket.take():
                await self.connection.close(1008, "too_many_messages")
                return
            if len(raw) > MAX_MESSAGE_CHARS:
                await self.connection.close(1009, "message_too_big")
                return
            try:
                message = json.loads(raw)
                if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                    raise ValidationFailed({"type": "Send a JSON object with a type."})
                done = await self.dispatch(message)
            except json.JSONDecodeError:
                await self._error("malformed_json", "Send JSON messages.")
                continue
            except DomainError as exc:
                await self._error(exc.code, exc.message, exc.fields)
                continue
            except WebSocketDisconnect:
                raise
            except Exception:
                # A bug must not throw the participant out of the lesson: log it, say so.
                logger.exception("room message %r failed", message.get("type"))
                await self._error("internal_error", "That did not work. Please try again.")
                continue
            if done:
                return

    async def _error(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        await self.connection.send(
            {"type": "error", "code": code, "message": message, "fields": fields or {}}
        )

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
                Caller(self.principal.id, self.principal.is_admin),
                timedelta(hours=self.services.settings.scheduling.dispute_window_hours),
            )
        await self.registry.close(self.room.booking_id, "ended")
        return True

    async def on_ping(self, message: dict[str, Any]) -> None:
        await self.connection.send({"type": "pong", "t": message.get("t")})

    async def on_leave(self, message: dict[str, Any]) -> bool:
        await self.connection.close(1000, "left")
        return True


@websocket("/api/v1/rooms/echo", access=Access.USER)
async def echo_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """The pre-lesson check's network test: echo up to ``ECHO_LIMIT`` pings, then close."""
    services = _services(socket)
    if not origin_allowed(socket, services.settings.web.base_url):
        await socket.close(code=4403, reason="origin_not_allowed")
        return
    await socket.accept()
    try:
        for _ in range(ECHO_LIMIT):
            raw = await socket.receive_text()
            await socket.send_text(raw[:200])
        await socket.close(code=1000, reason="enough")
    except WebSocketDisconnect:
        pass


ROUTES = [room_socket, echo_socket]
