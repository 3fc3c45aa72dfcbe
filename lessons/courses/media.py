"""Course media: checking uploads and converting them into what every browser plays (PyAV).

Audio becomes stereo AAC in M4A; video becomes H.264 (at most 720 lines) with AAC in a
fast-start MP4, and long videos also get an HLS playlist (fMP4 segments remuxed from that MP4,
no second encode). Sheet music must be a real PDF. A file that is not what it claims to be, too
big or too long is refused with a 422 before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from marketplace.errors import ValidationFailed

if TYPE_CHECKING:
    import av


AUDIO_RATE = 48_000
AUDIO_BITRATE = 160_000
VIDEO_MAX_HEIGHT = 720
VIDEO_BITRATE = 2_500_000
HLS_SEGMENT_SECONDS = 6

Progress = Callable[[float], None]  # fraction 0..1 of the work done

AUDIO_TYPES = {
    "audio/mpeg",
    "audio/mp3",
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/flac",
    "audio/x-flac",
    "audio/ogg",
    "audio/opus",
    "audio/webm",
    "audio/mp4",
    "audio/x-m4a",
    "audio/aac",
    "audio/aiff",
    "audio/x-aiff",
}
VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/ogg"}
PDF_TYPES = {"application/pdf", "application/x-pdf"}
# Browsers send this when they do not know; then only the content decides.
UNKNOWN_TYPES = {"", "application/octet-stream"}


class MediaError(Exception):
    """A transcode failed for a reason to show the tutor (a broken stream, not our bug)."""


@dataclass(frozen=True)
class MediaProbe:
    kind: str  # audio, video or file
    duration_seconds: float | None
    width: int | None = None
    height: int | None = None
    pages: int | None = None


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_seconds: float


def _declared(declared_type: str) -> str:
    return declared_type.split(";", 1)[0].strip().lower()


def check_declared_type(kind: str, declared_type: str) -> None:
    """The browser's declared type must agree with what the tutor said they upload."""
    declared = _declared(declared_type)
    if declared in UNKNOWN_TYPES:
        return
    allowed = {"audio": AUDIO_TYPES, "video": VIDEO_TYPES, "file": PDF_TYPES}[kind]
    family_ok = kind in ("audio", "video") and declared.startswith(kind + "/")
    if declared not in allowed and not family_ok:
        wanted = {"audio": "an audio file", "video": "a video file", "file": "a PDF"}[kind]
        raise ValidationFailed({"file": f"The file is declared as {declared}, not {wanted}."})


def probe(path: Path, kind: str, declared_type: str, limits: Limits) -> MediaProbe:
    """Prove the stored upload is what ``kind`` says, within the limits, or raise a 422."""
    check_declared_type(kind, declared_type)
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ValidationFailed({"file": f"The file must be at most {_mb(limits.max_bytes)} MB."})
    if size == 0:
        raise ValidationFailed({"file": "The file is empty."})
    if kind == "file":
        return _probe_pdf(path)
    return _probe_media(path, kind, limits.max_seconds)


def _mb(n: int) -> str:
    return f"{n / 1_048_576:.0f}"


def _probe_pdf(path: Path) -> MediaProbe:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    with path.open("rb") as fh:
        if fh.read(5) != b"%PDF-":
            raise ValidationFailed({"file": "The file is not a PDF."})
    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            raise ValidationFailed({"file": "The PDF is password-protected; upload an open one."})
        pages = len(reader.pages)
    except ValidationFailed:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError):
        raise ValidationFailed({"file": "The PDF is damaged and cannot be read."}) from None
    if pages < 1:
        raise ValidationFailed({"file": "The PDF has no pages."})
    return MediaProbe(kind="file", duration_seconds=None, pages=pages)


def _real_video_streams(container: av.container.InputContainer) -> list[av.VideoStream]:
    # Album art in an MP3 or M4A shows up as a one-frame "video" stream: not a video.
    import av

    return [
        s
        for s in container.streams.video
        if not (s.disposition & av.stream.Disposition.attached_pic)
    ]


def _probe_media(path: Path, kind: str, max_seconds: float) -> MediaProbe:
    import av

    noun = "recording" if kind == "audio" else "video"
    try:
        with av.open(str(path), mode="r") as container:
            videos = _real_video_streams(container)
            audios = list(container.streams.audio)
            if kind == "audio":
                if videos:
                    raise ValidationFailed(
                        {"file": "This file contains video; upload it as a video instead."}
                    )
                if not audios:
                    raise ValidationFailed({"file": "The file has no audio track."})
            elif not videos:
                raise ValidationFailed({"file": "The file has no video track."})
            wanted = videos[0] if kind == "video" else audios[0]
            duration = _demux_duration(container, wanted, max_seconds, noun)
            if kind == "video":
                # Decode the first frame: proves the codec is real, not just a header.
                container.seek(0)
                frame = next(container.decode(wanted), None)
                if not isinstance(frame, av.VideoFrame):
                    raise ValidationFailed({"file": "The video has no pictures we can read."})
                width: int | None = frame.width
                height: int | None = frame.height
            else:
                container.seek(0)
                if next(container.decode(wanted), None) is None:
                    raise ValidationFailed({"file": "The recording has no sound we can read."})
                width = height = None
    except ValidationFailed:
        raise
    except (av.FFmpegError, ValueError, IndexError, StopIteration, OSError):
        label = "an audio file (MP3, WAV, FLAC, OGG, M4A…)"
        if kind == "video":
            label = "a video file (MP4, MOV, WebM, MKV…)"
        raise ValidationFailed({"file": f"Upload {label}."}) from None
    if duration < 0.5:
        raise ValidationFailed({"file": f"The {noun} must be at least half a second long."})
    return MediaProbe(kind=kind, duration_seconds=duration, width=width, height=height)


def _demux_duration(
    container: av.container.InputContainer, stream: av.stream.Stream, max_seconds: float, noun: str
) -> float:
    """Read every packet's timestamp (no decoding): the true length, not a header's claim."""
    base = stream.time_base or Fraction(1, 1)
    first: int | None = None
    last = 0
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        if first is None:
            first = packet.pts
        last = max(last, packet.pts + (packet.duration or 0))
        if float((last - first) * base) > max_seconds + 0.5:
            raise ValidationFailed(
                {"file": f"The {noun} must be at most {_minutes(max_seconds)} long."}
            )
    if first is None:
        return 0.0
    return float((last - first) * base)


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} seconds"
    return f"{int(seconds // 60)} minutes"


def _partial(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.with_name(target.name + ".part")


def transcode_audio(
    source: Path, target: Path, duration: float, progress: Progress | None = None
) -> float:
    """Stereo AAC/M4A at ``target``; returns its duration in seconds."""
    import av

    partial = _partial(target)
    samples = 0
    try:
        with (
            av.open(str(source)) as src,
            av.open(
                str(partial), mode="w", format="mp4", options={"movflags": "+faststart"}
            ) as dst,
        ):
            out = dst.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
            out.bit_rate = AUDIO_BITRATE
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
            reporter = _Reporter(progress, duration)
            for frame in src.decode(src.streams.audio[0]):
                for resampled in resampler.resample(frame):
                    samples += resampled.samples
                    dst.mux(out.encode(resampled))
                reporter.at(samples / AUDIO_RATE)
            for resampled in resampler.resample(None):
                samples += resampled.samples
                dst.mux(out.encode(resampled))
            dst.mux(out.encode(None))
    except (av.FFmpegError, ValueError, IndexError) as exc:
        partial.unlink(missing_ok=True)
        raise MediaError(f"The audio could not be converted: {exc}") from exc
    partial.replace(target)
    return samples / AUDIO_RATE


def _even(n: int) -> int:
    return max(2, n - n % 2)


def transcode_video(
    source: Path, target: Path, duration: float, progress: Progress | None = None
) -> tuple[float, int, int]:
    """H.264 + AAC in a fast-start MP4 at ``target``; returns (seconds, width, height)."""
    import av

    partial = _partial(target)
    try:
        with av.open(str(source)) as src:
            in_video = _real_video_streams(src)[0]
            in_audio = src.streams.audio[0] if src.streams.audio else None
            with av.open(
                str(partial), mode="w", format="mp4", options={"movflags": "+faststart"}
            ) as dst:
                width, height, last = _encode_video(
                    src, dst, in_video, in_audio, _Reporter(progress, duration)
                )
    except (av.FFmpegError, ValueError, IndexError, StopIteration) as exc:
        partial.unlink(missing_ok=True)
        raise MediaError(f"The video could not be converted: {exc}") from exc
    partial.replace(target)
    return last, width, height


def _encode_video(
    src: av.container.InputContainer,
    dst: av.container.OutputContainer,
    in_video: av.VideoStream,
    in_audio: av.AudioStream | None,
    reporter: _Reporter,
) -> tuple[int, int, float]:
    import av

    rate = in_video.average_rate or Fraction(25, 1)
    if rate > 60:
        rate = Fraction(30, 1)
    src_w = in_video.codec_context.width or 1280
    src_h = in_video.codec_context.height or 720
    height = _even(min(VIDEO_MAX_HEIGHT, src_h))
    width = _even(round(src_w * height / src_h))
    v_out = dst.add_stream("libx264", rate=rate)
    v_out.width, v_out.height, v_out.pix_fmt = width, height, "yuv420p"
    v_out.bit_rate = VIDEO_BITRATE
    v_out.options = {"preset": "veryfast", "profile": "main", "g": str(int(rate * 2))}
    a_out = None
    resampler = None
    if in_audio is not None:
        a_out = dst.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        a_out.bit_rate = AUDIO_BITRATE
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
    streams = [s for s in (in_video, in_audio) if s is not None]
    v_base = in_video.time_base or Fraction(1, 90_000)
    start: float | None = None
    last = 0.0
    frame_index = 0
    for packet in src.demux(*streams):
        for frame in packet.decode():
            if isinstance(frame, av.VideoFrame):
                seconds = float((frame.pts or 0) * v_base)
                start = seconds if start is None else start
                last = max(last, seconds - start)
                out_frame = frame.reformat(width=width, height=height, format="yuv420p")
                out_frame.pts = frame_index
                out_frame.time_base = Fraction(1, 1) / rate
                frame_index += 1
                dst.mux(v_out.encode(out_frame))
                reporter.at(last)
            elif isinstance(frame, av.AudioFrame) and a_out is not None and resampler:
                frame.pts = None
                for resampled in resampler.resample(frame):
                    dst.mux(a_out.encode(resampled))
    dst.mux(v_out.encode(None))
    if a_out is not None and resampler is not None:
        for resampled in resampler.resample(None):
            dst.mux(a_out.encode(resampled))
        dst.mux(a_out.encode(None))
    return width, height, frame_index / float(rate)


def make_hls(mp4: Path, folder: Path) -> Path:
    """Remux the finished MP4 into an HLS VOD playlist with fMP4 segments in ``folder``."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    playlist = folder / "index.m3u8"
    try:
        with av.open(str(mp4)) as src:
            options = {
                "hls_time": str(HLS_SEGMENT_SECONDS),
                "hls_playlist_type": "vod",
                "hls_segment_type": "fmp4",
                "hls_fmp4_init_filename": "init.mp4",
                "hls_segment_filename": str(folder / "segment%04d.m4s"),
            }
            with av.open(str(playlist), mode="w", format="hls", options=options) as dst:
                mapping = {s.index: dst.add_stream_from_template(s) for s in src.streams}
                for packet in src.demux():
                    if packet.dts is None:
                        continue
                    packet.stream = mapping[packet.stream.index]
                    dst.mux(packet)
    except (av.FFmpegError, ValueError) as exc:
        raise MediaError(f"The streaming version could not be made: {exc}") from exc
    return playlist


class _Reporter:
    """Calls ``progress`` with the fraction done at most every 5 %."""

    def __init__(self, progress: Progress | None, duration: float) -> None:
        self.progress = progress
        self.duration = max(duration, 0.001)
        self.reported = 0.0

    def at(self, seconds: float) -> None:
        if self.progress is None:
            return
        done = min(0.99, seconds / self.duration)
        if done - self.reported >= 0.05:
            self.reported = done
            self.progress(done)
