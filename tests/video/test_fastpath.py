"""The room's own RTP reading and writing (``video.fastpath``) against aiortc's parser."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiortc.codecs.vpx import VpxPayloadDescriptor, vp8_depayload
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpSendParameters,
)
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket

from video.fastpath import RtpWriter, _abs_send_time, vp8_descriptor_length

MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def parameters(kind: str, extensions: dict[str, int]) -> RTCRtpSendParameters:
    codec = (
        RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90_000, payloadType=97)
        if kind == "video"
        else RTCRtpCodecParameters(
            mimeType="audio/opus", clockRate=48_000, channels=2, payloadType=111
        )
    )
    return RTCRtpSendParameters(
        codecs=[codec],
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=i, uri=uri) for uri, i in extensions.items()
        ],
        muxId="1",
    )


class Wire:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, address: Any) -> None:
        self.sent.append(data)


def writer_on_wire(kind: str, extensions: dict[str, int]) -> tuple[RtpWriter, Wire, Any]:
    wire = Wire()
    pair = SimpleNamespace(protocol=SimpleNamespace(transport=wire), remote_addr=("x", 1))
    dtls = SimpleNamespace(
        _state=State.CONNECTED,
        _tx_srtp=SimpleNamespace(protect=lambda data: data),  # SRTP is pylibsrtp's own test
        transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={1: pair})),
    )
    sender = SimpleNamespace(transport=dtls, _ssrc=0x11223344, _enabled=True)
    return RtpWriter(sender, parameters(kind, extensions), kind), wire, sender


@pytest.mark.parametrize(
    "extensions", [{MID: 4, ABS: 3}, {MID: 9}, {ABS: 2}, {}], ids=["mid+abs", "mid", "abs", "none"]
)
def test_audio_packets_parse_as_aiortc_writes_them(extensions: dict[str, int]) -> None:
    writer, wire, sender = writer_on_wire("audio", extensions)
    assert writer.send(b"opus-one", 0) and writer.send(b"opus-two", 960)
    received = HeaderExtensionsMap()
    received.configure(parameters("audio", extensions))
    first, second = (RtpPacket.parse(data, received) for data in wire.sent)
    assert (first.payload, second.payload) == (b"opus-one", b"opus-two")
    assert first.ssrc == 0x11223344 and first.payload_type == 111 and first.marker == 1
    assert (second.sequence_number - first.sequence_number) & 0xFFFF == 1
    assert (second.timestamp - first.timestamp) & 0xFFFFFFFF == 960
    assert first.extensions.mid == ("1" if MID in extensions else None)
    assert (first.extensions.abs_send_time is not None) == (ABS in extensions)
    # What aiortc's sender reports read.
    assert sender._RTCRtpSender__packet_count == 2
    assert sender._RTCRtpSender__octet_count == len(b"opus-one") * 2
    assert sender._RTCRtpSender__rtp_timestamp == second.timestamp


def test_a_vp8_frame_is_split_and_rebuilt_and_kept_for_retransmission() -> None:
    writer, wire, sender = writer_on_wire("video", {MID: 4, ABS: 3})
    frame = bytes(range(256)) * 20  # 5120 bytes: four packets
    assert writer.send(frame, 3000)
    received = HeaderExtensionsMap()
    received.configure(parameters("video", {MID: 4, ABS: 3}))
    packets = [RtpPacket.parse(data, received) for data in wire.sent]
    assert len(packets) == 4 and [p.marker for p in packets] == [0, 0, 0, 1]
    assert len({p.timestamp for p in packets}) == 1
    descriptors = [VpxPayloadDescriptor.parse(p.payload)[0] for p in packets]
    assert [d.partition_start for d in descriptors] == [1, 0, 0, 0]
    assert len({d.picture_id for d in descriptors}) == 1
    assert b"".join(vp8_depayload(p.payload) for p in packets) == frame
    # aiortc's sender answers a NACK from its history: it must find an RtpPacket there.
    kept = sender._RTCRtpSender__rtp_history.get(packets[2].sequence_number % 128)
    assert isinstance(kept, RtpPacket)
    assert kept.sequence_number == packets[2].sequence_number
    assert kept.payload == packets[2].payload and kept.extensions.mid == "1"


def test_nothing_is_sent_on_a_connection_that_is_not_up() -> None:
    writer, wire, sender = writer_on_wire("audio", {})
    sender.transport._state = State.CLOSED
    assert not writer.send(b"x", 0) and wire.sent == []


@pytest.mark.parametrize(
    "descriptor",
    [
        VpxPayloadDescriptor(partition_start=1, partition_id=0),
        VpxPayloadDescriptor(partition_start=1, partition_id=0, picture_id=5),
        VpxPayloadDescriptor(partition_start=0, partition_id=0, picture_id=300),
        VpxPayloadDescriptor(partition_start=1, partition_id=0, picture_id=300, tl0picidx=7),
        VpxPayloadDescriptor(partition_start=1, partition_id=0, tid=(1, 1), keyidx=3),
    ],
)
def test_vp8_descriptor_length_matches_aiortc(descriptor: VpxPayloadDescriptor) -> None:
    payload = bytes(descriptor) + b"frame"
    assert payload[vp8_descriptor_length(payload) :] == vp8_depayload(payload) == b"frame"


def test_abs_send_time_is_read_in_place() -> None:
    extensions = HeaderExtensionsMap()
    extensions.configure(parameters("video", {MID: 4, ABS: 3}))
    values = HeaderExtensions(mid="1", abs_send_time=0x123456)
    profile, value = extensions.set(values)
    header = profile.to_bytes(2, "big") + (len(value) // 4).to_bytes(2, "big") + value
    assert _abs_send_time(header, 0, len(header), 3) == 0x123456
    assert _abs_send_time(header, 0, len(header), 5) is None
