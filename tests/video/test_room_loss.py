"""Loss users can trust: the server measures what goes missing between a sender and itself
(the forwarded stream is renumbered, so the receiving browser cannot), tells the receivers, and
shows it end to end in the admin room list."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.video.lessons import make_lesson
from tests.video.peers import RoomClient, opus_track
from tests.video.server import LiveRoomServer
from video.room import combined_loss

pytestmark = pytest.mark.slow


def drop_every(client: RoomClient, nth: int) -> None:
    """Lose every ``nth`` RTP packet the client sends, before it leaves the machine."""
    assert client.pc is not None
    transport: Any = client.pc.getTransceivers()[0].sender.transport
    original = transport._send_rtp
    count = 0

    async def lossy(data: bytes) -> None:
        nonlocal count
        count += 1
        if count % nth:
            await original(data)

    transport._send_rtp = lossy


def test_two_hops_combine() -> None:
    assert combined_loss(0.02, 0.02) == pytest.approx(0.0396)
    assert combined_loss(0.0, 0.05) == pytest.approx(0.05)


async def test_loss_before_the_server_reaches_the_receiver_and_the_admin_list(
    room_server: LiveRoomServer, database_url: str
) -> None:
    lesson = await make_lesson(database_url)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    try:
        await tutor.connect()
        await student.connect()
        await tutor.join_media([opus_track(10, 440, 660)])
        await student.join_media([opus_track(10, 523, 784)])
        await tutor.connected()
        await student.connected()
        drop_every(tutor, 10)  # 10 % lost on the tutor's way to the server

        def reports() -> list[float]:
            return [
                m["uplink"][str(lesson.tutor_id)]
                for m in student.of_type("loss")
                if m["uplink"].get(str(lesson.tutor_id)) is not None
            ]

        await student.wait_for(lambda: len(reports()) >= 3, within=15)
        assert 7 <= reports()[-1] <= 13, reports()
        # The tutor hears a clean student, and is told so.
        assert [m["uplink"][str(lesson.student_id)] for m in tutor.of_type("loss")][-1] == 0

        snapshot = room_server.call(_snapshot(room_server, lesson.booking_id))
        people = {p["user_id"]: p["loss_percent"] for p in snapshot["participants"]}
        assert 7 <= people[lesson.tutor_id]["sent"] <= 13, people
        assert people[lesson.student_id]["sent"] == 0
        # What the student hears lost the tutor's 10 % at least, end to end.
        assert people[lesson.student_id]["received"] >= people[lesson.tutor_id]["sent"], people
        assert people[lesson.tutor_id]["received"] < 5, people
    finally:
        await asyncio.gather(tutor.close(), student.close())


async def _snapshot(server: LiveRoomServer, booking_id: int) -> dict[str, Any]:
    return server.registry.rooms[booking_id].snapshot()
