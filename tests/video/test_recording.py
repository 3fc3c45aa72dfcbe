"""Recording: only with both sides' consent; tracks as they arrive; one stereo file after."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import av
import pytest
from litestar.testing import TestClient

from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.scheduling.helpers import sql
from tests.video.lessons import make_lesson
from tests.video.peers import RoomClient, encode_vp8, opus_track, vp8_track
from tests.video.server import LiveRoomServer

pytestmark = pytest.mark.slow


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_consented_lesson_is_recorded_into_one_stereo_file(
    room_server: LiveRoomServer, database_url: str, client: TestClient[Any], queue: DramatiqQueue
) -> None:
    lesson = await make_lesson(database_url)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    try:
        await tutor.connect()
        await student.connect()
        await tutor.join_media([opus_track(12, 440, 660), vp8_track(encode_vp8(360, 320, 240))])
        await student.join_media([opus_track(12, 523, 784)])
        await tutor.connected()
        await student.connected()
        # One side's consent is not enough.
        await tutor.send({"type": "record", "consent": True})
        await student.wait_for(lambda: bool(student.of_type("consent")))
        assert student.of_type("consent")[-1] == {
            "type": "consent",
            "tutor": True,
            "student": False,
        }
        await asyncio.sleep(0.5)
        assert not tutor.of_type("recording") and not room_server.registry._recorders
        await student.send({"type": "record", "consent": True})
        await tutor.wait_for(lambda: bool(tutor.of_type("recording")))
        started = time.monotonic()
        assert tutor.of_type("recording")[-1]["active"] is True
        await asyncio.sleep(4)
        await tutor.send({"type": "end"})
        await student.wait_for(lambda: bool(student.of_type("ended")))
        recorded = time.monotonic() - started
    finally:
        await asyncio.gather(tutor.close(), student.close())

    # The room closed: its tracks are saved and the mixing job is queued.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        [row] = sql(
            client, "SELECT status FROM recordings WHERE booking_id = $1", lesson.booking_id
        )
        if row["status"] == "processing":
            break
        await asyncio.sleep(0.2)
    tracks = sql(client, "SELECT user_id, kind FROM recording_tracks ORDER BY user_id, kind")
    assert {(r["user_id"], r["kind"]) for r in tracks} == {
        (lesson.tutor_id, "audio"),
        (lesson.tutor_id, "video"),
        (lesson.student_id, "audio"),
    }
    await asyncio.to_thread(run_jobs, queue)

    info = client.get(
        f"/api/v1/bookings/{lesson.booking_id}/recording", headers=bearer(lesson.student)
    )
    assert info.status_code == 200 and info.json()["status"] == "ready", info.text
    response = client.get(info.json()["url"], headers=bearer(lesson.tutor))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("video/webm")
    path = room_server.app.state.services.settings.video.recordings_root / "mixed.webm"
    path.write_bytes(response.content)
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "opus"
        assert audio.codec_context.channels == 2 and audio.codec_context.sample_rate == 48_000
        assert container.streams.video[0].codec_context.name == "vp8"
        samples = sum(frame.samples for frame in container.decode(audio))
    assert abs(samples / 48_000 - recorded) < 1.0, (samples / 48_000, recorded)
    # A player may seek: byte ranges are served.
    part = client.get(info.json()["url"], headers={**bearer(lesson.tutor), "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == response.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(response.content)}"
    tail = client.get(info.json()["url"], headers={**bearer(lesson.tutor), "Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == response.content[-5:]
    beyond = {**bearer(lesson.tutor), "Range": f"bytes={len(response.content)}-"}
    assert client.get(info.json()["url"], headers=beyond).status_code == 416
    # Only the lesson's people get the file.
    other = client.get(info.json()["url"], headers=bearer(lesson.outsider))
    assert other.status_code == 404
    page = client.get(f"/lessons/{lesson.booking_id}", headers=bearer(lesson.student))
    assert 'data-testid="recording-player"' in page.text


async def test_nothing_is_recorded_without_both_consents(
    room_server: LiveRoomServer, database_url: str, client: TestClient[Any]
) -> None:
    lesson = await make_lesson(database_url)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    try:
        await tutor.connect()
        await student.connect()
        await tutor.join_media([opus_track(4, 440, 660)])
        await student.join_media([opus_track(4, 523, 784)])
        await student.send({"type": "record", "consent": True})
        await student.send({"type": "record", "consent": "yes"})
        await student.wait_for(lambda: bool(student.of_type("error")))
        assert student.of_type("error")[0]["fields"] == {"consent": "Send true or false."}
        await tutor.send({"type": "record", "consent": True})
        await tutor.wait_for(lambda: bool(tutor.of_type("recording")))
        await student.send({"type": "record", "consent": False})  # withdrawn: it stops
        await tutor.wait_for(lambda: len(tutor.of_type("recording")) >= 2)
        assert tutor.of_type("recording")[-1]["active"] is False
    finally:
        await asyncio.gather(tutor.close(), student.close())
    assert sql(client, "SELECT count(*) AS n FROM recordings")[0]["n"] == 1


async def test_a_rejoin_while_recording_starts_a_new_track(
    room_server: LiveRoomServer, database_url: str, client: TestClient[Any], queue: DramatiqQueue
) -> None:
    lesson = await make_lesson(database_url)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    try:
        await tutor.connect()
        await student.connect()
        await tutor.join_media([opus_track(12, 440, 660)])
        await student.join_media([opus_track(12, 523, 784)])
        for side in (tutor, student):
            await side.send({"type": "record", "consent": True})
        await tutor.wait_for(lambda: bool(tutor.of_type("recording")))
        started = time.monotonic()
        await asyncio.sleep(1.5)
        await student.close_media()  # the student's network changes: a new peer connection
        await student.join_media([opus_track(12, 523, 784)])
        await student.connected()
        await asyncio.sleep(1.5)
        await tutor.send({"type": "end"})
        await student.wait_for(lambda: bool(student.of_type("ended")))
        recorded = time.monotonic() - started
    finally:
        await asyncio.gather(tutor.close(), student.close())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        [row] = sql(
            client, "SELECT status FROM recordings WHERE booking_id = $1", lesson.booking_id
        )
        if row["status"] == "processing":
            break
        await asyncio.sleep(0.2)
    rows = sql(client, "SELECT user_id, started_at FROM recording_tracks ORDER BY started_at")
    assert [r["user_id"] for r in rows].count(lesson.student_id) == 2
    await asyncio.to_thread(run_jobs, queue)
    [row] = sql(
        client,
        "SELECT status, duration_seconds FROM recordings WHERE booking_id = $1",
        lesson.booking_id,
    )
    assert row["status"] == "ready"
    assert abs(row["duration_seconds"] - recorded) < 1.0, (row, recorded)
