"""With ROOM_ADMIN_OBSERVE on, an admin joins as a silent observer and hears both sides."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from marketplace.settings import Settings
from tests.video.lessons import make_lesson
from tests.video.peers import RoomClient, opus_track
from tests.video.server import LiveRoomServer

pytestmark = pytest.mark.slow


@pytest.fixture
def room_settings(room_settings: Settings) -> Settings:
    return replace(
        room_settings, scheduling=replace(room_settings.scheduling, room_admin_observe=True)
    )


async def test_an_admin_observes_both_sides(room_server: LiveRoomServer, database_url: str) -> None:
    lesson = await make_lesson(database_url)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    admin = RoomClient(room_server.url, lesson.booking_id, lesson.admin)
    outsider = RoomClient(room_server.url, lesson.booking_id, lesson.outsider)
    try:
        welcome = await admin.connect()
        assert welcome["you"]["role"] == "observer"
        assert [s["role"] for s in welcome["slots"]] == ["tutor", "student"]
        await tutor.connect()
        await student.connect()
        await tutor.join_media([opus_track(6, 440, 660)])
        await student.join_media([opus_track(6, 523, 784)])
        await admin.join_media([], receive_slots=2)
        await admin.connected()
        await admin.wait_for(lambda: len(admin.received.packets["audio"]) >= 100)
        heard = {p.data for p in admin.received.packets["audio"]}
        assert heard <= set(tutor.tracks[0].sent) | set(student.tracks[0].sent)
        assert heard & set(tutor.tracks[0].sent) and heard & set(student.tracks[0].sent)
        # The observer is not heard: the tutor only gets the student.
        assert set(tutor.received.raw_payloads) <= set(student.tracks[0].sent)
        with pytest.raises(Exception, match="403"):
            await outsider.connect()
    finally:
        await asyncio.gather(tutor.close(), student.close(), admin.close())
