"""Checking and converting uploaded photos and audio samples (Pillow and PyAV)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from marketplace.errors import ValidationFailed
from marketplace.images import load_image
from marketplace.wording import plural

PHOTO_FORMATS = {"JPEG", "PNG", "WEBP"}
PHOTO_SIZES = {"large": 640, "medium": 320, "small": 96}
MIN_PHOTO_SIDE = 200
MAX_PHOTO_PIXELS = 40_000_000

# AAC in an MP4 container plays in every current browser, Safari included.
PLAYABLE_SUFFIX = ".m4a"
PLAYABLE_CODEC = "aac"
PLAYABLE_BITRATE = 192_000
PLAYABLE_RATE = 48_000


def photo_renditions(data: bytes, max_bytes: int) -> dict[str, bytes]:
    """Square WebP renditions of an uploaded photo, EXIF stripped, or 422."""
    from PIL import Image, ImageOps

    if len(data) > max_bytes:
        raise ValidationFailed({"photo": f"The photo must be at most {max_bytes // 1_048_576} MB."})
    loaded = load_image(data, "photo", MAX_PHOTO_PIXELS)
    if loaded is None or loaded[0] not in PHOTO_FORMATS:
        raise ValidationFailed({"photo": "Upload a JPEG, PNG or WebP image."})
    image = loaded[1]
    if min(image.width, image.height) < MIN_PHOTO_SIDE:
        raise ValidationFailed(
            {"photo": f"The photo must be at least {MIN_PHOTO_SIDE}×{MIN_PHOTO_SIDE} pixels."}
        )
    image = ImageOps.exif_transpose(image).convert("RGB")
    side = min(image.size)
    square = ImageOps.fit(image, (side, side), method=Image.Resampling.LANCZOS)
    renditions: dict[str, bytes] = {}
    for name, px in PHOTO_SIZES.items():
        out = io.BytesIO()
        square.resize((px, px), Image.Resampling.LANCZOS).save(out, "WEBP", quality=85)
        renditions[name] = out.getvalue()
    return renditions


@dataclass(frozen=True)
class AudioProbe:
    duration_seconds: float
    codec: str
    channels: int
    sample_rate: int


def probe_audio(data: bytes, *, max_bytes: int, max_seconds: float) -> AudioProbe:
    """Decode the whole upload to prove it is audio and measure it, or 422."""
    import av

    if len(data) > max_bytes:
        raise ValidationFailed(
            {"audio": f"The recording must be at most {max_bytes // 1_048_576} MB."}
        )
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise ValidationFailed({"audio": "The file has no audio track."})
            stream = container.streams.audio[0]
            samples = 0
            rate = stream.codec_context.sample_rate or 0
            for frame in container.decode(stream):
                samples += frame.samples
                rate = frame.sample_rate or rate
                if rate and samples / rate > max_seconds + 0.5:
                    longest = plural(int(max_seconds), "second")
                    raise ValidationFailed(
                        {"audio": f"The recording must be at most {longest} long."}
                    )
            probe = AudioProbe(
                duration_seconds=samples / rate if rate else 0.0,
                codec=stream.codec_context.name,
                channels=stream.codec_context.channels,
                sample_rate=rate,
            )
    except ValidationFailed:
        raise
    except (av.FFmpegError, ValueError, IndexError):
        raise ValidationFailed(
            {"audio": "Upload an audio file (MP3, WAV, FLAC, OGG, M4A…)."}
        ) from None
    if probe.duration_seconds < 1.0:
        raise ValidationFailed({"audio": "The recording must be at least one second long."})
    return probe


def transcode_to_playable(source: Path, target: Path) -> float:
    """Transcode ``source`` to stereo AAC/M4A at ``target``; returns the duration in seconds."""
    import av

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    samples = 0
    with av.open(str(source)) as src, av.open(str(partial), mode="w", format="mp4") as dst:
        in_stream = src.streams.audio[0]
        out_stream = dst.add_stream(PLAYABLE_CODEC, rate=PLAYABLE_RATE, layout="stereo")
        assert isinstance(out_stream, av.AudioStream)
        out_stream.bit_rate = PLAYABLE_BITRATE
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=PLAYABLE_RATE)
        for frame in src.decode(in_stream):
            for resampled in resampler.resample(frame):
                samples += resampled.samples
                for packet in out_stream.encode(resampled):
                    dst.mux(packet)
        for resampled in resampler.resample(None):
            samples += resampled.samples
            for packet in out_stream.encode(resampled):
                dst.mux(packet)
        for packet in out_stream.encode(None):
            dst.mux(packet)
    partial.replace(target)
    return samples / PLAYABLE_RATE
