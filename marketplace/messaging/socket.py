"""The messaging WebSocket: ``/ws/messages``, one per open tab, authenticated like pages.

The browser's session cookie (or a bearer token) authenticates the handshake; the app-wide
access guard refuses anyone else before the socket is accepted. A handshake from another
origin is refused too (browsers send cookies with cross-site WebSocket handshakes).

Client → server frames (JSON):
  {"type": "sync", "conversation_id": 7, "after_seq": 41}   catch up after (re)connecting
  {"type": "send", "conversation_id": 7, "body": "…", "client_id": "…"}   post a message
  {"type": "typing", "conversation_id": 7}                  at most every few seconds
  {"type": "read", "conversation_id": 7, "seq": 42}         read up to 42
  {"type": "ping"}

Server → client: ``hello`` (unread total), ``message``, ``messages`` (a sync answer, with
``more`` when the client should ask again), ``typing``, ``read``, ``unread``, ``conversation``
(blocked/private changed), ``degraded`` (poll: pub/sub is down), ``resync`` (catch up now),
``error`` (``code``, ``message``, ``client_id``), ``pong``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any, cast
from urllib.parse import urlsplit

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect, WebSocketException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send, WebSocketSendEvent
from sqlalchemy import select

from marketplace.accounts.models import AuthToken
from marketplace.errors import DomainError, RateLimited
from marketplace.messaging import live, service
from marketplace.messaging.presenters import message_out
from marketplace.messaging.service import Viewer
from marketplace.web.access import Access, Principal, require_principal
from marketplace.web.services import Services

logger = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024
FRAMES_PER_SECOND = 30  # far above a person typing and reading; a flood is told to slow down
TOKEN_RECHECK_SECONDS = 60
TYPING_EVERY = 2.0
MEMBERSHIP_TTL = 30.0
SYNC_PAGE = 200
FRAME_SEND = "duet.frame_send"


class FrameSendMiddleware(ASGIMiddleware):
    """Keeps a socket's ``send`` as the app's middleware pass it on (spans and metrics when
    configured included), so the socket's frames skip the wrappers Litestar adds around each
    handler and connection, which only watch for an HTTP response's start. Listed last."""

    scopes = ("websocket",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope[FRAME_SEND] = send  # type: ignore[literal-required]
        await next_app(scope, receive, send)


@websocket("/ws/messages", access=Access.USER)
async def messages_socket(socket: WebSocket[Any, Any, Any]) -> None:
    principal = require_principal(socket)
    if not _same_origin(socket):
        raise WebSocketException(detail="Cross-origin socket refused.", code=4403)
    services: Services = socket.app.state.services
    await socket.accept()
    session = _Session(socket, services, principal)
    await session.run()


def _same_origin(socket: WebSocket[Any, Any, Any]) -> bool:
    origin = socket.headers.get("origin")
    if not origin:
        return True  # not a browser (API clients, the benchmark): no ambient cookies to abuse
    services: Services = socket.app.state.services
    allowed = {urlsplit(services.settings.web.base_url).netloc}
    if host := socket.headers.get("host"):
        allowed.add(host)
    return urlsplit(origin).netloc in allowed


class _Session:
    def __init__(
        self, socket: WebSocket[Any, Any, Any], services: Services, principal: Principal
    ) -> None:
        self.socket = socket
        self.services = services
        self.principal = principal
        self.viewer = Viewer(principal.id, principal.roles, principal.is_admin)
        self._members: dict[int, tuple[int, bool, float]] = {}  # cid → (other, blocked, when)
        self._typed: dict[int, float] = {}

    async def run(self) -> None:
        hub = self.services.hub
        async with hub.subscribe(
            [live.channel(self.principal.id)], user_id=self.principal.id
        ) as sub:
            self.sub = sub
            async with self.services.sessions() as db:
                total = await service.unread_total(db, self.principal.id)
            sub.put(_dump({"type": "hello", "user_id": self.principal.id, "unread_total": total}))
            tasks = {
                asyncio.create_task(self._read()),
                asyncio.create_task(self._write()),
                asyncio.create_task(self._watch_token()),
            }
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    exc = task.exception()
                    if exc is not None and not _is_disconnect(exc):
                        logger.warning("messaging socket ended: %r", exc)
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        with contextlib.suppress(Exception):
            await self.socket.close()

    async def _write(self) -> None:
        send = cast(Send | None, self.socket.scope.get(FRAME_SEND)) or self.socket.send
        while True:
            await send(_frame(await self.sub.get()))
            # Flush whatever else is waiting without a round through the event loop each time.
            while (more := self.sub.get_nowait()) is not None:
                await send(_frame(more))

    async def _watch_token(self) -> None:
        """Logging out (or a revoked token) ends open sockets too, within a minute."""
        while True:
            await asyncio.sleep(TOKEN_RECHECK_SECONDS)
            if not await self._token_alive():
                await self.socket.close(code=4401, reason="Logged out.")
                return

    async def _token_alive(self) -> bool:
        async with self.services.sessions() as db:
            token = await db.scalar(
                select(AuthToken).where(AuthToken.id == self.principal.token_id)
            )
        if token is None or token.revoked_at is not None:
            return False
        return token.expires_at is None or token.expires_at.timestamp() > time.time()

    async def _read(self) -> None:
        window, count = 0, 0
        while True:
            text = await self.socket.receive_text()
            now = int(time.monotonic())
            window, count = (window, count + 1) if now == window else (now, 1)
            if count > FRAMES_PER_SECOND:
                if count == FRAMES_PER_SECOND + 1:
                    self._error("slow_down", "Too many frames; wait a moment.", retry_after=1)
                continue
            if len(text) > MAX_FRAME:
                self._error("frame_too_large", "Frames are at most 64 KB.")
                continue
            try:
                frame = json.loads(text)
            except ValueError:
                self._error("malformed_json", "The frame is not valid JSON.")
                continue
            if not isinstance(frame, dict):
                self._error("malformed_frame", "Send a JSON object.")
                continue
            try:
                await self._handle(frame)
            except RateLimited as exc:
                self._error(exc.code, exc.message, frame, retry_after=exc.retry_after)
            except DomainError as exc:
                self._error(exc.code, exc.message, frame, fields=exc.fields)
            except (KeyError, TypeError, ValueError):
                self._error("malformed_frame", "A field is missing or has the wrong type.", frame)
            except Exception:
                # One failing frame (a database hiccup) must not drop the connection.
                logger.exception("messaging socket: frame %r failed", frame.get("type"))
                self._error("internal_error", "That did not work; please try again.", frame)

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "send":
            await live.send(
                self.services,
                self.viewer,
                _int(frame["conversation_id"]),
                _str(frame.get("body", "")),
                booking_id=_opt_int(frame.get("booking_id")),
                attachment_ids=[_int(a) for a in frame.get("attachment_ids") or []],
                client_id=_str(frame.get("client_id", "")),
            )
        elif kind == "sync":
            await self._sync(_int(frame["conversation_id"]), _int(frame.get("after_seq", 0)))
        elif kind == "typing":
            await self._typing(_int(frame["conversation_id"]))
        elif kind == "read":
            cid = _int(frame["conversation_id"])
            await live.read(self.services, self.viewer, cid, _opt_int(frame.get("seq")))
        elif kind == "ping":
            self.sub.put(_dump({"type": "pong"}))
        else:
            self._error("unknown_frame", "Unknown frame type.", frame)

    async def _sync(self, conversation_id: int, after_seq: int) -> None:
        async with self.services.sessions() as db:
            thread = await service.thread(db, conversation_id, self.viewer)
            rows, more = await service.messages(
                db, conversation_id, after_seq=max(after_seq, 0), limit=SYNC_PAGE
            )
            files = await service.attachments_of(db, [m.id for m in rows])
            booking_ids = sorted({m.booking_id for m in rows if m.booking_id})
            bookings = {}
            if booking_ids:
                c = thread.conversation
                refs = await self.services.booking_facts.bookings_between(
                    db, c.student_id, c.tutor_id, booking_ids
                )
                bookings = {b.id: b for b in refs}
        self._members[conversation_id] = (thread.other.id, thread.blocked, time.monotonic())
        items = [
            msgspec.to_builtins(
                message_out(m, files.get(m.id, []), bookings.get(m.booking_id or 0))
            )
            for m in rows
        ]
        self.sub.put(
            _dump(
                {
                    "type": "messages",
                    "conversation_id": conversation_id,
                    "items": items,
                    "more": more,
                    "last_seq": thread.conversation.last_seq,
                    "their_read_seq": thread.their_read_seq,
                    "blocked": thread.blocked,
                }
            )
        )

    async def _typing(self, conversation_id: int) -> None:
        now = time.monotonic()
        if now - self._typed.get(conversation_id, 0.0) < TYPING_EVERY:
            return  # a chatty client is throttled silently: typing is a hint, not data
        self._typed[conversation_id] = now
        other, blocked = await self._membership(conversation_id)
        if blocked:
            return
        await self.services.hub.publish(
            [live.channel(other)],
            {
                "type": "typing",
                "conversation_id": conversation_id,
                "user_id": self.principal.id,
                "name": self.principal.full_name,
            },
        )

    async def _membership(self, conversation_id: int) -> tuple[int, bool]:
        cached = self._members.get(conversation_id)
        if cached and time.monotonic() - cached[2] < MEMBERSHIP_TTL:
            return cached[0], cached[1]
        async with self.services.sessions() as db:
            thread = await service.thread(db, conversation_id, self.viewer)
        if thread.as_admin:
            raise service.Blocked("Admins read reported conversations; they do not write.")
        self._members[conversation_id] = (thread.other.id, thread.blocked, time.monotonic())
        return thread.other.id, thread.blocked

    def _error(
        self, code: str, message: str, frame: dict[str, Any] | None = None, **extra: Any
    ) -> None:
        event: dict[str, Any] = {"type": "error", "code": code, "message": message, **extra}
        if frame is not None:
            event["client_id"] = frame.get("client_id", "")
            event["frame"] = frame.get("type", "")
        self.sub.put(_dump(event))


def _is_disconnect(exc: BaseException) -> bool:
    # The client went away: Litestar's exception, or the server's when a send finds it gone.
    return isinstance(exc, WebSocketDisconnect | OSError) or type(exc).__name__ in {
        "ClientDisconnected",
        "ConnectionClosed",
    }


def _frame(text: str) -> WebSocketSendEvent:
    return {"type": "websocket.send", "text": text, "bytes": None}


def _dump(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), default=str)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an integer")
    return value


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value
