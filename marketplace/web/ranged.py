"""Files answered with HTTP Range support (RFC 9110, section 14), which browsers need to seek in
audio and video.

Litestar's ``File`` response always sends the whole file. Here a single byte range is answered
with 206 Partial Content and ``Content-Range``, a range past the end with 416, and anything else
(no range, several ranges, a malformed header, an ``If-Range`` that no longer matches) with the
whole file, as the RFC allows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import anyio
from litestar import Response
from litestar.response import Stream

CHUNK = 64 * 1024


class Unsatisfiable(Exception):
    """The range starts past the end of the file (answered with 416)."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range ``header`` asks for within ``size`` bytes; None for the whole file."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = (part.strip() for part in spec.partition("-"))
    if not dash:
        return None
    if not first:
        if not last.isdigit():
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # malformed: ignored
    if start >= size:
        raise Unsatisfiable
    return ByteRange(start, min(end, size - 1))


def file_response(
    path: Path,
    media_type: str,
    *,
    request_headers: Mapping[str, str],
    headers: Mapping[str, str] | None = None,
) -> Response[bytes] | Stream:
    stat = path.stat()
    size = stat.st_size
    etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
    last_modified = formatdate(stat.st_mtime, usegmt=True)
    out = {
        **(headers or {}),
        "accept-ranges": "bytes",
        "etag": etag,
        "last-modified": last_modified,
    }
    asked = request_headers.get("range")
    if_range = request_headers.get("if-range")
    if if_range is not None and if_range not in (etag, last_modified):
        asked = None  # the file changed since the client's first part: send all of it
    try:
        wanted = parse_range(asked, size)
    except Unsatisfiable:
        out["content-range"] = f"bytes */{size}"
        return Response(b"", status_code=416, media_type="text/plain", headers=out)
    if wanted is None:
        status, start, length = 200, 0, size
    else:
        status, start, length = 206, wanted.start, wanted.length
        out["content-range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    out["content-length"] = str(length)
    return Stream(
        _chunks(path, start, length), status_code=status, media_type=media_type, headers=out
    )


async def _chunks(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as f:
        await f.seek(start)
        left = length
        while left > 0:
            data = await f.read(min(CHUNK, left))
            if not data:
                return  # the file was cut short meanwhile; the client sees a short body
            left -= len(data)
            yield data
