"""Lesson room pages: the room, the pre-lesson check, the recording file, and the recording
panel of the lesson page (``scheduling/lesson.html`` shows the panels the app wires in)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import File, Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.errors import DomainError
from marketplace.settings import BITRATES_KBPS
from marketplace.web.access import Access, require_principal
from marketplace.web.fragments import Fragment
from marketplace.web.services import Services
from marketplace.web.templating import page
from scheduling import rooms as room_rules
from scheduling.models import Booking
from scheduling.service import Caller, booking_for
from video import sdp, service

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


async def _names(session: AsyncSession, booking: Booking) -> tuple[str, str]:
    tutor = await session.get(User, booking.tutor_id)
    student = await session.get(User, booking.student_id)
    return (tutor.full_name if tutor else "", student.full_name if student else "")


@get("/lessons/{booking_id:int}/room", access=Access.USER, include_in_schema=False)
async def room_page(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Template:
    principal = require_principal(request)
    services = _services(request)
    now = datetime.now(UTC)
    async with services.sessions() as session:
        try:
            room_pass = await room_rules.room_pass(
                session,
                booking_id,
                user_id=principal.id,
                is_admin=principal.is_admin,
                now=now,
                settings=services.settings.scheduling,
            )
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            return page(
                request,
                "video/room_closed.html",
                status_code=exc.status_code,
                booking_id=booking_id,
                code=exc.code,
                message=exc.message,
                opens_at=exc.fields.get("opens_at"),
            )
        booking = await session.get(Booking, booking_id)
        assert booking is not None
        tutor_name, student_name = await _names(session, booking)
        choice = await service.room_choice(session, booking_id)
    kbps = choice.bitrate_kbps if choice else services.settings.video.default_bitrate_kbps
    return page(
        request,
        "video/room.html",
        booking_id=booking_id,
        role=room_pass.role.value,
        tutor_name=tutor_name,
        student_name=student_name,
        bitrate_kbps=kbps,
        bitrates=BITRATES_KBPS,
        fmtp=sdp.format_fmtp(sdp.music_fmtp(kbps)),
        ends_at=room_pass.ends_at,
        closes_at=room_pass.closes_at,
        zone=principal.time_zone,
    )


@get("/lessons/{booking_id:int}/check", access=Access.USER, include_in_schema=False)
async def check_page(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Template:
    """Choose devices, see the input level, test the network; any time before the room closes."""
    principal = require_principal(request)
    services = _services(request)
    async with services.sessions() as session:
        booking = await booking_for(session, booking_id, Caller(principal.id, principal.is_admin))
        state = await room_rules.current_state(
            session, booking, datetime.now(UTC), services.settings.scheduling
        )
        window = room_rules.room_window(booking, services.settings.scheduling)
    return page(
        request,
        "video/check.html",
        booking_id=booking_id,
        room_state=state.value,
        opens_at=window.opens_at,
        zone=principal.time_zone,
    )


@get("/lessons/{booking_id:int}/recording", access=Access.USER, include_in_schema=False)
async def recording_file(
    request: Request[Any, Any, Any], booking_id: FromPath[int]
) -> File | Stream | Response[str]:
    """The lesson's recording, for its tutor and student (and admins) only. Byte ranges are
    served too, so a player can seek in an hour-long lesson without downloading it all."""
    principal = require_principal(request)
    services = _services(request)
    async with services.sessions() as session:
        booking = await booking_for(session, booking_id, Caller(principal.id, principal.is_admin))
        path = await service.recording_file(
            session, booking.id, services.settings.video.recordings_root
        )
    headers = {"Cache-Control": "private, max-age=3600", "Accept-Ranges": "bytes"}
    size = path.stat().st_size
    wanted = byte_range(request.headers.get("range"), size)
    if wanted is None:
        return File(
            path=path,
            filename=f"duet-lesson-{booking_id}.webm",
            media_type="video/webm",
            content_disposition_type="inline",
            headers=headers,
        )
    if wanted == (-1, -1):
        return Response(
            "", status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"}
        )
    start, end = wanted
    return Stream(
        _read(path, start, end),
        status_code=206,
        media_type="video/webm",
        headers={
            **headers,
            "Content-Range": f"bytes {start}-{end}/{size}",
            "Content-Length": str(end - start + 1),
        },
    )


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single ``bytes=`` range; None to send it all; (-1, -1) when the
    range cannot be satisfied."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if first == "":
            length = int(last)
            start, end = max(0, size - length), size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    if start > end or start >= size:
        return (-1, -1)
    return start, end


async def _read(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    chunk = 256 * 1024
    with path.open("rb") as handle:
        handle.seek(start)
        left = end - start + 1
        while left > 0:
            data = await asyncio.to_thread(handle.read, min(chunk, left))
            if not data:
                return
            left -= len(data)
            yield data


def recording_fragment(retention_days: int) -> Fragment:
    """The lesson page's recording section, when the lesson has (or had) a recording (the
    lesson page itself is shown only to the lesson's people)."""

    async def load(
        request: Any, session: AsyncSession, subject: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        booking = await session.get(Booking, int(subject["booking_id"]))
        if booking is None:
            return None
        view = await service.recording_view(session, booking, retention_days)
        if view is None:
            return None
        return {"recording": view, "booking_id": booking.id}

    return Fragment("video/_recording_panel.html", load)


ROUTES = [room_page, check_page, recording_file]
