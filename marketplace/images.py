"""Opening uploaded images without letting one exhaust memory.

A PNG of a few hundred bytes can declare 50,000 × 50,000 pixels; decoding it would need
gigabytes. Every uploaded image is opened here: its size is read from the header and refused
(422 naming the form field) above ``MAX_PIXELS`` before any pixel is decoded, and Pillow's own
decompression-bomb checks (its warning and its error) are refused the same way, whatever
Pillow's global limit is.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from PIL import Image, UnidentifiedImageError

from marketplace.errors import ValidationFailed

MAX_PIXELS = 40_000_000  # 40 megapixels: more than a 24-megapixel camera (6000 x 4000) makes
TOO_MANY_PIXELS = "The image has too many pixels."
_NOT_AN_IMAGE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)


@contextmanager
def _bomb_guard(field: str) -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValidationFailed({field: TOO_MANY_PIXELS}) from None


def _source(source: bytes | Path) -> IO[bytes] | Path:
    return io.BytesIO(source) if isinstance(source, bytes) else source


def _check_size(image: Image.Image, field: str, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise ValidationFailed({field: TOO_MANY_PIXELS})


def image_format(source: bytes | Path, field: str, max_pixels: int = MAX_PIXELS) -> str | None:
    """The format (``"PNG"``, ``"JPEG"``, ...) of a well-formed image, None for anything that is
    not one, 422 for one with too many pixels. Only the header and checksums are read."""
    try:
        with _bomb_guard(field), Image.open(_source(source)) as probe:
            _check_size(probe, field, max_pixels)
            fmt = probe.format
            probe.verify()
    except _NOT_AN_IMAGE:
        return None
    return fmt


def load_image(
    source: bytes | Path, field: str, max_pixels: int = MAX_PIXELS
) -> tuple[str, Image.Image] | None:
    """The format and decoded pixels of an image, None for anything that is not one, 422 for
    one with too many pixels (checked from the header, before decoding)."""
    fmt = image_format(source, field, max_pixels)
    if fmt is None:
        return None
    try:
        with _bomb_guard(field):
            image = Image.open(_source(source))
            _check_size(image, field, max_pixels)
            image.load()
    except _NOT_AN_IMAGE:
        return None
    return fmt, image
