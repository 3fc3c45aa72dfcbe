"""Rooms on media processes: placed through Redis, relayed by any web process, moved when their
process dies (kill -9), never listed twice. Real Redis, real ``duet media`` and ``duet web``
processes, real aiortc peers."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.browser.conftest import CspWatch, chromium_path
from tests.browser.test_lesson_room import (
    STUDENT_TONES,
    TUTOR_TONES,
    log_in,
    media_flags,
    stereo_wav,
)
from tests.conftest import TEST_SIGNING_KEY
from tests.helpers import run_async
from tests.video.cluster import Cluster, media_cluster
from tests.video.lessons import make_lesson
from tests.video.peers import RoomClient, encode_vp8, opus_track, vp8_track
from video.directory import RoomDirectory

pytestmark = pytest.mark.slow  # and in the live-media xdist group (tests/conftest.py)


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Four media and two web processes for the whole module: each test that kills or stops one
    still finds two (starting a replacement later costs more than starting it with the rest)."""
    folder = tmp_path_factory.mktemp("rooms")
    with media_cluster(database_url, TEST_SIGNING_KEY, folder, media=4) as running:
        yield running


@pytest.fixture
def two_media(cluster: Cluster) -> Cluster:
    cluster.keep_media(2)
    return cluster


def _get(url: str, token: str) -> dict[str, Any]:
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


async def _listing(cluster: Cluster) -> dict[int, str]:
    redis = Redis.from_url(cluster.redis.url())
    try:
        return await RoomDirectory(redis).listing()
    finally:
        await redis.aclose()


async def _join_media(
    tutor: RoomClient, student: RoomClient, frames: list[tuple[bytes, bool]]
) -> None:
    """The tutor sends a tone pair and video, the student another tone pair; both connected."""
    await tutor.join_media([opus_track(30, 440, 660), vp8_track(frames)])
    await student.join_media([opus_track(30, 523, 784)])
    await tutor.connected()
    await student.connected()


async def _media_flows(receiver: RoomClient, kind: str = "audio", packets: int = 50) -> None:
    start = len(receiver.received.packets[kind])
    await receiver.wait_for(lambda: len(receiver.received.packets[kind]) >= start + packets, 10)


async def test_two_web_processes_share_a_room_and_it_survives_its_media_process(
    two_media: Cluster, database_url: str
) -> None:
    cluster = two_media
    lesson = await make_lesson(database_url)
    web1, web2 = cluster.webs
    tutor = RoomClient(web1, lesson.booking_id, lesson.tutor)
    student = RoomClient(web2, lesson.booking_id, lesson.student)
    frames = encode_vp8(600, 160, 120)
    try:
        await tutor.connect()
        await student.connect()
        await _join_media(tutor, student, frames)
        await _media_flows(student)
        await _media_flows(student, "video", 20)
        await _media_flows(tutor)

        rooms = await _listing(cluster)
        assert list(rooms) == [lesson.booking_id]
        holder = rooms[lesson.booking_id]
        view = _get(web2 + "/api/v1/admin/rooms", lesson.admin)
        live = sum(1 for p in cluster.media if p.poll() is None)
        assert view["placement"] == "media" and len(view["media_processes"]) == live
        await asyncio.sleep(2.5)  # the processes report every 2 s
        view = _get(web1 + "/api/v1/admin/rooms", lesson.admin)
        [room] = view["rooms"]
        assert room["booking_id"] == lesson.booking_id and room["media_process"] == holder
        assert room["packets_per_second"]["in"] > 40  # Opus both ways and the tutor's video
        health = _get(web1 + "/healthz", lesson.admin)
        detail = f"{live} media processes, 1 of {40 * live} rooms"
        assert health["checks"]["media"]["detail"] == detail

        # kill -9 the room's media process in the middle of the lesson.
        [victim] = [p for p in cluster.media if f"-{p.pid}-" in holder]
        killed_at = time.monotonic()
        cluster.kill(victim)
        for client in (tutor, student):
            await client.wait_for(lambda c=client: bool(c.of_type("moved")), 5)
        for client in (tutor, student):
            await client.wait_for(lambda c=client: len(c.of_type("welcome")) >= 1, 10)
        # A new welcome from the new process: each side builds a new peer connection.
        await tutor.close_media()
        await student.close_media()
        await _join_media(tutor, student, frames)
        await _media_flows(student)
        await _media_flows(tutor)
        assert time.monotonic() - killed_at < 10
        rooms = await _listing(cluster)
        assert list(rooms) == [lesson.booking_id] and rooms[lesson.booking_id] != holder
    finally:
        await tutor.close()
        await student.close()


async def test_rooms_spread_over_processes_and_the_lesson_end_reaches_its_process(
    two_media: Cluster, database_url: str
) -> None:
    cluster = two_media
    first, second = await make_lesson(database_url), await make_lesson(database_url)
    clients = [
        RoomClient(cluster.webs[0], first.booking_id, first.tutor),
        RoomClient(cluster.webs[1], second.booking_id, second.tutor),
    ]
    try:
        for client in clients:
            await client.connect()
        rooms = await _listing(cluster)
        assert sorted(rooms) == sorted([first.booking_id, second.booking_id])
        # The least loaded process takes each new room: one each.
        assert rooms[first.booking_id] != rooms[second.booking_id]
        # A message the web process cannot judge goes to the room, and its answer comes back.
        await clients[0].send({"type": "chat", "text": "hello"})
        await clients[0].wait_for(lambda: bool(clients[0].of_type("chat")))
        await clients[0].send({"type": "nonsense"})
        await clients[0].wait_for(lambda: bool(clients[0].of_type("error")))
        assert clients[0].of_type("error")[0]["fields"] == {
            "type": "Unknown message type 'nonsense'."
        }
        # The tutor ends the lesson: the room closes on its process and leaves the directory.
        await clients[1].send({"type": "end"})
        await clients[1].wait_for(lambda: bool(clients[1].of_type("ended")))
        await clients[1].wait_for(lambda: clients[1].ws.close_code is not None, 5)
        deadline = time.monotonic() + 5
        while second.booking_id in await _listing(cluster):
            assert time.monotonic() < deadline, "the ended room stayed in the directory"
            await asyncio.sleep(0.1)
    finally:
        for client in clients:
            await client.close()


# The loudest audio this page receives now (0..1): the other side's tones, not silence.
HEARD_LEVEL = """() => {
  const room = window.duetRoom;
  if (!room.pc || room.pc.connectionState !== 'connected') return 0;
  return room.pc.getStats().then(report => {
    let level = 0;
    report.forEach(s => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        level = Math.max(level, s.audioLevel || 0);
      }
    });
    return level;
  });
}"""


@pytest.mark.browser
def test_two_browsers_on_different_web_processes_get_media_back_after_a_kill_9(
    two_media: Cluster, database_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    cluster = two_media
    csp_watch = CspWatch()  # the browser tests' watch (its fixture lives in tests/browser)
    executable = chromium_path()
    lesson = run_async(make_lesson(database_url))
    wavs = [
        stereo_wav(tmp_path / "tutor.wav", *TUTOR_TONES),
        stereo_wav(tmp_path / "student.wav", *STUDENT_TONES),
    ]
    with sync_playwright() as playwright:
        browsers = [
            playwright.chromium.launch(
                executable_path=executable, headless=True, args=media_flags(wav)
            )
            for wav in wavs
        ]
        try:
            pages = []
            people = (lesson.tutor_email, lesson.student_email)
            for browser, email, base in zip(browsers, people, cluster.webs, strict=True):
                page = csp_watch.new_context(browser).new_page()
                page.set_default_timeout(20_000)
                log_in(page, base, email)
                page.goto(f"{base}/lessons/{lesson.booking_id}/room")
                pages.append(page)

            def hears_the_other_side(page: Any, timeout: int = 20_000) -> None:
                # The other side is connected (its tile says nothing), and its tones arrive.
                page.wait_for_function(
                    "() => document.querySelector('[data-testid=remote-tile] .tile-state')"
                    ".textContent === ''",
                    timeout=timeout,
                )
                page.wait_for_function(
                    f"async () => (await ({HEARD_LEVEL})()) > 0.05", timeout=timeout
                )

            for page in pages:
                hears_the_other_side(page)
            holder = run_async(_listing(cluster))[lesson.booking_id]
            [victim] = [p for p in cluster.media if f"-{p.pid}-" in holder]
            killed_at = time.monotonic()
            cluster.kill(victim)
            for page in pages:
                # The page was told, made a new connection to the new process, and hears again.
                page.wait_for_function("() => (window.duetRoom.moves || 0) >= 1", timeout=10_000)
                page.wait_for_function("() => window.duetRoom.welcomes >= 2", timeout=10_000)
                hears_the_other_side(page, timeout=10_000)
            assert time.monotonic() - killed_at < 10
            assert run_async(_listing(cluster))[lesson.booking_id] != holder
            for page in pages:
                assert page.get_by_test_id("room-alert").is_hidden()
            assert csp_watch.violations == []
        finally:
            for browser in browsers:
                browser.close()


async def test_a_media_process_stopped_for_a_release_hands_its_rooms_over_at_once(
    two_media: Cluster, database_url: str
) -> None:
    """A rolling restart (SIGTERM): the process leaves the directory first, so its lessons move
    without waiting for a heartbeat to expire."""
    cluster = two_media
    lesson = await make_lesson(database_url)
    tutor = RoomClient(cluster.webs[0], lesson.booking_id, lesson.tutor)
    try:
        await tutor.connect()
        holder = (await _listing(cluster))[lesson.booking_id]
        [stopping] = [p for p in cluster.media if f"-{p.pid}-" in holder]
        stopped_at = time.monotonic()
        stopping.send_signal(signal.SIGTERM)
        await tutor.wait_for(lambda: bool(tutor.of_type("moved")), 5)
        await tutor.wait_for(lambda: bool(tutor.of_type("welcome")), 5)
        assert time.monotonic() - stopped_at < 2.5  # less than the heartbeat's 3 s
        assert not tutor.of_type("ended")  # the lesson goes on
        assert stopping.wait(15) == 0
        assert (await _listing(cluster))[lesson.booking_id] != holder
    finally:
        await tutor.close()
