"""How an access-checked attachment (message or discussion file) is answered."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from marketplace.attachments import service as attachments
from marketplace.attachments.models import Attachment
from marketplace.media import MediaStorage


def attachment_response(
    request: Request[Any, Any, Any], storage: MediaStorage, attachment: Attachment
) -> Response[bytes]:
    """The file, inline unless ``?download`` is given; sandboxed so an uploaded file can never
    run as a page of the site."""
    inline = request.query_params.get("download") is None
    return Response(
        storage.read(attachment.storage_key),
        media_type=attachment.mime,
        headers={
            "Content-Disposition": attachments.content_disposition(attachment, inline=inline),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=3600",
        },
    )
