"""Who may join which room, and when: everyone else is refused with 403."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import websockets
from litestar.testing import TestClient

from scheduling.lifecycle import State
from tests.scheduling.helpers import sql
from tests.video.lessons import make_lesson
from tests.video.peers import RoomClient
from tests.video.server import LiveRoomServer

pytestmark = pytest.mark.slow


async def refused(
    server: LiveRoomServer, booking_id: int, token: str | None, **headers: str
) -> int:
    url = server.url.replace("http://", "ws://") + f"/lessons/{booking_id}/room/ws"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(url, additional_headers=headers):
            pass
    return int(info.value.response.status_code)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_only_the_lessons_tutor_and_student_get_in(
    room_server: LiveRoomServer, database_url: str
) -> None:
    lesson = await make_lesson(database_url)
    assert await refused(room_server, lesson.booking_id, lesson.outsider) == 403
    assert await refused(room_server, lesson.booking_id, lesson.admin) == 403  # observe is off
    assert await refused(room_server, lesson.booking_id, None) == 403
    # A page on another site cannot open the room with the visitor's cookie.
    evil = {"Origin": "https://evil.example"}
    assert await refused(room_server, lesson.booking_id, lesson.tutor, **evil) == 403
    for token in (lesson.tutor, lesson.student):
        client = RoomClient(room_server.url, lesson.booking_id, token)
        welcome = await client.connect()
        assert welcome["type"] == "welcome"
        await client.close()


@pytest.mark.parametrize(
    ("starts_in", "status", "code"),
    [
        (timedelta(minutes=11), State.CONFIRMED, "room_not_open"),  # opens 10 minutes before
        (timedelta(minutes=-76), State.CONFIRMED, "room_closed"),  # closed 15 minutes after
        (timedelta(minutes=-2), State.HELD, "lesson_not_confirmed"),
        (timedelta(minutes=-2), State.CANCELLED_BY_TUTOR, "room_closed"),
    ],
)
async def test_out_of_window_and_unconfirmed_lessons_have_no_open_room(
    room_server: LiveRoomServer,
    database_url: str,
    client: TestClient[Any],
    starts_in: timedelta,
    status: State,
    code: str,
) -> None:
    lesson = await make_lesson(database_url, starts_in=starts_in, minutes=60, status=status)
    assert await refused(room_server, lesson.booking_id, lesson.tutor) == 403
    assert await refused(room_server, lesson.booking_id, lesson.student) == 403
    response = client.get(
        f"/api/v1/bookings/{lesson.booking_id}/room", headers=bearer(lesson.tutor)
    )
    assert response.status_code == 403 and response.json()["code"] == code
    page = client.get(f"/lessons/{lesson.booking_id}/room", headers=bearer(lesson.student))
    assert page.status_code == 403


async def test_the_room_is_open_from_ten_minutes_before_to_fifteen_after(
    database_url: str, client: TestClient[Any]
) -> None:
    for starts_in, minutes in ((timedelta(minutes=9), 30), (timedelta(minutes=-44), 30)):
        lesson = await make_lesson(database_url, starts_in=starts_in, minutes=minutes)
        response = client.get(
            f"/api/v1/bookings/{lesson.booking_id}/room", headers=bearer(lesson.student)
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["role"] == "student" and body["bitrate_kbps"] == 192
        assert body["music_fmtp"]["stereo"] == "1"
    other = await make_lesson(database_url)
    response = client.get(f"/api/v1/bookings/{other.booking_id}/room", headers=bearer(lesson.tutor))
    assert response.status_code == 403 and response.json()["code"] == "not_in_lesson"
    assert (
        client.get("/api/v1/bookings/999999/room", headers=bearer(lesson.tutor)).status_code == 404
    )


async def test_the_tutor_ends_the_lesson_through_the_lifecycle(
    room_server: LiveRoomServer, database_url: str, client: TestClient[Any]
) -> None:
    lesson = await make_lesson(database_url, starts_in=timedelta(minutes=-20), minutes=60)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    try:
        await tutor.connect()
        await student.connect()
        await student.send({"type": "end"})
        await student.wait_for(lambda: bool(student.of_type("error")))
        assert student.of_type("error")[0]["code"] == "tutor_only"
        await tutor.send({"type": "end"})
        await student.wait_for(lambda: bool(student.of_type("ended")))
        assert student.of_type("ended")[0]["reason"] == "ended"
    finally:
        await asyncio.gather(tutor.close(), student.close())
    rows = sql(
        client,
        "SELECT b.status, t.event, t.actor FROM bookings b JOIN booking_transitions t "
        "ON t.booking_id = b.id WHERE b.id = $1",
        lesson.booking_id,
    )
    assert [(r["status"], r["event"], r["actor"]) for r in rows] == [
        ("completed", "end_lesson", "tutor")
    ]
    # The room stays closed, though its window has not ended.
    assert await refused(room_server, lesson.booking_id, lesson.student) == 403
    response = client.get(
        f"/api/v1/bookings/{lesson.booking_id}/room", headers=bearer(lesson.tutor)
    )
    assert response.json()["code"] == "room_closed"
