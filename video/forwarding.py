"""Forward encoded media through aiortc without decoding it, and without its jitter buffer.

aiortc's receiver reassembles RTP into frames in a jitter buffer and decodes every frame in a
thread; its sender encodes frames again (Opus at a hard-coded 96 kbit/s "voip"). A room that
works like that re-encodes music, costs a core per few participants, and adds delay: the audio
jitter buffer holds 80 ms and, after one lost packet, stalls and then holds about 280 ms for good.

Instead, each receiver's jitter buffer is replaced by a ``PacketTap``. aiortc still decrypts,
unwraps retransmissions, sends NACKs, receiver reports and bandwidth estimates (for a known media
stream ``video.fastpath`` does that same work in the socket's callback); the tap gets every
packet right there and hands it on at once: an Opus packet as it is, a VP8 frame as soon as its
last packet is in (the marker bit), in order, dropping a frame only when it cannot be completed.
Nothing reaches aiortc's decoder, so nothing is decoded and no track queue grows. A
``ForwardedTrack`` is the sender's track: once its connection is up it sends each packet at once
through a ``video.fastpath.RtpWriter`` (before that, it queues them as ``av.Packet``s for
aiortc's sender); either way Opus payload bytes go unchanged and a VP8 frame's bytes unchanged,
under a new payload descriptor. Keyframe requests (PLI) from a receiving browser reach the sending
participant through the room, throttled. Audio that arrives as RED (``video.red``) is split once
here; it leaves as RED to connections that negotiated it and as its primary Opus block to the
others, and an Opus packet lost before the server is rebuilt from the next packet's redundancy.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpSendParameters

from marketplace.observability import media as media_metrics
from video import red
from video.fastpath import RtpWriter
from video.packets import CLOCK, MASK32, LatencyStats, MediaPacket, newer

logger = logging.getLogger(__name__)

TIME_BASE = {kind: fractions.Fraction(1, rate) for kind, rate in CLOCK.items()}
DEFAULT_STEP = {"audio": 960, "video": 3_000}  # 20 ms of Opus; a frame at 30 fps
KEYFRAME_INTERVAL_S = 0.5  # at most one keyframe request per source this often
MAX_PENDING_FRAMES = 6  # VP8 frames waiting for a retransmission before one is given up
MAX_FRAME_WAIT_NS = 150_000_000  # ... or this long
QUEUE_LIMIT = {"audio": 25, "video": 60}  # per output; beyond this the oldest is dropped
MAX_REBASE_GAP_NS = 3_600 * 1_000_000_000  # a gap longer than this still advances one hour


class LossCounter:
    """Packets missing on the way from a participant to the server, from RTP sequence numbers
    (the forwarded stream is renumbered, so the receiving browser cannot see these)."""

    def __init__(self, windows: int = 1) -> None:
        self.received = 0
        self._first: int | None = None
        self._highest = 0  # extended (never wraps)
        # (expected, received) at the last ``windows`` samples: loss is measured over them all,
        # so a figure taken every 2 s still rests on enough packets to mean something.
        self._sampled: deque[tuple[int, int]] = deque([(0, 0)], maxlen=windows)
        self.recent: float | None = None  # the fraction lost over the last windows

    def add(self, sequence_number: int) -> None:
        self.received += 1
        if self._first is None:
            self._first = self._highest = sequence_number
            return
        step = (sequence_number - self._highest) & 0xFFFF
        if step < 0x8000:
            self._highest += step

    @property
    def expected(self) -> int:
        return 0 if self._first is None else self._highest - self._first + 1

    def sample(self) -> float | None:
        """Close a measuring window: the fraction lost in it (None when nothing was expected)."""
        expected, received = self.expected, self.received
        window = expected - self._sampled[0][0]
        got = received - self._sampled[0][1]
        self._sampled.append((expected, received))
        self.recent = max(0, window - got) / window if window > 0 else None
        return self.recent


class KeyframeRequester:
    """Sends a PLI to a source at most every ``KEYFRAME_INTERVAL_S``; a request inside the
    interval is kept and sent when it ends, never dropped."""

    def __init__(self, send: Callable[[], None], interval: float = KEYFRAME_INTERVAL_S) -> None:
        self._send = send
        self._interval = interval
        self._last = -1e9
        self._pending: asyncio.TimerHandle | None = None
        self.sent = 0

    def request(self) -> None:
        now = time.monotonic()
        wait = self._last + self._interval - now
        if wait <= 0:
            self._fire()
        elif self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(wait, self._fire)

    def _fire(self) -> None:
        self._pending = None
        self._last = time.monotonic()
        self.sent += 1
        self._send()

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


@dataclass
class _Frame:
    first_arrival_ns: int
    parts: dict[int, bytes] = field(default_factory=dict)  # sequence number -> VP8 data
    first_seq: int | None = None
    last_seq: int | None = None
    last_arrival_ns: int = 0

    def complete(self) -> bool:
        if self.first_seq is None or self.last_seq is None:
            return False
        return len(self.parts) == ((self.last_seq - self.first_seq) & 0xFFFF) + 1

    def data(self) -> bytes:
        assert self.first_seq is not None
        count = len(self.parts)
        return b"".join(self.parts[(self.first_seq + i) & 0xFFFF] for i in range(count))


class PacketTap:
    """Stands in for an ``RTCRtpReceiver``'s jitter buffer (same ``add`` contract: returns
    ``(send_pli, frame)``; the frame is always None, so aiortc never decodes anything)."""

    capacity = 0

    def __init__(
        self,
        kind: str,
        deliver: Callable[[MediaPacket], None],
        red_types: frozenset[int] = frozenset(),
        opus_types: frozenset[int] = frozenset(),
    ) -> None:
        if kind not in CLOCK:
            raise ValueError(kind)
        self.kind = kind
        self.deliver = deliver
        self.red_types = red_types  # payload types that carry RED (of ``opus_types``)
        self.opus_types = opus_types
        self.packets = 0
        self.malformed = 0  # RED packets that could not be split, dropped
        self.recovered = 0  # Opus packets lost on the way here, rebuilt from RED redundancy
        self.loss = LossCounter(windows=5)  # sampled every 2 s by the room: over 10 s
        self.frames_dropped = 0
        self.media_ssrc: int | None = None
        self.keyframes: KeyframeRequester | None = None
        self._last_ts: int | None = None
        self._frames: dict[int, _Frame] = {}
        self._broken = True  # video: forward nothing until a keyframe
        self._sending: set[asyncio.Future[None]] = set()

    @classmethod
    def install(
        cls,
        receiver: RTCRtpReceiver,
        kind: str,
        deliver: Callable[[MediaPacket], None],
        red_types: frozenset[int] = frozenset(),
        opus_types: frozenset[int] = frozenset(),
    ) -> PacketTap:
        tap = cls(kind, deliver, red_types, opus_types)
        # aiortc 1.x keeps the jitter buffer in a private attribute; this is the one private
        # name the room depends on (pinned to aiortc < 2 and covered by tests/video).
        attribute = "_RTCRtpReceiver__jitter_buffer"
        if not hasattr(receiver, attribute):
            raise RuntimeError("this aiortc version has no receiver jitter buffer to replace")
        setattr(receiver, attribute, tap)

        def send_pli() -> None:
            if tap.media_ssrc is not None:
                task = asyncio.ensure_future(receiver._send_rtcp_pli(tap.media_ssrc))
                tap._sending.add(task)
                task.add_done_callback(tap._sending.discard)

        tap.keyframes = KeyframeRequester(send_pli)
        return tap

    def request_keyframe(self) -> None:
        if self.kind == "video" and self.keyframes is not None:
            self.keyframes.request()

    def close(self) -> None:
        if self.keyframes is not None:
            self.keyframes.cancel()
        self._frames.clear()

    # -- the jitter buffer contract

    def add(self, packet: Any) -> tuple[bool, None]:
        self.packets += 1
        self.media_ssrc = packet.ssrc
        self.loss.add(packet.sequence_number)
        if self.kind == "audio":
            self._add_audio(packet)
        else:
            self._add_video(packet)
        return False, None

    def _add_audio(self, packet: Any) -> None:
        ts = packet.timestamp
        data: bytes = packet._data
        redundancy: tuple[red.RedBlock, ...] = ()
        if self.red_types and packet.payload_type in self.red_types:
            try:
                data, redundancy = red.parse(data, self.opus_types)
            except red.MalformedRed as exc:
                self.malformed += 1
                logger.debug("dropped a RED packet: %s", exc)
                return
        last = self._last_ts
        if last is not None and not newer(ts, last):
            return  # late or duplicate: the receiver has moved on
        now = time.perf_counter_ns()
        if last is not None:
            # Packets lost on the way here, rebuilt from the redundancy (oldest first): every
            # receiver gets them, including those without RED, and so does the recording.
            for block in redundancy:
                block_ts = (ts - block.offset) & MASK32
                if block.data and newer(block_ts, last):
                    self.recovered += 1
                    last = block_ts
                    self.deliver(MediaPacket("audio", block.data, block_ts, True, now, (), True))
        self._last_ts = ts
        if data:
            self.deliver(MediaPacket("audio", data, ts, True, now, redundancy))

    def _add_video(self, packet: Any) -> None:
        ts = packet.timestamp
        if self._last_ts is not None and not newer(ts, self._last_ts):
            return  # a retransmission of a frame already forwarded or given up
        now = time.perf_counter_ns()
        frame = self._frames.get(ts)
        if frame is None:
            frame = self._frames[ts] = _Frame(first_arrival_ns=now)
        payload = packet.payload
        if not payload:
            return
        frame.parts[packet.sequence_number] = packet._data
        frame.last_arrival_ns = now
        if payload[0] & 0x10 and payload[0] & 0x07 == 0:  # S bit, partition 0: the first packet
            frame.first_seq = packet.sequence_number
        if packet.marker:
            frame.last_seq = packet.sequence_number
        self._release(now)

    def _release(self, now: int) -> None:
        """Hand on complete frames in timestamp order; give up a frame that waits too long."""
        while self._frames:
            head_ts = self._oldest()
            head = self._frames[head_ts]
            if head.complete():
                del self._frames[head_ts]
                self._last_ts = head_ts
                data = head.data()
                keyframe = bool(data) and data[0] & 0x01 == 0
                if keyframe:
                    self._broken = False
                if self._broken:
                    continue
                self.deliver(MediaPacket("video", data, head_ts, keyframe, head.last_arrival_ns))
                continue
            if (
                len(self._frames) > MAX_PENDING_FRAMES
                or now - head.first_arrival_ns > MAX_FRAME_WAIT_NS
            ):
                del self._frames[head_ts]
                self._last_ts = head_ts
                self.frames_dropped += 1
                if not self._broken:
                    self._broken = True
                    self.request_keyframe()
                continue
            return

    def _oldest(self) -> int:
        timestamps = iter(self._frames)
        oldest = next(timestamps)
        for ts in timestamps:
            if newer(oldest, ts):
                oldest = ts
        return oldest


class ForwardedTrack(MediaStreamTrack):
    """The track of one of the room's senders: media of whoever fills this slot, as packets.

    Timestamps are rebased when the source changes (a rejoin, a renegotiation), so the receiving
    browser sees one stream whose timestamps advance with the wall clock across the gap: were they
    to continue right after the old ones, every new packet would look late by the length of the
    gap and the receiver's jitter buffer would grow to absorb a delay that is not there.
    Video waits for a keyframe after a change or an overflow.
    """

    def __init__(self, kind: str, latency: LatencyStats | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.latency = latency
        self.on_keyframe_request: Callable[[], None] | None = None
        self.dropped = 0
        self._forwarded = media_metrics.packet_counter(kind)
        self._queue: deque[MediaPacket] = deque()
        self._limit = QUEUE_LIMIT[kind]
        self._waiter: asyncio.Future[None] | None = None
        self._source: object = None
        self._offset = 0
        self._last_out: int | None = None
        self._last_out_arrival_ns = 0
        self._step = DEFAULT_STEP[kind]
        self._need_keyframe = kind == "video"
        self._pending_rebase = False
        self._in_flight_ns: int | None = None
        # Audio: the Opus payload type to name inside RED blocks when this connection was
        # negotiated to send RED; None sends plain Opus (the primary block alone).
        self.red_opus_type: int | None = None
        # Once the sender starts (its connection is up): packets go out from ``push`` itself.
        self._writer: RtpWriter | None = None
        self._unreported = 0  # packets sent and not yet added to the metric

    def attach(self, sender: RTCRtpSender) -> None:
        """Route the sender's keyframe requests (PLI/FIR from the browser) to our source."""

        def keyframe_requested() -> None:
            if self.on_keyframe_request is not None:
                self.on_keyframe_request()

        # aiortc's sender would force its own encoder; it has none here, so ask the source.
        sender._send_keyframe = keyframe_requested  # type: ignore[method-assign]
        if self.kind == "audio":
            # aiortc picks its encoder by the first negotiated codec and has none for RED; the
            # packets are encoded already, so each one is a payload as it is (the second private
            # aiortc name the room depends on, next to the receiver's jitter buffer).
            attribute = "_RTCRtpSender__encoder"
            if not hasattr(sender, attribute):
                raise RuntimeError("this aiortc version has no sender encoder to replace")
            setattr(sender, attribute, red.PassThroughPacker())
        start = sender.send

        async def send(parameters: RTCRtpSendParameters) -> None:
            # aiortc calls this once the connection is up; from then on ``push`` sends each
            # packet itself, and the sender's own task waits in ``recv`` until the track stops.
            if self._writer is None:
                self._writer = RtpWriter(sender, parameters, self.kind)
            await start(parameters)
            while self._queue and self.readyState == "live":
                self._send(self._queue.popleft())

        sender.send = send  # type: ignore[method-assign]

    def push(self, packet: MediaPacket, source: object) -> None:
        if self.readyState != "live":
            return
        if source is not self._source:
            self._switch_to(source)
        if self._need_keyframe:
            if not packet.keyframe:
                return
            self._need_keyframe = False
        if len(self._queue) >= self._limit:
            # The sender is not keeping up (a stalled browser link): drop, never build a backlog.
            self.dropped += len(self._queue)
            self._queue.clear()
            if self.kind == "video":
                self._need_keyframe = True
                self._ask_keyframe()
                if not packet.keyframe:
                    return
                self._need_keyframe = False
        if self._writer is not None:
            self._send(packet)
            return
        self._queue.append(packet)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _switch_to(self, source: object) -> None:
        self._source = source
        self._queue.clear()
        if self.kind == "video":
            self._need_keyframe = True
        self._pending_rebase = True

    def _ask_keyframe(self) -> None:
        if self.on_keyframe_request is not None:
            self.on_keyframe_request()

    def _rebase(self, ts: int, arrival_ns: int) -> int:
        if self._pending_rebase:
            self._pending_rebase = False
            base = 0
            if self._last_out is not None:
                gap_ns = min(max(0, arrival_ns - self._last_out_arrival_ns), MAX_REBASE_GAP_NS)
                elapsed = gap_ns * CLOCK[self.kind] // 1_000_000_000
                base = self._last_out + max(self._step, elapsed)
            self._offset = (base - ts) & MASK32
        out = (ts + self._offset) & MASK32
        if self._last_out is not None:
            step = (out - self._last_out) & MASK32
            if 0 < step <= CLOCK[self.kind]:
                self._step = step
        self._last_out = out
        self._last_out_arrival_ns = arrival_ns
        return out

    def _send(self, media: MediaPacket) -> None:
        """Send at once on the connection (``recv``'s work, without the sender's task)."""
        writer = self._writer
        assert writer is not None
        rebased = self._pending_rebase
        pts = self._rebase(media.timestamp, media.arrival_ns)
        data = media.data
        if self.red_opus_type is not None:
            data = red.build(data, () if rebased else media.redundancy, self.red_opus_type)
        if writer.send(data, pts):
            # The metric takes a lock per call: counted here, handed on every 50 packets.
            self._unreported += 1
            if self._unreported >= 50:
                self._forwarded.inc(self._unreported)
                self._unreported = 0
            if self.latency is not None:
                self.latency.add(time.perf_counter_ns() - media.arrival_ns)

    async def recv(self) -> av.Packet[Any]:
        # The sender calls recv() again right after it sent the previous packet's RTP: that is
        # when the previous packet left the server.
        if self._in_flight_ns is not None and self.latency is not None:
            self.latency.add(time.perf_counter_ns() - self._in_flight_ns)
        self._in_flight_ns = None
        while not self._queue or self._writer is not None:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        media = self._queue.popleft()
        self._forwarded.inc()
        rebased = self._pending_rebase
        pts = self._rebase(media.timestamp, media.arrival_ns)
        data = media.data
        if self.red_opus_type is not None:
            # Redundancy from before a source change would describe the old stream's times.
            blocks = () if rebased else media.redundancy
            data = red.build(data, blocks, self.red_opus_type)
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = TIME_BASE[self.kind]
        self._in_flight_ns = media.arrival_ns
        return packet

    def stop(self) -> None:
        super().stop()
        if self._unreported:
            self._forwarded.inc(self._unreported)
            self._unreported = 0
        self._queue.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
