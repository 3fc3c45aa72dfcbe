"""Synthetic room participants: real aiortc peers that join over the real WebSocket.

Media is made at test time and encoded once up front (stereo Opus tones, different left and
right, at a chosen bitrate; VP8 frames of a moving pattern), then sent in real time as
``av.Packet``s, so each packet is unique and the participants cost little CPU (the benchmark
runs many). Every candidate stays on 127.0.0.1 (``AddressPolicy``): nothing leaves loopback.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import websockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from video.forwarding import MediaPacket, PacketTap
from video.ice import AddressPolicy
from video.red import PassThroughPacker, RedBlock, build

LOOPBACK = AddressPolicy(("127.0.0.1",))


def no_ice_servers() -> RTCConfiguration:
    """An explicitly empty list: aiortc's default would ask Google's public STUN server."""
    return RTCConfiguration(iceServers=[])


OPUS_RATE = 48_000
OPUS_FRAME = 960


def stereo_tone(seconds: float, left_hz: float, right_hz: float, level: float = 0.3) -> np.ndarray:
    """Float samples, shape (n, 2): a different sine in each channel."""
    t = np.arange(int(seconds * OPUS_RATE)) / OPUS_RATE
    left = level * np.sin(2 * math.pi * left_hz * t)
    right = level * np.sin(2 * math.pi * right_hz * t)
    # A little noise (-60 dB) so no two packets are alike: a pure tone repeats every few frames.
    noise = np.random.default_rng(7).normal(0, 0.001, (len(t), 2))
    return (np.stack([left, right], axis=1) + noise).astype(np.float32)


def encode_opus(samples: np.ndarray, bitrate_kbps: int) -> list[bytes]:
    """Stereo Opus packets of 20 ms (application "audio", constrained VBR)."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = OPUS_RATE
    codec.layout = "stereo"
    codec.format = "flt"
    codec.bit_rate = bitrate_kbps * 1000
    codec.options = {"application": "audio", "vbr": "constrained"}
    codec.time_base = fractions.Fraction(1, OPUS_RATE)
    packets: list[bytes] = []
    for start in range(0, len(samples) - OPUS_FRAME + 1, OPUS_FRAME):
        block = np.ascontiguousarray(samples[start : start + OPUS_FRAME]).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(block, format="flt", layout="stereo")
        frame.sample_rate = OPUS_RATE
        frame.pts = start
        packets += [bytes(p) for p in codec.encode(frame)]
    packets += [bytes(p) for p in codec.encode(None)]
    return packets


def encode_vp8(
    frames: int, width: int = 640, height: int = 480, fps: int = 30, bitrate: int = 1_000_000
) -> list[tuple[bytes, bool]]:
    """VP8 frames of a moving gradient, the first a keyframe (one every 2 s after that)."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.time_base = fractions.Fraction(1, fps)
    codec.bit_rate = bitrate
    codec.gop_size = fps * 2
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[tuple[bytes, bool]] = []
    x = np.arange(width, dtype=np.uint16)
    for index in range(frames):
        y_plane = ((x[None, :] + index * 4) % 256).astype(np.uint8).repeat(height, axis=0)
        # The frame number in binary, as blocks along the top: no two frames are alike.
        for bit in range(12):
            y_plane[:16, bit * 16 : bit * 16 + 16] = 235 if index >> bit & 1 else 16
        chroma = np.full((height // 2, width // 2), 128, dtype=np.uint8)
        stacked = np.vstack([y_plane, chroma.reshape(-1, width), chroma.reshape(-1, width)])
        frame = av.VideoFrame.from_ndarray(stacked, format="yuv420p")
        frame.pts = index
        out += [(bytes(p), p.is_keyframe) for p in codec.encode(frame)]
    out += [(bytes(p), p.is_keyframe) for p in codec.encode(None)]
    return out


class PacedPackets(MediaStreamTrack):
    """Pre-encoded packets sent in real time; ``sent`` keeps every payload in order."""

    def __init__(self, kind: str, payloads: list[bytes], frame_seconds: float, clock: int) -> None:
        super().__init__()
        self.kind = kind
        self.payloads = payloads
        self.frame_seconds = frame_seconds
        self.step = int(clock * frame_seconds)
        self.time_base = fractions.Fraction(1, clock)
        self.sent: list[bytes] = []
        self.sent_at: list[float] = []
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index * self.frame_seconds
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        payload = self.payloads[self._index % len(self.payloads)]
        packet = av.Packet(payload)
        packet.pts = self._index * self.step
        packet.time_base = self.time_base
        self._index += 1
        self.sent.append(payload)
        self.sent_at.append(time.monotonic())
        return packet


def opus_track(seconds: float, left_hz: float, right_hz: float, kbps: int = 192) -> PacedPackets:
    packets = encode_opus(stereo_tone(seconds, left_hz, right_hz), kbps)
    return PacedPackets("audio", packets, 0.020, OPUS_RATE)


def red_opus_track(
    seconds: float, left_hz: float, right_hz: float, opus_type: int, kbps: int = 192
) -> PacedPackets:
    """RED payloads as Chromium sends them: each Opus packet with the previous one repeated."""
    packets = encode_opus(stereo_tone(seconds, left_hz, right_hz), kbps)
    payloads = [
        build(packet, [RedBlock(OPUS_FRAME, packets[i - 1])] if i else [], opus_type)
        for i, packet in enumerate(packets)
    ]
    return PacedPackets("audio", payloads, 0.020, OPUS_RATE)


def vp8_track(frames: list[tuple[bytes, bool]]) -> PacedPackets:
    return PacedPackets("video", [data for data, _ in frames], 1 / 30, 90_000)


@dataclass
class Received:
    """What a participant got from the room, without decoding it."""

    packets: dict[str, list[MediaPacket]] = field(
        default_factory=lambda: {"audio": [], "video": []}
    )
    raw_payloads: list[bytes] = field(default_factory=list)  # audio RTP payloads as they came


class RoomClient:
    """A participant: the WebSocket and one aiortc peer connection, like a browser."""

    def __init__(self, base_url: str, booking_id: int, token: str) -> None:
        self.ws_url = base_url.replace("http://", "ws://") + f"/lessons/{booking_id}/room/ws"
        self.token = token
        self.ws: Any = None
        self.pc: RTCPeerConnection | None = None
        self.welcome: dict[str, Any] = {}
        self.messages: list[dict[str, Any]] = []
        self.answer_sdp = ""
        self.offer_sdp = ""
        self.received = Received()
        self.tracks: list[PacedPackets] = []
        self.taps: list[PacketTap] = []
        self._reader: asyncio.Task[None] | None = None
        self._answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.on_media: Callable[[MediaPacket], None] | None = None

    async def connect(self) -> dict[str, Any]:
        self.ws = await websockets.connect(
            self.ws_url, additional_headers={"Authorization": f"Bearer {self.token}"}
        )
        self.welcome = json.loads(await self.ws.recv())
        self._reader = asyncio.create_task(self._read())
        return self.welcome

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                self.messages.append(message)
                if message["type"] in ("answer", "error"):
                    await self._answers.put(message)
        except websockets.ConnectionClosed:
            pass

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def join_media(
        self,
        tracks: list[PacedPackets],
        *,
        receive_slots: int = 1,
        capture_raw: bool = True,
        red: bool = False,
    ) -> str:
        """Offer our tracks (sendrecv) plus receive-only slots; wait for the answer.

        With ``red``, audio is offered as a browser asking for RED does (RED before Opus), and
        the audio track's packets must be RED payloads already (``red_opus_track``)."""
        pc = RTCPeerConnection(no_ice_servers())
        self.pc = pc
        self.tracks = tracks
        by_kind = {t.kind: t for t in tracks}
        for slot in range(receive_slots):
            for kind in ("audio", "video"):
                track = by_kind.get(kind) if slot == 0 else None
                if track is not None:
                    transceiver = pc.addTransceiver(track, direction="sendrecv")
                else:
                    transceiver = pc.addTransceiver(kind, direction="recvonly")
                if red and kind == "audio":
                    caps = {c.name.lower(): c for c in RTCRtpSender.getCapabilities("audio").codecs}
                    transceiver.setCodecPreferences([caps["red"], caps["opus"]])
                    transceiver.sender._RTCRtpSender__encoder = PassThroughPacker()  # type: ignore[attr-defined]
        LOOPBACK.apply(pc)
        await pc.setLocalDescription(await pc.createOffer())
        self.offer_sdp = pc.localDescription.sdp
        await self.send({"type": "offer", "sdp": self.offer_sdp})
        reply = await asyncio.wait_for(self._answers.get(), 20)
        if reply["type"] == "error":
            raise RuntimeError(reply)
        self.answer_sdp = reply["sdp"]
        for transceiver in pc.getTransceivers():
            kind = transceiver.kind
            tap = PacketTap.install(transceiver.receiver, kind, self._deliver)
            if capture_raw and kind == "audio":
                self._capture(transceiver.receiver)
            self.taps.append(tap)
        await pc.setRemoteDescription(RTCSessionDescription(self.answer_sdp, "answer"))
        return self.answer_sdp

    def _deliver(self, packet: MediaPacket) -> None:
        self.received.packets[packet.kind].append(packet)
        if self.on_media is not None:
            self.on_media(packet)

    def _capture(self, receiver: Any) -> None:
        original = receiver._handle_rtp_packet

        async def capture(packet: Any, arrival_time_ms: int) -> None:
            self.received.raw_payloads.append(bytes(packet.payload))
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = capture

    async def connected(self, within: float = 20) -> None:
        deadline = time.monotonic() + within
        while self.pc is None or self.pc.connectionState != "connected":
            if time.monotonic() > deadline:
                state = self.pc.connectionState if self.pc else "none"
                raise TimeoutError(f"peer connection is {state}")
            await asyncio.sleep(0.05)

    async def wait_for(self, predicate: Callable[[], bool], within: float = 15) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met")
            await asyncio.sleep(0.05)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    async def close_media(self) -> None:
        if self.pc is not None:
            await self.pc.close()
            self.pc = None

    async def close(self) -> None:
        await self.close_media()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
