"""The room's media path through aiortc's transports, one plain function call per packet.

aiortc hands every received datagram to a queue read by a task per connection, parses it into an
``RtpPacket`` (header extensions into a dataclass, timestamps through ``datetime``), and sends
through a task per sender that wakes for every packet, builds another ``RtpPacket`` and awaits
four coroutines down to the socket. For a room that only forwards, that scheduling and those
objects were most of its CPU (docs/architecture.md, "Forwarding cost").

``FastReceive`` takes SRTP media datagrams of a peer connection straight from its socket's
protocol: it decrypts them with the connection's own SRTP session, reads the RTP header in
place, keeps aiortc's receiver statistics (receiver reports), NACKs and bandwidth estimate (REMB)
as aiortc would, and calls the receiver's ``PacketTap`` at once. Everything else (STUN, DTLS,
RTCP, retransmissions, the first packet of a new stream, before DTLS is up) takes aiortc's own
path. ``RtpWriter`` sends a forwarded packet from the caller: header and payload joined once,
encrypted with the connection's SRTP session, and written to the nominated ICE pair's socket;
it keeps the sender's counters for its sender reports and a history aiortc's sender answers
NACKs from. aiortc's sender task is still there, waiting on a track that never yields.

Both rely on private aiortc 1.x and aioice names, listed here, checked at install, and covered by
tests/video (aiortc is pinned below 2).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import pylibsrtp
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import RTCP_PSFB_APP, RTP_HISTORY_SIZE, RtcpPsfbPacket, RtpPacket, pack_remb_fci

from video.packets import MASK32

if TYPE_CHECKING:
    from video.forwarding import PacketTap

logger = logging.getLogger(__name__)

NTP_OFFSET = 2_208_988_800  # seconds from 1900 (NTP) to 1970 (Unix)
VP8_PAYLOAD_MAX = 1300 - 4  # aiortc's packet size, less our 4-byte VP8 payload descriptor
_HEADER = struct.Struct("!BBHLL")
_SEQ_TS = struct.Struct("!HL")
_SSRC = struct.Struct("!L")
_EXTENSION = struct.Struct("!HH")
_RECEIVER = "_RTCRtpReceiver__"
_SENDER = "_RTCRtpSender__"


class _Rtp:
    """The fields of a received packet that aiortc's statistics and the tap read (one per
    connection, reused: nothing keeps it)."""

    __slots__ = (
        "_data",
        "marker",
        "payload",
        "payload_type",
        "sequence_number",
        "ssrc",
        "timestamp",
    )

    def __init__(self) -> None:
        self.ssrc = self.payload_type = self.sequence_number = self.timestamp = self.marker = 0
        self.payload = self._data = b""


def vp8_descriptor_length(payload: bytes) -> int:
    """Bytes of the VP8 payload descriptor (RFC 7741) at the start of ``payload``."""
    position = 1
    if payload[0] & 0x80:
        extension = payload[1]
        position = 2
        if extension & 0x80:  # picture id: one byte, or two when its M bit is set
            position += 2 if payload[2] & 0x80 else 1
        if extension & 0x40:  # TL0PICIDX
            position += 1
        if extension & 0x30:  # TID / KEYIDX
            position += 1
    if position > len(payload):
        raise ValueError("VP8 payload descriptor runs past the packet")
    return position


def _abs_send_time(plain: bytes, start: int, end: int, identifier: int) -> int | None:
    """The abs-send-time in one-byte header extensions (RFC 8285) from ``start`` to ``end``,
    read in place (aiortc parses every extension into a new object first)."""
    if not identifier or plain[start] != 0xBE or plain[start + 1] != 0xDE:
        return None
    position = start + 4
    while position < end:
        byte = plain[position]
        if byte == 0:  # padding
            position += 1
            continue
        found, length = byte >> 4, (byte & 0x0F) + 1
        if found == 15:
            return None
        if found == identifier and length == 3 and position + 4 <= end:
            return plain[position + 1] << 16 | plain[position + 2] << 8 | plain[position + 3]
        position += 1 + length
    return None


class _Route:
    """One received stream (SSRC and payload type) that goes straight to its tap."""

    def __init__(self, receiver: Any, tap: PacketTap, codec: Any, extensions: Any) -> None:
        self.receiver = receiver
        self.tap = tap
        self.video = tap.kind == "video"
        self.clock_rate = codec.clockRate
        self.streams: dict[int, StreamStatistics] = getattr(receiver, _RECEIVER + "remote_streams")
        self.nacks = getattr(receiver, _RECEIVER + "nack_generator")
        self.estimator = getattr(receiver, _RECEIVER + "remote_bitrate_estimator")
        # The negotiated abs-send-time extension id, which the bandwidth estimate (REMB) needs.
        ids = getattr(extensions, "_HeaderExtensionsMap__ids", None)
        self.abs_send_time_id: int = getattr(ids, "abs_send_time", None) or 0
        self.packet = _Rtp()


class FastReceive:
    """Received SRTP media of one peer connection, handled in the socket's callback."""

    def __init__(self, dtls: Any, taps: dict[Any, PacketTap]) -> None:
        self.dtls = dtls
        self.taps = taps  # receiver -> its tap
        self.routes: dict[int, _Route] = {}  # (SSRC << 7 | payload type) -> route
        self._tasks: set[asyncio.Future[None]] = set()

    @classmethod
    def install(cls, pc: Any, taps: dict[Any, PacketTap]) -> list[FastReceive]:
        """Hook every socket of ``pc``'s ICE connection(s); call after setLocalDescription."""
        by_transport: dict[int, tuple[Any, dict[Any, PacketTap]]] = {}
        for receiver, tap in taps.items():
            dtls = receiver.transport
            by_transport.setdefault(id(dtls), (dtls, {}))[1][receiver] = tap
        installed = []
        for dtls, group in by_transport.values():
            fast = cls(dtls, group)
            connection = dtls.transport._connection
            for protocol in connection._protocols:
                fast._hook(protocol)
            installed.append(fast)
        return installed

    def _hook(self, protocol: Any) -> None:
        original = protocol.datagram_received
        receive = self.receive

        def datagram_received(data: bytes, addr: tuple[Any, ...]) -> None:
            # RTP (not RTCP: its payload types are 192..208) whose stream is known.
            rtp = 127 < data[0] < 192 and len(data) >= 12 and not 191 < data[1] < 209
            if rtp and receive(data):
                return
            original(data, addr)

        protocol.datagram_received = datagram_received

    def receive(self, data: bytes) -> bool:
        """Handle one SRTP packet; False leaves it to aiortc's own path."""
        srtp = self.dtls._rx_srtp
        if srtp is None:
            return False
        ssrc = _SSRC.unpack_from(data, 8)[0]
        route = self.routes.get(ssrc << 7 | (data[1] & 0x7F))
        if route is None:
            route = self._learn(ssrc, data[1] & 0x7F)
            if route is None:
                return False
        try:
            plain = srtp.unprotect(data)
        except pylibsrtp.Error:
            return True  # aiortc drops these too
        self._handle(route, ssrc, plain)
        return True

    def _learn(self, ssrc: int, payload_type: int) -> _Route | None:
        """A stream aiortc has routed already (its first packet went aiortc's way) to a tapped
        receiver, of a media codec: retransmissions (RTX) stay with aiortc, which unwraps them."""
        receiver = self.dtls._rtp_router.ssrc_table.get(ssrc)
        tap = self.taps.get(receiver)
        if tap is None:
            return None
        codec = getattr(receiver, _RECEIVER + "codecs").get(payload_type)
        if codec is None or is_rtx(codec):
            return None
        route = _Route(receiver, tap, codec, self.dtls._rtp_header_extensions_map)
        self.routes[ssrc << 7 | payload_type] = route
        return route

    def _handle(self, route: _Route, ssrc: int, plain: bytes) -> None:
        """What aiortc's ``RTCRtpReceiver._handle_rtp_packet`` does, without a parse into an
        ``RtpPacket`` and without awaiting: statistics, REMB, NACK, the tap."""
        first = plain[0]
        end = len(plain)
        position = 12 + 4 * (first & 0x0F)
        extension_start = 0
        if first & 0x10:
            if end < position + 4:
                return
            extension_start = position
            position += 4 + 4 * _EXTENSION.unpack_from(plain, position)[1]
        padding = plain[-1] if first & 0x20 else 0
        end -= padding
        if position > end or first >> 6 != 2:
            return
        receiver = route.receiver
        if not receiver._enabled:
            return
        sequence_number, timestamp = _SEQ_TS.unpack_from(plain, 2)
        payload = plain[position:end]
        if route.estimator is not None and extension_start:
            self._estimate(route, ssrc, plain, extension_start, position, len(payload) + padding)
        packet = route.packet
        packet.ssrc = ssrc
        packet.payload_type = plain[1] & 0x7F
        packet.marker = plain[1] >> 7
        packet.sequence_number = sequence_number
        packet.timestamp = timestamp
        stats = route.streams.get(ssrc)
        if stats is None:
            stats = route.streams[ssrc] = StreamStatistics(route.clock_rate)
        stats.add(packet)  # type: ignore[arg-type]
        if route.nacks is not None and route.nacks.add(packet):
            self._spawn(receiver._send_rtcp_nack(ssrc, sorted(route.nacks.missing)))
        if route.video:
            if not payload:
                return
            try:
                packet._data = payload[vp8_descriptor_length(payload) :]
            except (ValueError, IndexError):
                return
        else:
            packet._data = payload
        packet.payload = payload
        route.tap.add(packet)

    def _estimate(
        self, route: _Route, ssrc: int, plain: bytes, start: int, end: int, size: int
    ) -> None:
        abs_send_time = _abs_send_time(plain, start, end, route.abs_send_time_id)
        if abs_send_time is None:
            return
        remb = route.estimator.add(
            abs_send_time=abs_send_time,
            arrival_time_ms=int((time.time() + NTP_OFFSET) * 1000),
            payload_size=size,
            ssrc=ssrc,
        )
        rtcp_ssrc = getattr(route.receiver, _RECEIVER + "rtcp_ssrc")
        if remb is not None and rtcp_ssrc is not None:
            feedback = RtcpPsfbPacket(
                fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb)
            )
            self._spawn(route.receiver._send_rtcp(feedback))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _History(dict):  # type: ignore[type-arg]
    """The sender's retransmission history, as aiortc's sender reads it (``get`` by sequence
    number modulo its size), kept as plain tuples and made an ``RtpPacket`` only when asked."""

    def __init__(self, writer: RtpWriter) -> None:
        super().__init__()
        self.writer = writer

    def get(self, key: Any, default: Any = None) -> Any:
        kept = super().get(key)
        if kept is None:
            return default
        sequence_number, timestamp, marker, payload, abs_send_time = kept
        writer = self.writer
        packet = RtpPacket(
            payload_type=writer.payload_type,
            marker=marker,
            sequence_number=sequence_number,
            timestamp=timestamp,
            ssrc=writer.ssrc,
            payload=payload,
        )
        packet.extensions.mid = writer.mid
        packet.extensions.abs_send_time = abs_send_time
        return packet


class RtpWriter:
    """Sends one ``ForwardedTrack``'s packets on its aiortc sender's connection, synchronously."""

    def __init__(self, sender: Any, parameters: RTCRtpSendParameters, kind: str) -> None:
        codec = parameters.codecs[0]
        self.sender = sender
        self.dtls = sender.transport
        self.video = kind == "video"
        assert codec.payloadType is not None
        self.payload_type: int = codec.payloadType
        self.ssrc: int = sender._ssrc
        self.mid: str | None = parameters.muxId
        self.sequence = random_sequence_number()
        self.origin = secrets.randbits(32)
        self.picture_id = secrets.randbelow(1 << 15)
        ids = {ext.uri: ext.id for ext in parameters.headerExtensions}
        self.abs_id = ids.get("http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", 0)
        if not 0 < self.abs_id <= 14:
            self.abs_id = 0
        mid_id = ids.get("urn:ietf:params:rtp-hdrext:sdes:mid", 0)
        # One-byte header extensions (RFC 8285) as aiortc's sender writes them: the MID, and
        # the abs-send-time, which changes per packet and so is packed with the header.
        fixed = b""
        mid = (self.mid or "").encode()
        if mid and 0 < mid_id <= 14 and len(mid) <= 16:
            fixed = bytes([mid_id << 4 | (len(mid) - 1)]) + mid
        length = len(fixed) + (4 if self.abs_id else 0)
        self.tail = fixed + b"\x00" * (-length % 4)
        words = (length + 3) // 4
        self.extension = bool(length)
        if self.abs_id:
            self.header = struct.Struct("!BBHLLHHL")
        elif length:
            self.header = struct.Struct("!BBHLLHH")
        else:
            self.header = _HEADER
        self.words = words
        self.history = _History(self)
        self.octets = self.packets = 0
        setattr(sender, _SENDER + "rtp_history", self.history)

    def send(self, data: bytes, pts: int) -> bool:
        """One Opus payload (as it is) or one VP8 frame (split into packets); False when the
        connection cannot send (not connected, or the sender is disabled)."""
        dtls = self.dtls
        if dtls._state is not State.CONNECTED or not self.sender._enabled:
            return False
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            return False
        transport = pair.protocol.transport
        address = pair.remote_addr
        protect = dtls._tx_srtp.protect
        ntp = int((time.time() + NTP_OFFSET) * 4294967296)
        abs_send_time = (ntp >> 14) & 0x00FFFFFF
        timestamp = (self.origin + pts) & MASK32
        payloads = self._packetize(data) if self.video else (data,)
        if not payloads:
            return True
        last = len(payloads) - 1
        sequence = self.sequence
        history = self.history
        for index, payload in enumerate(payloads):
            marker = 0x80 if index == last else 0
            header = self._pack(marker, sequence, timestamp, abs_send_time)
            transport.sendto(protect(header + payload), address)
            if self.video:
                history[sequence % RTP_HISTORY_SIZE] = (
                    sequence,
                    timestamp,
                    marker >> 7,
                    payload,
                    abs_send_time,
                )
            self.octets += len(payload)
            sequence = (sequence + 1) & 0xFFFF
        self.sequence = sequence
        self.packets += len(payloads)
        sender = self.sender
        # What aiortc's sender reports keep (its RTCP task reads them for sender reports).
        setattr(sender, _SENDER + "ntp_timestamp", ntp)
        setattr(sender, _SENDER + "rtp_timestamp", timestamp)
        setattr(sender, _SENDER + "octet_count", self.octets)
        setattr(sender, _SENDER + "packet_count", self.packets)
        return True

    def _pack(self, marker: int, sequence: int, timestamp: int, abs_send_time: int) -> bytes:
        second = marker | self.payload_type
        if self.abs_id:
            return (
                self.header.pack(
                    0x90,
                    second,
                    sequence,
                    timestamp,
                    self.ssrc,
                    0xBEDE,
                    self.words,
                    (self.abs_id << 4 | 2) << 24 | abs_send_time,
                )
                + self.tail
            )
        if self.extension:
            return (
                self.header.pack(0x90, second, sequence, timestamp, self.ssrc, 0xBEDE, self.words)
                + self.tail
            )
        return self.header.pack(0x80, second, sequence, timestamp, self.ssrc)

    def _packetize(self, frame: bytes) -> list[bytes]:
        """A VP8 frame in packets, each with the payload descriptor aiortc writes (extended,
        with a 15-bit picture id; S set on the first)."""
        picture = self.picture_id
        self.picture_id = (picture + 1) & 0x7FFF
        rest = bytes((0x80, 0x80 | picture >> 8, picture & 0xFF))
        first, later = b"\x90" + rest, b"\x80" + rest
        payloads = [
            (later if start else first) + frame[start : start + VP8_PAYLOAD_MAX]
            for start in range(0, len(frame), VP8_PAYLOAD_MAX)
        ]
        return payloads
