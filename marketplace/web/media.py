"""Serving ``MEDIA_ROOT``: public files as static files, private ones through signed links.

Only the public prefixes (``marketplace.media_links.PUBLIC_PREFIXES``) are mounted as static
files; any other key asked for under ``/media`` is a 404. Private files are answered at
``/media/private/{expires}/{signature}/{key}`` once the link's signature and expiry check out
(see ``marketplace.media_links``), with Range support so players can seek.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.params import FromPath
from litestar.response import Response, Stream
from litestar.static_files import create_static_files_router

from marketplace.errors import NotFound
from marketplace.media_links import PUBLIC_PREFIXES, MediaLinkInvalid, checked_key
from marketplace.web.access import Access
from marketplace.web.ranged import file_response

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/mp4",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".m4a": "audio/mp4",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".aac": "audio/aac",
    ".aif": "audio/aiff",
    ".aiff": "audio/aiff",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}


def content_type_of(key: str) -> str:
    return CONTENT_TYPES.get(Path(key).suffix.lower(), "application/octet-stream")


def public_media_routers(root: Path) -> list[Router]:
    """One static-file router per public prefix; nothing else under the root is reachable."""
    routers = []
    for prefix in PUBLIC_PREFIXES:
        folder = root / prefix.rstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        routers.append(
            create_static_files_router(
                path=f"/media/{prefix.rstrip('/')}",
                directories=[folder],
                opt={"access": Access.PUBLIC},
                include_in_schema=False,
                name=f"media:{prefix.rstrip('/')}",
            )
        )
    return routers


@get(
    "/media/private/{expires:str}/{signature:str}/{key:path}",
    access=Access.PUBLIC,
    include_in_schema=False,
)
async def private_media(
    request: Request[Any, Any, Any],
    expires: FromPath[str],
    signature: FromPath[str],
    key: FromPath[str],
) -> Response[bytes] | Stream:
    """A private file for whoever holds a valid link: 403 ``media_link_invalid`` or
    ``media_link_expired``, 404 for a key that is malformed or names no file. A link bound to a
    grant is served only while the grant holds (403 ``media_access_ended`` after a refund)."""
    services = request.app.state.services
    key = checked_key(key.removeprefix("/"))
    grant = services.media_links.verify(expires, signature, key)
    try:
        path = services.storage.path(key)
    except ValueError:
        raise NotFound("No such file.", code="media_not_found") from None
    if not path.is_file():
        raise NotFound("No such file.", code="media_not_found")
    if grant is not None:
        check = services.media_grants.get(grant.kind)
        if check is None:
            raise MediaLinkInvalid("This media link is not valid.")
        async with services.transaction() as session:
            await check(session, grant.id, key)
        # Asked again each time (no reuse from the cache without the server), so an ended
        # grant stops the file at once.
        cache = "private, no-cache"
    else:
        cache = f"private, max-age={services.media_links.seconds_left(expires)}"
    return file_response(
        path,
        content_type_of(key),
        request_headers=request.headers,
        headers={"cache-control": cache, "x-content-type-options": "nosniff"},
    )
