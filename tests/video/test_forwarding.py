"""The forwarding pieces on their own: the tap that replaces aiortc's jitter buffer, the
forwarded track, keyframe requests, and the SDP music parameters."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from video import sdp
from video.forwarding import (
    ForwardedTrack,
    KeyframeRequester,
    LatencyStats,
    MediaPacket,
    PacketTap,
)


@dataclass
class Rtp:
    """What the tap reads from aiortc's RtpPacket."""

    sequence_number: int
    timestamp: int
    payload: bytes
    marker: int = 0
    ssrc: int = 1234
    descriptor: int = 0  # bytes of payload descriptor aiortc strips (VP8: here one)

    @property
    def _data(self) -> bytes:
        return self.payload[self.descriptor :]


def vp8_packets(seq: int, ts: int, frame: bytes, parts: int = 3) -> list[Rtp]:
    size = -(-len(frame) // parts)
    chunks = [frame[i : i + size] for i in range(0, len(frame), size)]
    return [
        Rtp(
            seq + i,
            ts,
            bytes([0x10 if i == 0 else 0x00]) + chunk,
            int(i == len(chunks) - 1),
            descriptor=1,
        )
        for i, chunk in enumerate(chunks)
    ]


KEY = bytes([0x00]) + b"key-frame-data" * 20  # frame tag bit 0 = 0: a keyframe
DELTA = bytes([0x01]) + b"delta-frame" * 10


def tap_of(kind: str) -> tuple[PacketTap, list[MediaPacket]]:
    out: list[MediaPacket] = []
    return PacketTap(kind, out.append), out


def test_audio_packets_go_out_at_once_unchanged_and_late_ones_are_dropped() -> None:
    tap, out = tap_of("audio")
    for seq, ts in ((1, 960), (2, 1920), (4, 3840), (3, 2880), (5, 4800)):
        assert tap.add(Rtp(seq, ts, b"\xfc" + bytes([seq]) * 40)) == (False, None)
    assert [p.timestamp for p in out] == [960, 1920, 3840, 4800]  # 2880 came too late
    assert out[0].data == b"\xfc" + bytes([1]) * 40  # depayloaded like aiortc: Opus as sent


def test_vp8_frames_are_whole_in_order_and_wait_for_a_retransmission() -> None:
    tap, out = tap_of("video")
    for packet in vp8_packets(10, 3000, KEY):
        tap.add(packet)
    assert len(out) == 1 and out[0].data == KEY and out[0].keyframe
    first, second, third = vp8_packets(13, 6000, DELTA)
    tap.add(first)
    tap.add(third)  # the second packet is lost for now: nothing yet
    later = vp8_packets(16, 9000, DELTA)
    for packet in later:
        tap.add(packet)
    assert len(out) == 1  # the next frame waits behind the incomplete one
    tap.add(second)  # the NACKed packet arrives through RTX
    assert [p.timestamp for p in out] == [3000, 6000, 9000]
    assert all(p.data == DELTA for p in out[1:])


def test_a_frame_that_cannot_be_completed_stops_deltas_until_a_keyframe() -> None:
    tap, out = tap_of("video")
    sent: list[str] = []
    tap.keyframes = KeyframeRequester(lambda: sent.append("pli"))
    for packet in vp8_packets(0, 0, KEY):
        tap.add(packet)
    broken = vp8_packets(3, 3000, DELTA)
    tap.add(broken[0])  # the rest never comes
    seq, ts = 6, 6000
    for _ in range(8):  # more frames than the tap will wait for
        for packet in vp8_packets(seq, ts, DELTA):
            tap.add(packet)
        seq, ts = seq + 3, ts + 3000
    assert [p.timestamp for p in out] == [0]  # no delta after the gap: it would corrupt video
    assert sent == ["pli"] and tap.frames_dropped == 1
    for packet in vp8_packets(seq, ts, KEY):
        tap.add(packet)
    assert out[-1].timestamp == ts and out[-1].keyframe


async def test_keyframe_requests_are_throttled_but_never_lost() -> None:
    sent: list[float] = []
    loop = asyncio.get_running_loop()
    requester = KeyframeRequester(lambda: sent.append(loop.time()), interval=0.2)
    for _ in range(5):
        requester.request()
    assert len(sent) == 1
    await asyncio.sleep(0.3)
    assert len(sent) == 2  # the requests inside the interval became one, sent when it ended
    assert sent[1] - sent[0] >= 0.19


def media(kind: str, ts: int, keyframe: bool = True, data: bytes = b"x") -> MediaPacket:
    return MediaPacket(kind, data, ts, keyframe, 0)


async def test_forwarded_track_rebases_a_new_source_and_waits_for_its_keyframe() -> None:
    track = ForwardedTrack("video", LatencyStats())
    first, second = object(), object()
    track.push(media("video", 90_000, keyframe=False), first)  # not a keyframe: dropped
    track.push(media("video", 93_000), first)
    track.push(media("video", 96_000, keyframe=False), first)
    assert [(await track.recv()).pts for _ in range(2)] == [0, 3000]
    # The participant rejoins: a new source, other timestamps; output stays continuous.
    track.push(media("video", 5, keyframe=False), second)
    track.push(media("video", 7), second)
    track.push(media("video", 3007, keyframe=False), second)
    assert [(await track.recv()).pts for _ in range(2)] == [6000, 9000]


async def test_a_new_source_continues_after_the_real_time_that_passed() -> None:
    # Timestamps that continued right after the old ones would make every packet of the new
    # stream look 2.5 s late to the receiving browser, and its jitter buffer would grow.
    second_ns = 1_000_000_000
    for kind, step in (("audio", 960), ("video", 3000)):
        track = ForwardedTrack(kind)
        old, new = object(), object()
        track.push(MediaPacket(kind, b"x", 1_000, True, 10 * second_ns), old)
        track.push(MediaPacket(kind, b"x", 1_000 + step, True, 10 * second_ns + 20_000_000), old)
        pts = [(await track.recv()).pts for _ in range(2)]
        gap_ns = 2_500_000_000
        rejoin_ns = 10 * second_ns + 20_000_000 + gap_ns
        track.push(MediaPacket(kind, b"x", 777_777, True, rejoin_ns), new)
        track.push(MediaPacket(kind, b"x", 777_777 + step, True, rejoin_ns + 20_000_000), new)
        pts += [(await track.recv()).pts for _ in range(2)]
        clock = 48_000 if kind == "audio" else 90_000
        assert pts[:2] == [0, step]
        assert pts[2] == step + gap_ns * clock // 1_000_000_000
        assert pts[3] == pts[2] + step  # and then the new source's own spacing
        track.stop()


async def test_a_rebase_never_moves_timestamps_backwards_or_by_hours() -> None:
    track = ForwardedTrack("audio")
    old, new = object(), object()
    track.push(MediaPacket("audio", b"x", 0, True, 5_000_000_000), old)
    assert (await track.recv()).pts == 0
    # A clock that went backwards still moves on by one packet.
    track.push(MediaPacket("audio", b"x", 9_999, True, 1_000_000_000), new)
    assert (await track.recv()).pts == 960
    # A day-long gap advances one hour, less than half the 32-bit timestamp range.
    track.push(MediaPacket("audio", b"x", 5, True, 1_000_000_000 + 86_400 * 10**9), old)
    assert (await track.recv()).pts == 960 + 3_600 * 48_000
    track.stop()


async def test_forwarded_track_drops_a_backlog_instead_of_growing() -> None:
    track = ForwardedTrack("audio")
    for i in range(100):
        track.push(media("audio", i * 960), None)
    assert len(track._queue) <= 25 and track.dropped >= 75
    track.stop()


def test_music_fmtp_is_added_to_every_opus_payload_type() -> None:
    offer = "\r\n".join(
        [
            "v=0",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 0",
            "a=rtpmap:111 opus/48000/2",
            "a=fmtp:111 minptime=10;useinbandfec=1",
            "a=rtpmap:0 PCMU/8000",
            "m=audio 9 UDP/TLS/RTP/SAVPF 96",
            "a=rtpmap:96 opus/48000/2",
            "",
        ]
    )
    munged = sdp.set_opus_fmtp(offer, sdp.music_fmtp(256))
    assert sdp.opus_fmtp(munged) == [sdp.music_fmtp(256), sdp.music_fmtp(256)]
    assert "a=fmtp:0" not in munged and munged.endswith("\r\n")
    assert sdp.music_fmtp(510)["maxaveragebitrate"] == "510000"
    sections = sdp.media_sections(offer)
    assert [s.kind for s in sections] == ["audio", "audio"]
