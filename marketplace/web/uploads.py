"""The one way an upload is read, for the API and the pages.

An API operation takes its file as a typed multipart body (``DataForm``: the file in field
``data``; ``FileForm``: in field ``file``), so a request without that file part, or with text
where the file should be, is a 422 naming the field before the handler runs, and the OpenAPI
document shows the field as a required binary. Pages keep the raw form (``PageForm``, so their
errors are shown on the page) and take the file with ``form_file``. Either way the bytes are read
by ``read_upload`` (small files, in memory, never more than the limit plus one byte) or
``stage_upload`` (large files, copied to disk in chunks); both refuse an empty or oversized file.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from marketplace.errors import ValidationFailed
from marketplace.media import MediaStorage

CHUNK = 1024 * 1024


class DataUpload(msgspec.Struct):
    data: UploadFile


class FileUpload(msgspec.Struct):
    file: UploadFile


DataForm = Annotated[DataUpload, Body(media_type=RequestEncodingType.MULTI_PART)]
FileForm = Annotated[FileUpload, Body(media_type=RequestEncodingType.MULTI_PART)]
PageForm = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


def form_file(form: Mapping[str, Any], field: str) -> UploadFile:
    """The file a page form sent in ``field``, or 422 naming it."""
    value = form.get(field)
    if isinstance(value, list):  # the same field twice: take the first file
        value = next((v for v in value if isinstance(v, UploadFile)), None)
    if not isinstance(value, UploadFile) or not value.filename:
        raise ValidationFailed({field: "Choose a file to upload."})
    return value


def _too_big(limit: int) -> str:
    return f"The file must be at most {limit / 1_048_576:.0f} MB."


async def read_upload(upload: UploadFile, limit: int, field: str) -> bytes:
    """Read at most ``limit`` + 1 bytes: an oversized file is refused without buffering it."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationFailed({field: _too_big(limit)})
    if not data:
        raise ValidationFailed({field: "The file is empty."})
    return data


async def stage_upload(
    upload: UploadFile, storage: MediaStorage, limit: int, field: str = "file"
) -> tuple[Path, int]:
    """Copy an upload to a temporary file under the media root in chunks (never all in memory);
    refuse it (and keep nothing) past ``limit`` bytes or when it is empty."""
    path = storage.path(f"tmp/{secrets.token_hex(16)}.upload")
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        with path.open("wb") as out:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ValidationFailed({field: _too_big(limit)})
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        await upload.close()
    if size == 0:
        path.unlink(missing_ok=True)
        raise ValidationFailed({field: "The file is empty."})
    return path, size
