"""After the lesson: mix the recorded tracks into one WebM file that browsers play.

This is where the room really transcodes, and the only place: a browser plays one audio and
one video track of a file, so the participants' Opus tracks are decoded, placed on one timeline
by the wall-clock time of their first packet, summed (clipped at full scale), and encoded once as
stereo Opus with application "audio" at the lesson's bitrate with constrained VBR (libopus
overshoots by about a third without it). Video, when anyone had a camera on, is composed side by
side (tutor left, student right; black while a camera was off) at 15 fps and encoded as VP8.
It runs in a job, off the event loop, one chunk at a time, so memory stays flat for long lessons.

A track whose process died while writing it has no trailer (no cues, no duration) and may end
mid-page or mid-packet: it is read up to the last whole packet (a packet that does not decode is
skipped), and a track that cannot be read at all is left out, so one damaged file never costs
the whole lesson.
"""

from __future__ import annotations

import fractions
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

RATE = 48_000
CHUNK = RATE * 2  # samples mixed at a time
OPUS_FRAME = 960
FPS = 15
TILE_W, TILE_H = 640, 360
VIDEO_BITRATE = 1_500_000

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Track:
    user_id: int
    kind: str
    path: Path
    started_at: datetime


@dataclass(frozen=True)
class MixResult:
    duration_seconds: float
    size_bytes: int
    has_video: bool


Samples = NDArray[np.float32]


def _decoded(container: Any, stream: Any, path: Path) -> Iterator[Any]:
    """``stream``'s frames. A packet that does not decode (a torn last one) is skipped; damage
    the demuxer cannot read past ends the track there."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            logger.warning("track %s is read up to damage: %s", path.name, exc)
            return
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            logger.warning("track %s: a packet that does not decode is skipped: %s", path.name, exc)
            continue
        yield from frames


def _opened(path: Path) -> Any:
    try:
        return av.open(str(path))
    except av.FFmpegError as exc:
        logger.warning("track %s cannot be read, left out: %s", path.name, exc)
        return None


def _audio_frames(path: Path) -> Iterator[tuple[int, Samples]]:
    """(first sample, stereo samples) of each decoded frame, in the track's own time."""
    if (opened := _opened(path)) is None:
        return
    with opened as container:
        if not container.streams.audio:
            return
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="stereo", rate=RATE)
        position = 0
        for frame in _decoded(container, stream, path):
            if frame.pts is not None and frame.time_base is not None:
                position = max(position, int(frame.pts * frame.time_base * RATE))
            for out in resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1, 2).astype(np.float32, copy=False)
                yield position, samples
                position += samples.shape[0]


class _AudioInput:
    def __init__(self, track: Track, origin: datetime) -> None:
        self.offset = round((track.started_at - origin).total_seconds() * RATE)
        self.frames = _audio_frames(track.path)
        self.pending: list[tuple[int, Samples]] = []
        self.done = False

    def fill(self, until: int) -> None:
        """Decode until a frame reaches past ``until`` (absolute samples)."""
        while not self.done and (
            not self.pending or self.pending[-1][0] + len(self.pending[-1][1]) < until
        ):
            try:
                start, samples = next(self.frames)
            except StopIteration:
                self.done = True
                return
            self.pending.append((self.offset + start, samples))

    def add_into(self, mix: Samples, chunk_start: int) -> None:
        chunk_end = chunk_start + len(mix)
        keep: list[tuple[int, Samples]] = []
        for start, samples in self.pending:
            end = start + len(samples)
            lo, hi = max(start, chunk_start), min(end, chunk_end)
            if hi > lo:
                mix[lo - chunk_start : hi - chunk_start] += samples[lo - start : hi - start]
            if end > chunk_end:
                keep.append((start, samples))
        self.pending = keep

    @property
    def exhausted(self) -> bool:
        return self.done and not self.pending


def _mixed_audio(tracks: list[Track], origin: datetime) -> Iterator[tuple[int, Samples]]:
    inputs = [_AudioInput(t, origin) for t in tracks]
    chunk_start = 0
    while inputs and not all(i.exhausted for i in inputs):
        mix = np.zeros((CHUNK, 2), dtype=np.float32)
        last = chunk_start
        for item in inputs:
            item.fill(chunk_start + CHUNK)
            for start, samples in item.pending:
                last = max(last, min(start + len(samples), chunk_start + CHUNK))
            item.add_into(mix, chunk_start)
        used = max(0, last - chunk_start)
        if used:
            yield chunk_start, np.clip(mix[:used] if used < CHUNK else mix, -1.0, 1.0)
        chunk_start += CHUNK


def _fit(width: int, height: int) -> tuple[int, int]:
    scale = min(TILE_W / width, TILE_H / height)
    return max(4, int(width * scale) // 4 * 4), max(4, int(height * scale) // 4 * 4)


def _planes(frame: av.VideoFrame) -> tuple[NDArray[np.uint8], ...]:
    w, h = _fit(frame.width, frame.height)
    stacked = np.asarray(
        frame.reformat(width=w, height=h, format="yuv420p").to_ndarray(), dtype=np.uint8
    )
    y = stacked[:h]
    u = stacked[h : h + h // 4].reshape(h // 2, w // 2)
    v = stacked[h + h // 4 :].reshape(h // 2, w // 2)
    return y, u, v


class _VideoInput:
    """One participant's camera over time: the latest frame at or before a moment."""

    def __init__(self, tracks: list[Track], origin: datetime) -> None:
        self.queue = sorted(tracks, key=lambda t: t.started_at)
        self.origin = origin
        self.frames: Iterator[tuple[float, av.VideoFrame]] | None = None
        self.next: tuple[float, av.VideoFrame] | None = None
        self.current: tuple[NDArray[np.uint8], ...] | None = None
        self.current_at = -1.0

    def _open_next(self) -> bool:
        if not self.queue:
            return False
        track = self.queue.pop(0)
        offset = (track.started_at - self.origin).total_seconds()
        self.frames = _video_frames(track.path, offset)
        return True

    def at(self, moment: float) -> tuple[NDArray[np.uint8], ...] | None:
        while True:
            if self.next is None:
                if self.frames is not None:
                    self.next = next(self.frames, None)
                if self.next is None:
                    if not self._open_next():
                        break
                    continue
            when, frame = self.next
            if when > moment:
                break
            self.current, self.current_at = _planes(frame), when
            self.next = None
        if self.current is not None and moment - self.current_at > 1.0:
            return None  # the camera was off (or the participant away): black
        return self.current


def _video_frames(path: Path, offset: float) -> Iterator[tuple[float, av.VideoFrame]]:
    if (opened := _opened(path)) is None:
        return
    with opened as container:
        if not container.streams.video:
            return
        stream = container.streams.video[0]
        for frame in _decoded(container, stream, path):
            if frame.pts is None or frame.time_base is None:
                continue
            yield offset + float(frame.pts * frame.time_base), frame


def _compose(tiles: list[tuple[NDArray[np.uint8], ...] | None]) -> av.VideoFrame:
    width = TILE_W * len(tiles)
    y = np.full((TILE_H, width), 16, dtype=np.uint8)
    u = np.full((TILE_H // 2, width // 2), 128, dtype=np.uint8)
    v = np.full((TILE_H // 2, width // 2), 128, dtype=np.uint8)
    for index, tile in enumerate(tiles):
        if tile is None:
            continue
        ty, tu, tv = tile
        h, w = ty.shape
        x0, y0 = index * TILE_W + (TILE_W - w) // 2 // 2 * 2, (TILE_H - h) // 2 // 2 * 2
        y[y0 : y0 + h, x0 : x0 + w] = ty
        u[y0 // 2 : y0 // 2 + h // 2, x0 // 2 : x0 // 2 + w // 2] = tu
        v[y0 // 2 : y0 // 2 + h // 2, x0 // 2 : x0 // 2 + w // 2] = tv
    stacked = np.vstack([y, u.reshape(-1, width), v.reshape(-1, width)])
    return av.VideoFrame.from_ndarray(stacked, format="yuv420p")


def mix(tracks: list[Track], out_path: Path, *, bitrate_kbps: int, order: list[int]) -> MixResult:
    """Write ``out_path`` (WebM) from ``tracks``; ``order`` is the user ids left to right."""
    audio = [t for t in tracks if t.kind == "audio"]
    video = [t for t in tracks if t.kind == "video"]
    if not audio and not video:
        raise ValueError("nothing was recorded")
    origin = min(t.started_at for t in tracks)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_suffix(".partial.webm")
    container = av.open(str(partial), "w", format="webm")
    astream: Any = container.add_stream("libopus", rate=RATE, layout="stereo")
    astream.bit_rate = bitrate_kbps * 1000
    astream.codec_context.options = {"application": "audio", "vbr": "constrained"}
    vstream: Any = None
    people = [uid for uid in order if any(t.user_id == uid for t in video)]
    if video:
        vstream = container.add_stream("libvpx", rate=FPS)
        vstream.width, vstream.height = TILE_W * max(2, len(people)), TILE_H
        vstream.pix_fmt = "yuv420p"
        vstream.bit_rate = VIDEO_BITRATE
        vstream.codec_context.options = {"deadline": "realtime", "cpu-used": "8"}
    samples_out = 0
    try:
        for start, block in _mixed_audio(audio, origin):
            if start > samples_out:  # nobody was there: silence keeps the timeline
                _encode_audio(
                    container, astream, np.zeros((start - samples_out, 2), np.float32), samples_out
                )
                samples_out = start
            _encode_audio(container, astream, block, samples_out)
            samples_out += len(block)
        for packet in astream.encode(None):
            container.mux(packet)
        audio_seconds = samples_out / RATE
        video_seconds = 0.0
        if vstream is not None:
            inputs = {
                uid: _VideoInput([t for t in video if t.user_id == uid], origin) for uid in people
            }
            last_frame = max(_video_end(t, origin) for t in video)
            total = max(audio_seconds, last_frame)
            slots = people if len(people) > 1 else [*people, -1]
            for index in range(int(total * FPS)):
                moment = index / FPS
                tiles = [inputs[uid].at(moment) if uid in inputs else None for uid in slots]
                frame = _compose(tiles)
                frame.pts = index
                frame.time_base = fractions.Fraction(1, FPS)
                for packet in vstream.encode(frame):
                    container.mux(packet)
            for packet in vstream.encode(None):
                container.mux(packet)
            video_seconds = total
    finally:
        container.close()
    partial.replace(out_path)
    return MixResult(
        duration_seconds=max(audio_seconds, video_seconds),
        size_bytes=out_path.stat().st_size,
        has_video=vstream is not None,
    )


def _encode_audio(container: Any, stream: Any, samples: Samples, pts: int) -> None:
    for offset in range(0, len(samples), CHUNK):
        part = np.ascontiguousarray(samples[offset : offset + CHUNK])
        frame = av.AudioFrame.from_ndarray(part.reshape(1, -1), format="flt", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = pts + offset
        frame.time_base = fractions.Fraction(1, RATE)
        for packet in stream.encode(frame):
            container.mux(packet)


def _video_end(track: Track, origin: datetime) -> float:
    offset = (track.started_at - origin).total_seconds()
    if (opened := _opened(track.path)) is None:
        return offset
    with opened as container:
        if container.duration:
            return offset + float(container.duration) / 1_000_000
        # No duration: the file was cut short (no trailer). Its last packet says where it ends.
        end = 0.0
        try:
            for packet in container.demux(video=0):
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        except av.FFmpegError:
            pass
        return offset + end
