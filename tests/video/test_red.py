"""RED (RFC 2198) on its own: splitting and building payloads, malformed input, and what the
tap and the forwarded track make of RED packets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from video import red
from video.forwarding import ForwardedTrack, LossCounter, MediaPacket, PacketTap

OPUS = 111
RED_PT = 63


def test_a_payload_splits_into_its_blocks_and_builds_back_byte_for_byte() -> None:
    older, previous, primary = b"\x01" * 5, b"\x02" * 300, b"\x03" * 40
    blocks = (red.RedBlock(1920, older), red.RedBlock(960, previous))
    payload = red.build(primary, blocks, OPUS)
    # Two four-byte headers, the one-byte primary header, then the blocks in order.
    assert payload[:4] == bytes((0x80 | OPUS, 1920 >> 6, ((1920 & 0x3F) << 2) | 0, 5))
    assert payload[8] == OPUS and payload[9:14] == older and payload.endswith(primary)
    assert red.parse(payload, {OPUS}) == (primary, blocks)
    # Built again under another connection's Opus payload type: only the headers change.
    again = red.build(primary, blocks, 100)
    assert red.parse(again, {100}) == (primary, blocks)
    assert len(again) == len(payload)


def test_a_payload_with_only_the_primary_block_is_one_byte_longer() -> None:
    assert red.build(b"opus", (), OPUS) == bytes([OPUS]) + b"opus"
    assert red.parse(bytes([OPUS]) + b"opus") == (b"opus", ())


def test_blocks_red_cannot_describe_are_left_out_when_building() -> None:
    blocks = (
        red.RedBlock(960, b""),  # nothing to repeat
        red.RedBlock(1 << 14, b"x"),  # offset beyond 14 bits
        red.RedBlock(960, b"y" * 1024),  # longer than 10 bits
        red.RedBlock(960, b"ok"),
    )
    assert red.parse(red.build(b"p", blocks, OPUS)) == (b"p", (red.RedBlock(960, b"ok"),))


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # no header at all
        bytes([0x80 | OPUS, 0, 0]),  # a redundant header cut short
        bytes([0x80 | OPUS, 15, 0, 10, OPUS]) + b"abc",  # the block runs past the end
        bytes([0x80 | OPUS, 15, 0, 1]),  # F bit set, and no last header
        bytes([0x80 | OPUS, 15, 0, 0]) * 9 + bytes([OPUS]),  # more blocks than we trust
        bytes([0x80 | 0, 15, 0, 1, OPUS]) + b"ab",  # a block that is not Opus (PCMU)
        bytes([9]) + b"g722",  # a primary that is not Opus
    ],
)
def test_malformed_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(red.MalformedRed):
        red.parse(payload, {OPUS})


def test_registering_red_with_aiortc_happens_once_and_keeps_opus_first() -> None:
    from aiortc.codecs import CODECS

    red.register_codec()
    names = [c.mimeType.lower() for c in CODECS["audio"]]
    assert names.count("audio/red") == 1 and names[0] == "audio/opus"


@dataclass
class RedRtp:
    sequence_number: int
    timestamp: int
    payload: bytes
    payload_type: int = RED_PT
    ssrc: int = 1

    @property
    def _data(self) -> bytes:
        return self.payload


def red_tap() -> tuple[PacketTap, list[MediaPacket]]:
    got: list[MediaPacket] = []
    tap = PacketTap("audio", got.append, frozenset({RED_PT}), frozenset({OPUS}))
    return tap, got


def red_packet(seq: int, ts: int, distance: int = 1) -> RedRtp:
    blocks = [red.RedBlock(960 * d, b"opus%d" % (ts - 960 * d)) for d in range(distance, 0, -1)]
    return RedRtp(seq, ts, red.build(b"opus%d" % ts, blocks, OPUS))


def test_the_tap_splits_red_and_rebuilds_a_packet_lost_on_the_way_in() -> None:
    tap, got = red_tap()
    tap.add(red_packet(1, 960))
    tap.add(red_packet(2, 1920))
    # Packet 3 (timestamp 2880) is lost; packet 4 repeats it.
    tap.add(red_packet(4, 3840))
    tap.add(red_packet(4, 3840))  # a duplicate changes nothing
    assert [(p.timestamp, p.data) for p in got] == [
        (960, b"opus960"),
        (1920, b"opus1920"),
        (2880, b"opus2880"),
        (3840, b"opus3840"),
    ]
    assert tap.recovered == 1
    # Each primary keeps its redundancy for receivers that speak RED; a rebuilt packet has none.
    assert got[3].redundancy == (red.RedBlock(960, b"opus2880"),) and got[2].redundancy == ()
    # Sequence numbers 1 to 4 were expected; the tap saw 1, 2, 4 (and 4 again).
    assert tap.loss.expected == 4 and tap.loss.received == 4


def test_a_malformed_red_packet_is_dropped_and_counted_and_the_stream_goes_on() -> None:
    tap, got = red_tap()
    tap.add(red_packet(1, 960))
    tap.add(RedRtp(2, 1920, bytes([0x80 | OPUS, 15, 0, 200, OPUS]) + b"short"))
    tap.add(RedRtp(3, 2880, b""))
    tap.add(red_packet(4, 3840, distance=2))
    assert tap.malformed == 2
    # The next good packet brings back both packets it repeats.
    assert [p.timestamp for p in got] == [960, 1920, 2880, 3840]


def test_plain_opus_still_arrives_on_a_connection_that_negotiated_red() -> None:
    tap, got = red_tap()
    tap.add(RedRtp(1, 960, b"plain", payload_type=OPUS))
    assert [(p.data, p.redundancy) for p in got] == [(b"plain", ())]


async def test_the_forwarded_track_sends_red_or_the_primary_block_per_connection() -> None:
    packet = MediaPacket("audio", b"primary", 1920, True, 0, (red.RedBlock(960, b"before"),))
    plain, with_red = ForwardedTrack("audio"), ForwardedTrack("audio")
    with_red.red_opus_type = 100  # this receiver's own Opus payload type
    source = object()
    for track in (plain, with_red):
        track.push(MediaPacket("audio", b"first", 960, True, 0), source)
        track.push(packet, source)
    assert bytes(await plain.recv()) == b"first"
    assert bytes(await plain.recv()) == b"primary"
    # The first packet after a source change goes without redundancy (it would name times of
    # the stream before); then RED under the receiver's Opus payload type.
    assert red.parse(bytes(await with_red.recv()), {100}) == (b"first", ())
    assert red.parse(bytes(await with_red.recv()), {100}) == (
        b"primary",
        (red.RedBlock(960, b"before"),),
    )
    await asyncio.sleep(0)


def test_loss_is_counted_per_window_from_sequence_numbers_across_a_wrap() -> None:
    counter = LossCounter()
    for seq in (65530, 65531, 65533, 65534, 0, 1):  # 65532, 65535 lost
        counter.add(seq)
    assert counter.sample() == pytest.approx(2 / 8)
    for seq in range(2, 12):
        counter.add(seq)
    assert counter.sample() == 0
    assert counter.sample() is None  # nothing expected since
    counter.add(11)  # a late duplicate neither moves the window nor counts as new loss
    assert counter.expected == 18


OFFER = (
    "v=0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF {order}\r\n"
    "a=mid:0\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:{red} red/48000/2\r\n"
    "a=fmtp:{red} 111/111\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"
    "a=mid:1\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
)


def test_sections_list_their_codecs_in_the_order_of_the_m_line() -> None:
    from video import sdp

    audio, video = sdp.section_codecs(OFFER.format(order="63 111", red=63))
    assert audio.mid == "0" and audio.formats == ((63, "red"), (111, "opus"))
    assert audio.first() == "red" and audio.types_of("opus") == {111}
    assert video.kind == "video" and video.first() == "vp8"


def test_red_is_used_only_when_the_browser_lists_it_first_under_a_number_aiortc_keeps() -> None:
    from video import sdp
    from video.peer import _prefers_red

    def prefers(order: str, red_type: int) -> bool:
        return _prefers_red(sdp.section_codecs(OFFER.format(order=order, red=red_type))[0])

    assert prefers("63 111", 63)
    assert prefers("100 111", 100)  # inside 96..127: aiortc answers with the offer's number
    assert not prefers("111 63", 63)  # Opus first: the browser did not ask to send RED
    assert not prefers("62 111", 62)  # aiortc would answer 63 for it: plain Opus instead


def test_the_answer_gets_red_fmtp_naming_its_opus_type_once() -> None:
    from video import sdp

    answer = "v=0\r\nm=audio 9 X 63 111\r\na=rtpmap:63 red/48000/2\r\na=rtpmap:111 opus/48000/2\r\n"
    fixed = sdp.set_red_fmtp(answer)
    assert "a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n" in fixed
    assert sdp.set_red_fmtp(fixed) == fixed
