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
``recording`` {active}, ``peer_failed``, ``moved`` (the room's media process is gone: a new
``welcome`` follows from the process that takes the room over, and the browser makes a new peer
connection), ``ended`` {reason}, ``pong`` {t}, ``error`` {code, message, fields}.

Where the room lives is the app's choice (``ROOM_PLACEMENT``): in this process (a
``RoomRegistry``), or on a media process found through Redis, the messages relayed both ways by
``video.relay``. The messages are the same either way (``video.session``).

A participant who drops opens the socket again and is back (a second socket of the same person
replaces the first). ``/api/v1/rooms/echo`` answers pings for the pre-lesson network test.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from marketplace.errors import DomainError
from marketplace.web.access import Access, require_principal
from marketplace.web.services import Services
from scheduling import rooms as room_rules
from scheduling.rooms import RoomPass
from scheduling.service import Caller
from video.registry import RoomRegistry
from video.session import MessageGate, RoomSession, error_message

if TYPE_CHECKING:
    from video.relay import MediaRelay

    Rooms = RoomRegistry | MediaRelay

logger = logging.getLogger(__name__)

ECHO_LIMIT = 200


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


def _services(socket: WebSocket[Any, Any, Any]) -> Services:
    services: Services = socket.app.state.services
    return services


def rooms_of(app_state: Any) -> Rooms:
    """The app's rooms: a ``RoomRegistry`` (rooms in this process) or a ``MediaRelay``."""
    rooms: Rooms = app_state.rooms
    return rooms


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
    rooms = rooms_of(socket.app.state)
    caller = Caller(principal.id, principal.is_admin)
    if isinstance(rooms, RoomRegistry):
        await _serve_here(socket, services, rooms, room_pass, principal.full_name, caller)
    else:
        await rooms.serve(socket, room_pass, principal.full_name, caller)


async def _serve_here(
    socket: WebSocket[Any, Any, Any],
    services: Services,
    registry: RoomRegistry,
    room_pass: RoomPass,
    name: str,
    caller: Caller,
) -> None:
    """The room lives in this process: the socket feeds the participant's session directly."""
    room = await registry.open(room_pass)
    connection = SocketConnection(socket)
    participant = await room.join(room_pass, name, connection)
    session = RoomSession(services, registry, room, participant, room_pass, caller)
    gate = MessageGate()
    try:
        await session.welcome()
        while True:
            raw = await socket.receive_text()
            try:
                checked = gate.check(raw)
            except DomainError as exc:
                await connection.send(error_message(exc.code, exc.message, exc.fields))
                continue
            if isinstance(checked, tuple):
                await connection.close(*checked)
                return
            if await session.handle(checked):
                return
    except WebSocketDisconnect:
        pass
    finally:
        await room.leave(participant)


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
