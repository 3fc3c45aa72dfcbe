"""Store, bind, read and clean up attachments. Callers decide who may see one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.attachments.checks import CheckedFile, check_attachment
from marketplace.attachments.models import Attachment
from marketplace.errors import ValidationFailed
from marketplace.media import MediaStorage, new_key

UNBOUND_TTL = timedelta(hours=24)
MAX_PER_POST = 5


async def store(
    session: AsyncSession,
    storage: MediaStorage,
    owner_id: int,
    data: bytes,
    filename: str,
    *,
    max_bytes: int,
    max_audio_seconds: float,
) -> Attachment:
    """Check an upload and keep it as an unbound attachment of ``owner_id`` (or 422)."""
    checked = check_attachment(
        data, filename, max_bytes=max_bytes, max_audio_seconds=max_audio_seconds
    )
    return await _keep(session, storage, owner_id, checked)


async def _keep(
    session: AsyncSession, storage: MediaStorage, owner_id: int, checked: CheckedFile
) -> Attachment:
    key = new_key(f"attachments/{checked.kind.value}", checked.suffix)
    storage.save(key, checked.data)
    row = Attachment(
        owner_id=owner_id,
        storage_key=key,
        kind=checked.kind.value,
        mime=checked.mime,
        filename=checked.filename,
        size_bytes=len(checked.data),
        width=checked.width,
        height=checked.height,
        duration_seconds=checked.duration_seconds,
    )
    session.add(row)
    await session.flush()
    return row


async def bind(
    session: AsyncSession, owner_id: int, ids: Sequence[int], purpose: str
) -> list[Attachment]:
    """Claim the owner's unbound uploads for one post; any other id is a 422."""
    if not ids:
        return []
    if len(ids) > MAX_PER_POST or len(set(ids)) != len(ids):
        raise ValidationFailed({"attachment_ids": f"Attach at most {MAX_PER_POST} files."})
    rows = list(
        await session.scalars(
            select(Attachment)
            .where(Attachment.id.in_(ids), Attachment.owner_id == owner_id)
            .with_for_update()
        )
    )
    if len(rows) != len(ids) or any(row.bound_at is not None for row in rows):
        raise ValidationFailed({"attachment_ids": "Upload the file again; this one is gone."})
    now = datetime.now(UTC)
    for row in rows:
        row.bound_at = now
        row.purpose = purpose
    order = {attachment_id: i for i, attachment_id in enumerate(ids)}
    return sorted(rows, key=lambda row: order[row.id])


async def delete_stale(
    session: AsyncSession, storage: MediaStorage, now: datetime | None = None
) -> int:
    """Remove uploads never sent within a day (files first: a row without a file is worse)."""
    cutoff = (now or datetime.now(UTC)) - UNBOUND_TTL
    rows = list(
        await session.scalars(
            select(Attachment)
            .where(Attachment.bound_at.is_(None), Attachment.created_at < cutoff)
            .with_for_update(skip_locked=True)
            .limit(500)
        )
    )
    for row in rows:
        storage.delete(row.storage_key)
        await session.delete(row)
    await session.flush()
    return len(rows)


def content_disposition(attachment: Attachment, *, inline: bool) -> str:
    """RFC 6266 header value with an ASCII fallback and the UTF-8 name."""
    from urllib.parse import quote

    ascii_name = attachment.filename.encode("ascii", "replace").decode().replace("?", "_")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(attachment.filename)}"
