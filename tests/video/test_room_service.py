"""Room use cases on the database: bitrate choice, ending through the API, retention, orphaned
recordings, the lesson page's room card, and the demo lesson."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import ANY

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.seed.demo_data import demo_students, demo_tutors
from marketplace.seed.load import run_extras, seed_demo
from marketplace.settings import Settings
from marketplace.uow import _JOBS_KEY
from scheduling.models import Booking
from tests.scheduling.helpers import sql
from tests.video.lessons import make_lesson
from tests.video.peers import RoomClient
from tests.video.server import LiveRoomServer
from video import service
from video.demo import seed_demo_lesson
from video.models import LessonRoom, Recording, RecordingTrack


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_tutor_chooses_the_bitrate_and_hears_when_a_browser_cannot_apply_it(
    room_server: LiveRoomServer, database_url: str
) -> None:
    lesson = await make_lesson(database_url)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    try:
        await tutor.connect()
        await student.connect()
        await student.send({"type": "bitrate", "kbps": 320})
        await tutor.send({"type": "bitrate", "kbps": 200})
        await student.wait_for(lambda: bool(student.of_type("error")))
        await tutor.wait_for(lambda: bool(tutor.of_type("error")))
        assert student.of_type("error")[0]["code"] == "tutor_only"
        assert tutor.of_type("error")[0]["code"] == "validation_failed"
        await tutor.send({"type": "bitrate", "kbps": 320})
        await student.wait_for(lambda: bool(student.of_type("bitrate")))
        assert student.of_type("bitrate")[0]["kbps"] == 320
        # The student's browser could not apply it to its sender: the tutor is told who.
        await student.send({"type": "bitrate_failed", "kbps": "320"})
        await student.wait_for(lambda: len(student.of_type("error")) == 2)
        assert student.of_type("error")[1]["fields"] == {"kbps": ANY}
        await student.send({"type": "bitrate_failed", "kbps": 320})
        await tutor.wait_for(lambda: bool(tutor.of_type("bitrate_failed")))
        notice = tutor.of_type("bitrate_failed")[0]
        assert notice["user_id"] == lesson.student_id and notice["kbps"] == 320
        assert not student.of_type("bitrate_failed")
        # A new offer now gets the new bitrate in its answer, and a rejoin keeps it.
        again = RoomClient(room_server.url, lesson.booking_id, lesson.student)
        welcome = await again.connect()
        assert welcome["bitrate_kbps"] == 320
        assert welcome["music_fmtp"]["maxaveragebitrate"] == "320000"
        await again.close()
    finally:
        await asyncio.gather(tutor.close(), student.close())


async def test_messages_are_validated(room_server: LiveRoomServer, database_url: str) -> None:
    lesson = await make_lesson(database_url)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    try:
        await student.connect()
        await student.ws.send("not json")
        await student.send({"type": "teleport"})
        await student.send({"type": "chat", "text": "x" * 1001})
        await student.send({"type": "offer", "sdp": "hello"})
        await student.send({"type": "state", "muted": "yes"})
        await student.wait_for(lambda: len(student.of_type("error")) == 5)
        codes = [m["code"] for m in student.of_type("error")]
        assert codes == [
            "malformed_json",
            "validation_failed",
            "validation_failed",
            "bad_offer",
            "validation_failed",
        ]
        await student.send({"type": "chat", "text": "  hello  "})
        await student.wait_for(lambda: bool(student.of_type("chat")))
        assert student.of_type("chat")[0]["text"] == "hello"
    finally:
        await student.close()


def test_end_lesson_over_the_api_is_the_tutors(client: TestClient[Any], database_url: str) -> None:
    from tests.helpers import run_async

    lesson = run_async(make_lesson(database_url, starts_in=timedelta(minutes=-30)))
    url = f"/api/v1/bookings/{lesson.booking_id}/room/end"
    assert client.post(url, headers=bearer(lesson.student)).status_code == 403
    assert client.post(url, headers=bearer(lesson.outsider)).status_code == 404
    assert client.post(url, headers=bearer(lesson.tutor)).status_code == 204
    [row] = sql(client, "SELECT status FROM bookings WHERE id = $1", lesson.booking_id)
    assert row["status"] == "completed"
    early = run_async(make_lesson(database_url, starts_in=timedelta(minutes=5)))
    response = client.post(
        f"/api/v1/bookings/{early.booking_id}/room/end", headers=bearer(early.tutor)
    )
    assert response.status_code == 409 and response.json()["code"] == "too_early"


def test_the_lesson_page_shows_the_room_at_the_right_time(
    client: TestClient[Any], database_url: str
) -> None:
    from tests.helpers import run_async

    now_lesson = run_async(make_lesson(database_url, starts_in=timedelta(minutes=8)))
    later = run_async(make_lesson(database_url, starts_in=timedelta(hours=2)))
    for token in (now_lesson.tutor, now_lesson.student):
        page = client.get(f"/lessons/{now_lesson.booking_id}", headers=bearer(token))
        assert 'data-testid="join-lesson"' in page.text
    page = client.get(f"/lessons/{later.booking_id}", headers=bearer(later.student))
    assert 'data-testid="join-lesson"' not in page.text and "The room opens at" in page.text
    listed = client.get("/lessons", headers=bearer(now_lesson.student))
    assert f'href="/lessons/{now_lesson.booking_id}/room"' in listed.text
    listed = client.get("/lessons", headers=bearer(later.student))
    assert "/room" not in listed.text
    check = client.get(f"/lessons/{later.booking_id}/check", headers=bearer(later.student))
    assert check.status_code == 200 and "headphones" in check.text
    room = client.get(f"/lessons/{later.booking_id}/room", headers=bearer(later.student))
    assert room.status_code == 403


async def _recording(
    sessions: async_sessionmaker[AsyncSession], booking_id: int, status: str
) -> int:
    async with sessions() as session, session.begin():
        row = Recording(booking_id=booking_id, status=status, file_key=None)
        session.add(row)
        await session.flush()
        return row.id


async def test_retention_deletes_old_recordings_and_orphans_are_finished(
    sessions: async_sessionmaker[AsyncSession], database_url: str, settings: Settings
) -> None:
    root = settings.video.recordings_root
    old = await make_lesson(database_url, starts_in=timedelta(days=-40))
    recent = await make_lesson(database_url, starts_in=timedelta(days=-2))
    orphan = await make_lesson(database_url, starts_in=timedelta(hours=-3))
    old_id = await _recording(sessions, old.booking_id, "ready")
    recent_id = await _recording(sessions, recent.booking_id, "ready")
    orphan_id = await _recording(sessions, orphan.booking_id, "recording")
    for rid in (old_id, recent_id):
        (root / str(rid)).mkdir(parents=True)
        (root / str(rid) / "lesson.webm").write_bytes(b"webm")
    async with sessions() as session, session.begin():
        session.add(
            RecordingTrack(
                recording_id=orphan_id,
                user_id=orphan.tutor_id,
                kind="audio",
                file_key=f"{orphan_id}/tracks/a.ogg",
                started_at=datetime.now(UTC) - timedelta(hours=3),
            )
        )
    async with sessions() as session, session.begin():
        done = await service.sweep(session, settings, datetime.now(UTC))
        jobs = list(session.info.get(_JOBS_KEY, []))
    assert done == {"finished": 1, "deleted": 1}
    assert jobs == [(service.FINISH_TASK, (orphan_id,))]
    async with sessions() as session:
        states = dict((await session.execute(select(Recording.id, Recording.status))).all())
    assert states == {old_id: "deleted", recent_id: "ready", orphan_id: "processing"}
    assert not (root / str(old_id)).exists() and (root / str(recent_id)).exists()


async def test_consent_and_bitrate_are_kept_per_lesson(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    from marketplace.errors import Forbidden
    from scheduling.rooms import RoomRole

    lesson = await make_lesson(database_url)
    async with sessions() as session, session.begin():
        await service.set_consent(session, lesson.booking_id, RoomRole.STUDENT, True, 192)
        await service.set_bitrate(session, lesson.booking_id, RoomRole.TUTOR, 256, 192)
        with pytest.raises(Forbidden):
            await service.set_consent(session, lesson.booking_id, RoomRole.OBSERVER, True, 192)
    async with sessions() as session:
        row = await session.get(LessonRoom, lesson.booking_id)
    assert row is not None and row.bitrate_kbps == 256
    assert row.student_consented_at and not row.tutor_consented_at and not row.both_consented


async def test_the_demo_has_a_lesson_whose_room_is_open(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    result = await seed_demo(sessions, "EUR", tutor_count=3, extras=[seed_demo_lesson])
    [note] = result.notes
    assert demo_tutors(1)[0].email in note and demo_students()[0].email in note
    async with sessions() as session:
        [booking] = list(await session.scalars(select(Booking)))
        from scheduling import rooms

        state = await rooms.current_state(session, booking, datetime.now(UTC), settings.scheduling)
    assert booking.status == "confirmed" and state is rooms.RoomState.OPEN
    # Running again keeps it; once it is over, the next start makes a new one.
    await run_extras(sessions, [seed_demo_lesson], tutor_count=3)
    async with sessions() as session, session.begin():
        assert len(list(await session.scalars(select(Booking)))) == 1
        found = await session.get(Booking, booking.id)
        assert found is not None
        found.status = "completed"
    notes = await run_extras(sessions, [seed_demo_lesson], tutor_count=3)
    async with sessions() as session:
        bookings = list(await session.scalars(select(Booking).order_by(Booking.id)))
    assert [b.status for b in bookings] == ["completed", "confirmed"]
    assert f"#{bookings[1].id}" in notes[0]


async def test_operators_see_open_rooms(room_server: LiveRoomServer, database_url: str) -> None:
    import httpx

    lesson = await make_lesson(database_url)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    try:
        await student.connect()
        async with httpx.AsyncClient(base_url=room_server.url) as http:
            refused = await http.get("/api/v1/admin/rooms", headers=bearer(lesson.student))
            assert refused.status_code == 403
            body = (await http.get("/api/v1/admin/rooms", headers=bearer(lesson.admin))).json()
        [room] = body["rooms"]
        assert room["booking_id"] == lesson.booking_id
        assert [p["role"] for p in room["participants"]] == ["student"]
        assert set(body["latency_ms"]) == {"p50", "p99"} and "loop_lag_ms" in body
    finally:
        await student.close()
