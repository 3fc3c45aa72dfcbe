"""Recording while the lesson runs: each participant's packets into files, as they arrive.

Only while both sides have agreed (``LessonRoom`` consent) and someone is connected. Opus goes
into Ogg and VP8 into WebM with ``av``, muxed, never re-encoded; the RTP timestamps become the
packets' times, so a lost packet stays a gap. Writing happens in one thread per room in batches
(a slow disk must not stall forwarding). A rejoin, or consent withdrawn and given again, starts a
new track file; after the lesson the job ``video.finish_recording`` mixes every track into one
file (``video.mixing``).

The process holding the room may die at any moment (kill -9): a track is reported when its file
is opened (its row then says where it starts) and again when the file is closed, and what is
written reaches the file at least every second or so (a batch is handed over after
``FLUSH_SECONDS``; Ogg ends a page and WebM a cluster every second, and the muxer flushes its
buffer after each), so the file left behind holds all but about the last two seconds and reads
without its trailer.
"""

from __future__ import annotations

import fractions
import logging
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from video.packets import CLOCK, MASK32, MediaPacket

logger = logging.getLogger(__name__)

FLUSH_EVERY = 25  # packets per batch handed to the writer thread
FLUSH_SECONDS = 1.0  # ... or sooner: a slow video (a still screen) must not wait 25 frames
EXTENSIONS = {"audio": "ogg", "video": "webm"}
# The muxers' own buffering, bounded: an Ogg page or a WebM cluster ends every second (a cluster
# would otherwise wait for a keyframe, which a browser sends only when asked), and each write
# goes to the file at once instead of waiting in the 32 kB I/O buffer.
MUXER_OPTIONS = {
    "audio": {"flush_packets": "1", "page_duration": "1000000"},
    "video": {"flush_packets": "1", "cluster_time_limit": "1000"},
}


@dataclass(frozen=True)
class TrackFile:
    """A track for ``recording_tracks``: reported when its file is opened (``ended_at`` None,
    so a process that dies still leaves it known) and again when the file is closed."""

    user_id: int
    kind: str
    key: str  # relative to the recordings root
    started_at: datetime
    ended_at: datetime | None
    packets: int


def vp8_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386, section 9.1)."""
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


class TrackWriter:
    """One participant's audio or video, from its first packet (video: first keyframe)."""

    def __init__(
        self, root: Path, recording_id: int, user_id: int, kind: str, source: object = None
    ) -> None:
        self.user_id = user_id
        self.source = source
        self.kind = kind
        self.key = (
            f"{recording_id}/tracks/{user_id}-{kind}-{secrets.token_hex(4)}.{EXTENSIONS[kind]}"
        )
        self.path = root / self.key
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.packets = 0
        self._first_ts: int | None = None
        self._last_ts = 0
        self._pts = 0
        self._batch: list[tuple[bytes, int, bool]] = []
        self._batch_since = 0.0
        self._container: Any = None
        self._stream: Any = None

    # -- on the event loop

    def take(self, packet: MediaPacket) -> list[tuple[bytes, int, bool]] | None:
        """Accept a packet; returns a batch to write when one is full."""
        if self._first_ts is None:
            if self.kind == "video" and not packet.keyframe:
                return None
            self._first_ts = self._last_ts = packet.timestamp
            self.started_at = datetime.now(UTC)
        else:
            self._pts += (packet.timestamp - self._last_ts) & MASK32
            self._last_ts = packet.timestamp
        self.ended_at = datetime.now(UTC)
        self.packets += 1
        if not self._batch:
            self._batch_since = time.monotonic()
        self._batch.append((packet.data, self._pts, packet.keyframe))
        if len(self._batch) >= FLUSH_EVERY or time.monotonic() - self._batch_since >= FLUSH_SECONDS:
            return self.drain()
        return None

    def drain(self) -> list[tuple[bytes, int, bool]]:
        batch, self._batch = self._batch, []
        return batch

    # -- in the writer thread

    def write(
        self, batch: list[tuple[bytes, int, bool]], on_open: Callable[[], None] | None = None
    ) -> None:
        """Mux ``batch``; ``on_open`` is called once the file exists (the track's start)."""
        import av  # the media stack only where media is written, not when the app starts

        for data, pts, keyframe in batch:
            if self._container is None:
                if not self._open(data):
                    continue
                if on_open is not None:
                    on_open()
            packet = av.Packet(data)
            packet.pts = packet.dts = pts
            packet.time_base = fractions.Fraction(1, CLOCK[self.kind])
            packet.is_keyframe = keyframe
            packet.stream = self._stream
            self._container.mux(packet)

    def _open(self, first: bytes) -> bool:
        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        stream: Any
        if self.kind == "audio":
            container = av.open(str(self.path), "w", format="ogg", options=MUXER_OPTIONS["audio"])
            stream = container.add_stream("libopus", rate=48_000, layout="stereo")
        else:
            size = vp8_size(first)
            if size is None:
                return False
            container = av.open(str(self.path), "w", format="webm", options=MUXER_OPTIONS["video"])
            stream = container.add_stream("libvpx", rate=30)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
        stream.time_base = fractions.Fraction(1, CLOCK[self.kind])
        self._container, self._stream = container, stream
        return True

    def finish(self) -> bool:
        """Close the file; False when nothing was written (no file)."""
        if self._container is None:
            return False
        self._container.close()
        self._container = None
        return True


class RoomRecorder:
    """The room's media sink while recording: a writer per participant and kind."""

    def __init__(
        self,
        root: Path,
        recording_id: int,
        on_track: Callable[[TrackFile], None],
    ) -> None:
        self.root = root
        self.recording_id = recording_id
        self.on_track = on_track
        self._writers: dict[tuple[int, str], TrackWriter] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self.closed = False

    def write(self, user_id: int, packet: MediaPacket, source: object = None) -> None:
        if self.closed:
            return
        writer = self._writers.get((user_id, packet.kind))
        if writer is not None and writer.source is not source:
            # A new peer connection (a rejoin): its own RTP timestamps, so a new track file.
            self._finish(self._writers.pop((user_id, packet.kind)))
            writer = None
        if writer is None:
            writer = TrackWriter(self.root, self.recording_id, user_id, packet.kind, source)
            self._writers[(user_id, packet.kind)] = writer
        batch = writer.take(packet)
        if batch:
            self._submit(writer.write, batch, lambda: self._report(writer, finished=False))

    def _submit(self, fn: Callable[..., Any], *args: Any) -> None:
        future = self._pool.submit(fn, *args)
        future.add_done_callback(_log_failure)

    def users(self) -> set[int]:
        """Whose tracks are being written now."""
        return {user_id for user_id, _ in self._writers}

    def end_track(self, user_id: int) -> None:
        """``user_id`` left or reconnected: their next packets start new files."""
        for key in [k for k in self._writers if k[0] == user_id]:
            self._finish(self._writers.pop(key))

    def _report(self, writer: TrackWriter, *, finished: bool) -> None:
        """In the writer thread: the track's file was opened, or closed."""
        assert writer.started_at is not None
        self.on_track(
            TrackFile(
                writer.user_id,
                writer.kind,
                writer.key,
                writer.started_at,
                writer.ended_at if finished else None,
                writer.packets if finished else 0,
            )
        )

    def _finish(self, writer: TrackWriter) -> None:
        batch = writer.drain()

        def finish() -> None:
            writer.write(batch, lambda: self._report(writer, finished=False))
            if writer.finish():
                self._report(writer, finished=True)

        self._submit(finish)

    def stop(self) -> None:
        """Finish every file; returns at once, the thread completes the writes."""
        if self.closed:
            return
        self.closed = True
        for writer in self._writers.values():
            self._finish(writer)
        self._writers.clear()
        self._pool.shutdown(wait=False)

    def wait(self) -> None:
        """Block until every write is done (shutdown and tests)."""
        self._pool.shutdown(wait=True)


def _log_failure(future: Future[None]) -> None:
    if (exc := future.exception()) is not None:
        logger.error("writing a recording failed", exc_info=exc)
