"""Real aiortc participants in a real room: media both ways, unchanged, with the music fmtp."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.video.lessons import make_lesson
from tests.video.peers import RoomClient, encode_vp8, opus_track, vp8_track
from tests.video.server import LiveRoomServer
from video import sdp

pytestmark = pytest.mark.slow


def in_order_within(got: list[bytes], sent: list[bytes]) -> bool:
    """``got`` is ``sent`` from some point on, in order, each item unchanged (the encoder
    repeats a few byte-identical frames, so items are matched in sequence, not by value)."""
    position = sent.index(got[0])
    for item in got:
        try:
            position = sent.index(item, position)
        except ValueError:
            return False
        position += 1
    return True


async def test_media_flows_both_ways_unchanged_with_the_music_fmtp(
    room_server: LiveRoomServer, database_url: str
) -> None:
    lesson = await make_lesson(database_url)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    try:
        welcome = await tutor.connect()
        assert welcome["you"]["role"] == "tutor"
        assert [s["user_id"] for s in welcome["slots"]] == [lesson.student_id]
        assert welcome["ice_servers"] == []  # nothing configured: host candidates only
        await student.connect()
        frames = encode_vp8(300, 320, 240)
        answer = await tutor.join_media([opus_track(6, 440, 660), vp8_track(frames)])
        await student.join_media([opus_track(6, 523, 784)])
        await tutor.connected()
        await student.connected()

        # The answer carries the music parameters (aiortc alone would send none).
        [fmtp] = sdp.opus_fmtp(answer)
        assert fmtp["stereo"] == "1" and fmtp["sprop-stereo"] == "1"
        # The answer names the ceiling; browsers set the lesson's bitrate on their sender.
        assert fmtp["maxaveragebitrate"] == "510000" and fmtp["usedtx"] == "0"
        assert "a=rtpmap:" in answer and "VP8/90000" in answer and "H264" not in answer
        # Every candidate either side offered is a host candidate on loopback: no STUN server
        # was asked (aiortc's default would ask Google's) and nothing else was gathered.
        for description in (answer, tutor.offer_sdp, student.offer_sdp):
            lines = description.splitlines()
            candidates = [line.split() for line in lines if line.startswith("a=candidate:")]
            assert candidates and all(c[4] == "127.0.0.1" and c[7] == "host" for c in candidates)

        await tutor.wait_for(lambda: len(tutor.received.raw_payloads) >= 100)
        await student.wait_for(lambda: len(student.received.raw_payloads) >= 100)
        await student.wait_for(lambda: len(student.received.packets["video"]) >= 20)

        # Opus packets arrive byte for byte as the other side sent them, in order.
        for receiver, sender in ((student, tutor), (tutor, student)):
            got = receiver.received.raw_payloads
            sent = {payload: i for i, payload in enumerate(sender.tracks[0].sent)}
            indexes = [sent[payload] for payload in got]  # KeyError: a payload was changed
            assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
        # VP8 frames arrive whole and unchanged, in order, starting from a keyframe.
        video = [p.data for p in student.received.packets["video"]]
        assert student.received.packets["video"][0].keyframe
        sent_frames = [data for data, _ in frames]
        assert in_order_within(video, sent_frames)
    finally:
        await asyncio.gather(tutor.close(), student.close())


async def test_a_participant_alone_builds_no_backlog(
    room_server: LiveRoomServer, database_url: str
) -> None:
    lesson = await make_lesson(database_url)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    try:
        await tutor.connect()
        await tutor.join_media([opus_track(5, 440, 660), vp8_track(encode_vp8(60))])
        await tutor.connected()
        room = room_server.registry.rooms[lesson.booking_id]
        peer = room.participants[lesson.tutor_id].peer
        assert peer is not None and peer.pc is not None
        taps = peer.taps
        await tutor.wait_for(lambda: taps["audio"].packets >= 150)  # 3 s alone
        for transceiver in peer.pc.getTransceivers():
            remote = transceiver.receiver.track
            # Nothing went to aiortc's decoder or piled up in its track queue...
            assert remote is None or remote._queue.qsize() == 0
        # ... nor in the outputs: nobody is there to receive them.
        assert all(o.track._queue == type(o.track._queue)() for o in peer.outputs)
        assert not room._routes.get((lesson.tutor_id, "audio"))
        assert not room._routes.get((lesson.tutor_id, "video"))
    finally:
        await tutor.close()


async def test_a_participant_who_drops_rejoins_and_media_resumes(
    room_server: LiveRoomServer, database_url: str
) -> None:
    lesson = await make_lesson(database_url)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    again = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    try:
        await tutor.connect()
        await tutor.join_media([opus_track(10, 440, 660)])
        await student.connect()
        await student.join_media([opus_track(10, 523, 784)])
        await tutor.wait_for(lambda: len(tutor.received.raw_payloads) >= 25)
        await student.close()  # the network goes: socket and peer connection are gone
        await tutor.wait_for(lambda: bool(tutor.of_type("left")))
        before = len(tutor.received.raw_payloads)
        welcome = await again.connect()
        assert lesson.tutor_id in {p["user_id"] for p in welcome["participants"]}
        await again.join_media([opus_track(10, 523, 784)])
        await again.connected()
        await tutor.wait_for(lambda: len(tutor.received.raw_payloads) >= before + 50)
        await again.wait_for(lambda: len(again.received.raw_payloads) >= 50)
        # An ICE restart: a new offer on the same socket builds a new peer connection.
        await again.close_media()
        await again.join_media([opus_track(10, 523, 784)])
        await again.connected()
        count = len(tutor.received.raw_payloads)
        await tutor.wait_for(lambda: len(tutor.received.raw_payloads) >= count + 50)
    finally:
        await asyncio.gather(tutor.close(), student.close(), again.close())


async def test_the_room_closes_when_the_window_ends(
    room_server: LiveRoomServer, database_url: str
) -> None:
    lesson = await make_lesson(database_url, starts_in=timedelta(minutes=-70), minutes=60)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    try:
        await tutor.connect()  # open: the lesson ended 10 minutes ago, the room closes at 15
        await tutor.join_media([opus_track(3, 440, 660)])
        await tutor.connected()
        later = room_server.registry.rooms[lesson.booking_id].closes_at + timedelta(seconds=1)
        await room_server.acall(room_server.registry.check_rooms(now=later))
        await tutor.wait_for(lambda: bool(tutor.of_type("ended")))
        assert tutor.of_type("ended")[0]["reason"] == "closed"
        assert lesson.booking_id not in room_server.registry.rooms
    finally:
        await tutor.close()
