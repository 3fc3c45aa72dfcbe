"""The lesson room's JSON API: may I join (and how), end the lesson, the recording, and an
operator's view of open rooms. Signaling itself is the WebSocket in ``video.signaling``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter

from marketplace.web.access import Access, require_principal
from marketplace.web.services import Services
from scheduling import rooms as room_rules
from scheduling.service import Caller, booking_for
from video import sdp, service
from video.registry import RoomRegistry
from video.signaling import rooms_of


class RoomInfo(msgspec.Struct):
    booking_id: int
    role: str
    opens_at: datetime
    closes_at: datetime
    starts_at: datetime
    ends_at: datetime
    bitrate_kbps: int
    music_fmtp: dict[str, str]
    websocket: str


class RecordingOut(msgspec.Struct):
    status: str
    url: str | None
    duration_seconds: float | None
    deletes_on: datetime | None


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


@get("/api/v1/bookings/{booking_id:int}/room", access=Access.USER, tags=["lesson room"])
async def room_info(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> RoomInfo:
    """May the caller join this lesson's room now? 403 names why not (``room_not_open`` with
    ``opens_at``, ``room_closed``, ``not_in_lesson``, ``lesson_not_confirmed``)."""
    principal = require_principal(request)
    services = _services(request)
    async with services.sessions() as session:
        room_pass = await room_rules.room_pass(
            session,
            booking_id,
            user_id=principal.id,
            is_admin=principal.is_admin,
            now=datetime.now(UTC),
            settings=services.settings.scheduling,
        )
        choice = await service.room_choice(session, booking_id)
    kbps = choice.bitrate_kbps if choice else services.settings.video.default_bitrate_kbps
    return RoomInfo(
        booking_id=booking_id,
        role=room_pass.role.value,
        opens_at=room_pass.opens_at,
        closes_at=room_pass.closes_at,
        starts_at=room_pass.starts_at,
        ends_at=room_pass.ends_at,
        bitrate_kbps=kbps,
        music_fmtp=sdp.music_fmtp(kbps),
        websocket=f"/lessons/{booking_id}/room/ws",
    )


@post(
    "/api/v1/bookings/{booking_id:int}/room/end",
    access=Access.USER,
    tags=["lesson room"],
    status_code=204,
)
async def end_lesson(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> None:
    """The tutor ends the lesson (confirmed → completed) and the room closes."""
    principal = require_principal(request)
    services = _services(request)
    async with services.transaction() as session:
        await service.end_lesson(
            session,
            booking_id,
            Caller(principal.id, principal.is_admin),
            timedelta(hours=services.settings.scheduling.dispute_window_hours),
        )
    await rooms_of(request.app.state).close(booking_id, "ended")


@get("/api/v1/bookings/{booking_id:int}/recording", access=Access.USER, tags=["lesson room"])
async def recording(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> RecordingOut:
    principal = require_principal(request)
    services = _services(request)
    async with services.sessions() as session:
        booking = await booking_for(session, booking_id, Caller(principal.id, principal.is_admin))
        view = await service.recording_view(
            session, booking, services.settings.video.recording_retention_days
        )
    if view is None:
        return RecordingOut(status="none", url=None, duration_seconds=None, deletes_on=None)
    return RecordingOut(
        status=view.status,
        url=view.url,
        duration_seconds=view.duration_seconds,
        deletes_on=view.deletes_on,
    )


@get("/api/v1/admin/rooms", access=Access.ADMIN, tags=["lesson room"])
async def open_rooms(
    request: Request[Any, Any, Any],
    since: Annotated[
        int, QueryParameter(ge=0, description="forwarded_packets of an earlier call")
    ] = 0,
    window: Annotated[
        float, QueryParameter(gt=0, le=600, description="seconds of event loop lag to report")
    ] = 60,
) -> dict[str, Any]:
    """Operators: open rooms, who is in them, packets per second in and out of each room, the
    server's added delay per forwarded packet (p50/p99, from packet in to its RTP out) over the
    packets since ``since``, and how late the event loop ran its timers over the last
    ``window`` seconds. With rooms on media processes: each process (its rooms, capacity and
    CPU) and each room's ``media_process``, as the processes last reported them (every 2 s)."""
    rooms = rooms_of(request.app.state)
    if isinstance(rooms, RoomRegistry):
        return {"placement": "local", **rooms.snapshot(since, window)}
    return await rooms.snapshot()


ROUTES = [room_info, end_lesson, recording, open_rooms]
