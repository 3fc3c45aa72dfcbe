"""Type and size checks for attachments: PDF scores, images, short audio."""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from marketplace.errors import ValidationFailed
from marketplace.images import load_image


class AttachmentKind(StrEnum):
    PDF = "pdf"
    IMAGE = "image"
    AUDIO = "audio"


ACCEPTED = "PDF scores, JPEG/PNG/WebP images or short audio (MP3, M4A, OGG, WAV, FLAC)"
_IMAGE_TYPES = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png")}
_IMAGE_TYPES["WEBP"] = ("image/webp", ".webp")
_AUDIO_TYPES = {
    "mp3": ("audio/mpeg", ".mp3"),
    "ogg": ("audio/ogg", ".ogg"),
    "wav": ("audio/wav", ".wav"),
    "flac": ("audio/flac", ".flac"),
    "mov,mp4,m4a,3gp,3g2,mj2": ("audio/mp4", ".m4a"),
    "matroska,webm": ("audio/webm", ".webm"),
}
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed its checks, with the bytes to store (images re-encoded)."""

    kind: AttachmentKind
    mime: str
    suffix: str
    filename: str
    data: bytes
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    pages: int | None = None


def clean_filename(name: str, suffix: str) -> str:
    """A display name safe for a Content-Disposition header and a page."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = _UNSAFE_NAME.sub("_", base).strip(" ._") or "attachment"
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem[:100]}{suffix}"


def check_attachment(
    data: bytes, filename: str, *, max_bytes: int, max_audio_seconds: float, field: str = "file"
) -> CheckedFile:
    """Identify ``data`` by its content (never by its name or declared type), or 422."""
    if not data:
        raise ValidationFailed({field: "The file is empty."})
    if len(data) > max_bytes:
        raise ValidationFailed({field: f"The file must be at most {max_bytes // 1_048_576} MB."})
    if data.startswith(b"%PDF-"):
        return _pdf(data, filename, field)
    image = _image(data, filename, field)
    if image is not None:
        return image
    audio = _audio(data, filename, max_audio_seconds, field)
    if audio is not None:
        return audio
    raise ValidationFailed({field: f"Attach {ACCEPTED}."}, message="This type of file is refused.")


def _pdf(data: bytes, filename: str, field: str) -> CheckedFile:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ValidationFailed({field: "Attach a PDF without a password."})
        pages = len(reader.pages)
    except ValidationFailed:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError):
        raise ValidationFailed({field: "This PDF cannot be opened."}) from None
    if pages < 1:
        raise ValidationFailed({field: "This PDF has no pages."})
    return CheckedFile(
        AttachmentKind.PDF,
        "application/pdf",
        ".pdf",
        clean_filename(filename, ".pdf"),
        data,
        pages=pages,
    )


def _image(data: bytes, filename: str, field: str) -> CheckedFile | None:
    from PIL import ImageOps

    loaded = load_image(data, field)
    if loaded is None or loaded[0] not in _IMAGE_TYPES:
        return None
    fmt, image = loaded
    # Re-encoding drops EXIF (a phone photo carries where it was taken) and anything appended.
    image = ImageOps.exif_transpose(image)
    mime, suffix = _IMAGE_TYPES[fmt]
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=90)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=False)
    else:
        image.save(out, "WEBP", quality=90)
    return CheckedFile(
        AttachmentKind.IMAGE,
        mime,
        suffix,
        clean_filename(filename, suffix),
        out.getvalue(),
        width=image.width,
        height=image.height,
    )


def _audio(data: bytes, filename: str, max_seconds: float, field: str) -> CheckedFile | None:
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio or container.streams.video:
                return None
            mime_suffix = _AUDIO_TYPES.get(container.format.name)
            if mime_suffix is None:
                return None
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or 0
            samples = 0
            for frame in container.decode(stream):
                samples += frame.samples
                rate = frame.sample_rate or rate
                if rate and samples / rate > max_seconds + 0.5:
                    raise ValidationFailed(
                        {field: f"Audio must be at most {int(max_seconds // 60)} minutes long."}
                    )
    except ValidationFailed:
        raise
    except (av.FFmpegError, ValueError, IndexError, OSError):
        return None
    if not rate or samples / rate < 0.5:
        raise ValidationFailed({field: "The recording is too short."})
    mime, suffix = mime_suffix
    return CheckedFile(
        AttachmentKind.AUDIO,
        mime,
        suffix,
        clean_filename(filename, suffix),
        data,
        duration_seconds=round(samples / rate, 2),
    )
