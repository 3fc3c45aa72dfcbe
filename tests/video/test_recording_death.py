"""Recording when the process holding the room dies (kill -9): what was written is kept, the
process that takes the room over continues the same recording, and the mix holds both."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.scheduling.helpers import sql
from tests.video import room_process as room_processes
from tests.video.lessons import make_lesson
from tests.video.peers import (
    OPUS_FRAME,
    RoomClient,
    encode_opus,
    encode_vp8,
    opus_track,
    stereo_tone,
)
from tests.video.server import LiveRoomServer
from video import mixing, service
from video.models import RecordingTrack
from video.packets import MediaPacket
from video.recording import FLUSH_SECONDS, TrackFile, TrackWriter

pytestmark = pytest.mark.slow

RATE = 48_000
# At most this much of a track's end is lost when its process dies: the batch not yet handed to
# the writer (FLUSH_SECONDS), the Ogg page being filled (1 s), and the scheduling around them.
MAX_LOST_SECONDS = FLUSH_SECONDS + 1.0 + 0.5


def _decode(path: Path) -> np.ndarray:
    """Stereo float samples of a file's first audio stream, from its start."""
    chunks = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="stereo", rate=RATE)
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1, 2))
    return np.concatenate(chunks) if chunks else np.zeros((0, 2), np.float32)


def _level(samples: np.ndarray, hz: float, start: float, end: float, channel: int = 0) -> float:
    """Amplitude of the ``hz`` tone in ``[start, end)`` seconds of one channel."""
    part = samples[int(start * RATE) : int(end * RATE), channel]
    assert len(part) > RATE // 4, (start, end, len(samples) / RATE)
    window = np.hanning(len(part))
    spectrum = np.abs(np.fft.rfft(part * window))
    freqs = np.fft.rfftfreq(len(part), 1 / RATE)
    near = np.abs(freqs - hz) <= 3
    return float(2 * spectrum[near].max() / window.sum())


def _packets(kind: str, payloads: list[tuple[bytes, bool]]) -> list[MediaPacket]:
    step = OPUS_FRAME if kind == "audio" else 3000
    return [
        MediaPacket(kind=kind, data=data, timestamp=i * step, keyframe=key, arrival_ns=0)
        for i, (data, key) in enumerate(payloads)
    ]


def test_a_track_cut_off_mid_write_is_mixed_up_to_its_last_packet(tmp_path: Path) -> None:
    """What kill -9 leaves: the bytes the writer had handed to the kernel, no trailer, maybe a
    torn last page or block. The mix reads each track up to there and keeps its place."""
    audio_in = _packets("audio", [(p, True) for p in encode_opus(stereo_tone(4, 440, 660), 192)])
    video_in = _packets("video", encode_vp8(120, 320, 240))
    snapshots: dict[str, bytes] = {}
    for kind, packets in (("audio", audio_in), ("video", video_in)):
        writer = TrackWriter(tmp_path / "live", 1, 7, kind)
        for packet in packets:
            batch = writer.take(packet)
            if batch:
                writer.write(batch)
        snapshots[kind] = writer.path.read_bytes()  # still open: no trailer, no cues
        writer.write(writer.drain())
        assert writer.finish()
    started = datetime(2026, 1, 1, tzinfo=UTC)
    tracks = []
    for kind, data in snapshots.items():
        assert len(data) > 1000, kind  # the writer flushed while writing, not only at close
        for name, cut in (("whole", len(data)), ("torn", len(data) - 37)):
            path = tmp_path / f"{kind}-{name}.{'ogg' if kind == 'audio' else 'webm'}"
            path.write_bytes(data[:cut])
            tracks.append((kind, name, path))
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")

    for name in ("whole", "torn"):
        chosen = [
            mixing.Track(7, kind, path, started + timedelta(seconds=1))
            for kind, n, path in tracks
            if n == name
        ]
        chosen.append(mixing.Track(8, "audio", empty, started))  # unreadable: left out
        out = tmp_path / f"mixed-{name}.webm"
        result = mixing.mix(chosen, out, bitrate_kbps=128, order=[7, 8])
        mixed = _decode(out)
        # The track starts 1 s in (after the empty one's start) and holds ~2-4 s of tone.
        assert 2.5 < result.duration_seconds < 5.2, result
        assert _level(mixed, 440, 0.1, 0.9) < 0.01
        assert _level(mixed, 440, 1.2, 2.8) > 0.15
        with av.open(str(out)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert frames >= 2.5 * mixing.FPS, frames


async def test_a_track_row_is_opened_then_closed_whichever_save_commits_first(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    lesson = await make_lesson(database_url)
    async with sessions() as session, session.begin():
        recording_id = await service.start_recording(session, lesson.booking_id)
    assert recording_id is not None
    started = datetime.now(UTC)

    async def save(track: TrackFile) -> None:
        async with sessions() as session, session.begin():
            await service.save_track(session, recording_id, track)

    for name in ("in order", "reversed", "together"):
        opened = TrackFile(lesson.tutor_id, "audio", f"{recording_id}/{name}.ogg", started, None, 0)
        closed = replace(opened, ended_at=started + timedelta(seconds=5), packets=250)
        if name == "in order":
            await save(opened)
            await save(closed)
        elif name == "reversed":
            await save(closed)
            await save(opened)
        else:
            await asyncio.gather(save(opened), save(closed))
    async with sessions() as session:
        rows = list(await session.scalars(select(RecordingTrack)))
    assert len(rows) == 3
    assert all(r.ended_at == started + timedelta(seconds=5) and r.packets == 250 for r in rows)
    # Another process taking the room over writes into the same, unfinished recording.
    async with sessions() as session, session.begin():
        assert await service.start_recording(session, lesson.booking_id) == recording_id


@asynccontextmanager
async def room_process(settings: Settings, log: Path) -> AsyncIterator[tuple[str, Any]]:
    """A Duet server in a child process; yields its URL and the process (to kill)."""
    url, process = await asyncio.to_thread(room_processes.start, settings, log)
    try:
        yield url, process
    finally:
        await asyncio.to_thread(room_processes.stop, process)


async def _wait_sql(client: TestClient[Any], query: str, ok: Any, *args: Any) -> Any:
    deadline = time.monotonic() + 20
    while True:
        rows = sql(client, query, *args)
        if ok(rows):
            return rows
        if time.monotonic() > deadline:
            raise TimeoutError(rows)
        await asyncio.sleep(0.2)


async def _join(url: str, booking_id: int, token: str, hz: tuple[int, int]) -> RoomClient:
    side = RoomClient(url, booking_id, token)
    await side.connect()
    await side.join_media([opus_track(20, *hz)])
    return side


async def test_a_recording_outlives_the_process_holding_its_room(
    room_server: LiveRoomServer,
    room_settings: Settings,
    database_url: str,
    client: TestClient[Any],
    queue: DramatiqQueue,
    tmp_path: Path,
) -> None:
    lesson = await make_lesson(database_url)
    tracks_query = (
        "SELECT user_id, kind, file_key, started_at, ended_at, packets FROM recording_tracks"
        " ORDER BY started_at"
    )
    # Period 1: the room lives in a child process, recording; then the process is killed.
    first_tones = {lesson.tutor_id: (440, 660), lesson.student_id: (523, 784)}
    async with room_process(room_settings, tmp_path / "room-process.log") as (url, process):
        tutor = await _join(url, lesson.booking_id, lesson.tutor, first_tones[lesson.tutor_id])
        student = await _join(
            url, lesson.booking_id, lesson.student, first_tones[lesson.student_id]
        )
        try:
            await tutor.connected()
            await student.connected()
            for side in (tutor, student):
                await side.send({"type": "record", "consent": True})
            await tutor.wait_for(lambda: bool(tutor.of_type("recording")))
            # The tracks are known to the database from when their files are opened.
            await _wait_sql(client, tracks_query, lambda rows: len(rows) == 2)
            opened = time.monotonic()
            await asyncio.sleep(3.5)
            os.kill(process.pid, signal.SIGKILL)
            killed_after = time.monotonic() - opened
            await asyncio.to_thread(process.wait, 10)
        finally:
            for side in (tutor, student):
                with suppress(Exception):
                    await side.close()
    [recording] = sql(client, "SELECT id, status FROM recordings")
    assert recording["status"] == "recording"
    cut = sql(client, tracks_query)
    assert {r["user_id"] for r in cut} == {lesson.tutor_id, lesson.student_id}
    assert all(r["ended_at"] is None for r in cut)  # cut short: never closed
    root = room_settings.video.recordings_root
    kept = tmp_path / "kept"
    kept.mkdir()
    for row in cut:  # the mix job deletes the tracks: keep a copy to measure what survived
        path = root / row["file_key"]
        shutil.copy(path, kept / path.name)
        seconds = len(_decode(path)) / RATE
        assert killed_after - MAX_LOST_SECONDS < seconds <= killed_after + 0.5, (
            seconds,
            killed_after,
        )

    # Period 2: both rejoin the room in another process, which continues the same recording.
    second_tones = {lesson.tutor_id: (880, 1320), lesson.student_id: (1046, 1568)}
    tutor = await _join(
        room_server.url, lesson.booking_id, lesson.tutor, second_tones[lesson.tutor_id]
    )
    student = await _join(
        room_server.url, lesson.booking_id, lesson.student, second_tones[lesson.student_id]
    )
    try:
        await tutor.connected()
        await student.connected()
        await tutor.wait_for(lambda: bool(tutor.of_type("recording")))
        assert tutor.of_type("recording")[-1]["active"] is True
        [recorder] = room_server.registry._recorders.values()
        assert recorder.recording_id == recording["id"]
        await asyncio.sleep(3)
        await tutor.send({"type": "end"})
        await student.wait_for(lambda: bool(student.of_type("ended")))
    finally:
        await asyncio.gather(tutor.close(), student.close())
    await _wait_sql(
        client, "SELECT status FROM recordings", lambda rows: rows[0]["status"] == "processing"
    )
    rows = sql(client, tracks_query)
    assert len(rows) == 4 and [r["ended_at"] is None for r in rows] == [True] * 2 + [False] * 2
    assert all(r["packets"] > 50 for r in rows[2:])
    await asyncio.to_thread(run_jobs, queue)

    [done] = sql(client, "SELECT status, file_key, duration_seconds FROM recordings")
    assert done["status"] == "ready", done
    mixed = _decode(root / done["file_key"])
    origin = min(r["started_at"] for r in rows)
    second = min(r["started_at"] for r in rows[2:])
    second_at = (second - origin).total_seconds()
    # Where each killed track lies on the lesson's timeline: its start, plus what it kept.
    spans = [
        (
            at := (r["started_at"] - origin).total_seconds(),
            at + len(_decode(kept / Path(r["file_key"]).name)) / RATE,
        )
        for r in cut
    ]
    first_end = max(end for _, end in spans)
    assert abs(len(mixed) / RATE - done["duration_seconds"]) < 0.1
    assert second_at > first_end  # the rejoin came after what the dead process wrote
    # Period 1 (the dead process's tracks): the first tones, from both sides, left and right.
    span1 = (max(start for start, _ in spans) + 0.2, min(end for _, end in spans) - 0.2)
    for user_id, (left, right) in first_tones.items():
        assert _level(mixed, left, *span1, channel=0) > 0.15, (user_id, left)
        assert _level(mixed, right, *span1, channel=1) > 0.15, (user_id, right)
        assert _level(mixed, second_tones[user_id][0], *span1) < 0.01
    # Period 2 (the new process's tracks), at their offset: nothing of them before it.
    span2 = (second_at + 0.2, second_at + 2.5)
    for user_id, (left, right) in second_tones.items():
        assert _level(mixed, left, *span2, channel=0) > 0.15, (user_id, left)
        assert _level(mixed, right, *span2, channel=1) > 0.15, (user_id, right)
        assert _level(mixed, first_tones[user_id][0], *span2) < 0.01
        before = (max(0.0, second_at - 1.0), second_at - 0.05)
        assert _level(mixed, left, *before, channel=0) < 0.01, (user_id, before)
