"""RED end to end through a real room with real aiortc peers: a participant who asks for RED
sends and receives RED, one who does not gets plain Opus, and malformed RED never stops the
room (the packet it carried is rebuilt from the next one's redundancy)."""

from __future__ import annotations

import asyncio

import pytest

from tests.video.lessons import make_lesson
from tests.video.peers import RoomClient, opus_track, red_opus_track
from tests.video.server import LiveRoomServer
from video import red, sdp

pytestmark = pytest.mark.slow

AIORTC_OPUS = 96  # the Opus payload type of an aiortc offer
BROKEN = (100, 150)  # packets of the RED sender replaced by malformed RED


async def test_red_is_negotiated_where_asked_and_plain_opus_reaches_everyone_else(
    room_server: LiveRoomServer, database_url: str
) -> None:
    lesson = await make_lesson(database_url)
    tutor = RoomClient(room_server.url, lesson.booking_id, lesson.tutor)
    student = RoomClient(room_server.url, lesson.booking_id, lesson.student)
    try:
        await tutor.connect()
        await student.connect()
        track = red_opus_track(6, 440, 660, AIORTC_OPUS)
        good = list(track.payloads)
        for index in BROKEN:  # a header whose block runs past the end of the packet
            track.payloads[index] = bytes([0x80 | AIORTC_OPUS, 15, 0, 200, AIORTC_OPUS, 1, 2])
        tutor_answer = await tutor.join_media([track], red=True)
        student_answer = await student.join_media([opus_track(6, 523, 784)])
        await tutor.connected()
        await student.connected()

        # The tutor asked for RED: the answer puts it first, with the fmtp naming Opus twice.
        [tutor_audio] = [s for s in sdp.section_codecs(tutor_answer) if s.kind == "audio"]
        assert tutor_audio.first() == "red"
        assert f"a=fmtp:{red.RED_PAYLOAD_TYPE} {AIORTC_OPUS}/{AIORTC_OPUS}" in tutor_answer
        # The student did not (an aiortc offer lists RED last): plain Opus, no RED at all.
        [student_audio] = [s for s in sdp.section_codecs(student_answer) if s.kind == "audio"]
        assert [name for _, name in student_audio.formats] == ["opus"]

        await student.wait_for(lambda: len(student.received.raw_payloads) >= 200)
        await tutor.wait_for(lambda: len(tutor.received.raw_payloads) >= 100)

        # The student gets the tutor's primary Opus blocks as they are, in order, none missing:
        # the two malformed packets were dropped and rebuilt from the packets after them.
        primaries = [red.parse(payload, {AIORTC_OPUS})[0] for payload in good]
        got = student.received.raw_payloads
        first = primaries.index(got[0])
        assert got[:180] == primaries[first : first + 180]
        assert first < BROKEN[0]
        tap = room_server.registry.rooms[lesson.booking_id].participants[lesson.tutor_id]
        assert tap.peer is not None
        assert tap.peer.taps["audio"].malformed == len(BROKEN)
        assert tap.peer.taps["audio"].recovered == len(BROKEN)
        assert tap.peer.sends_red

        # The tutor gets the student's Opus packets as RED under its own Opus payload type.
        sent = {payload: i for i, payload in enumerate(student.tracks[0].sent)}
        indexes = []
        for payload in tutor.received.raw_payloads:
            primary, blocks = red.parse(payload, {AIORTC_OPUS})
            indexes.append(sent[primary])  # KeyError: a payload was changed
            assert all(block.data in sent for block in blocks)
        assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    finally:
        await asyncio.gather(tutor.close(), student.close())
