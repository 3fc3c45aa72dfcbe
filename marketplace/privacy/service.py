"""Data requests: asking for an export, fetching it, and confirming an account deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import AuthToken, User
from marketplace.accounts.passwords import verify_password_async
from marketplace.audit import service as audit
from marketplace.errors import Conflict, DomainError, NotFound, ValidationFailed
from marketplace.media import new_key
from marketplace.notifications import service as notifications
from marketplace.privacy import export
from marketplace.privacy.blockers import Blocker, blockers_for
from marketplace.privacy.files import Stores
from marketplace.privacy.models import AccountDeletion, DataExport
from marketplace.uow import defer_job

EXPORT_TASK = "privacy.build_export"
ERASE_TASK = "privacy.erase_account"
STALE_AFTER = timedelta(hours=1)
"""A pending export older than this is taken as failed (its job gave up or was lost)."""


class ExportInProgress(Conflict):
    code = "export_in_progress"


class ExportNotReady(Conflict):
    code = "export_not_ready"


class ExportExpired(DomainError):
    status_code = 410
    code = "export_expired"


class DeletionBlocked(Conflict):
    code = "deletion_blocked"


async def request_export(session: AsyncSession, user_id: int) -> DataExport:
    """Queue a new export; 409 ``export_in_progress`` while one is being built."""
    now = datetime.now(UTC)
    running = await session.scalar(
        select(DataExport)
        .where(DataExport.user_id == user_id, DataExport.status == "pending")
        .with_for_update()
    )
    if running is not None:
        if now - running.created_at < STALE_AFTER:
            raise ExportInProgress(
                "Your data export is still being prepared. We will notify you when it is "
                "ready to download."
            )
        running.status = "failed"
        running.error = "not finished within an hour"
        await session.flush()
    row = DataExport(user_id=user_id, status="pending")
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        action="account.export_requested",
        actor_role="user",
        actor_id=user_id,
        subject_kind="user",
        subject_id=user_id,
    )
    defer_job(session, EXPORT_TASK, row.id)
    return row


async def exports_for(session: AsyncSession, user_id: int, limit: int = 5) -> list[DataExport]:
    rows = await session.scalars(
        select(DataExport)
        .where(DataExport.user_id == user_id)
        .order_by(DataExport.created_at.desc(), DataExport.id.desc())
        .limit(limit)
    )
    return list(rows)


async def export_of(session: AsyncSession, user_id: int, export_id: int) -> DataExport:
    """The user's own export; someone else's is a 404, as if it did not exist."""
    row = await session.get(DataExport, export_id)
    if row is None or row.user_id != user_id:
        raise NotFound("No such data export.", code="export_not_found")
    return row


async def export_file(
    session: AsyncSession, stores: Stores, user_id: int, export_id: int
) -> tuple[DataExport, Path]:
    row = await export_of(session, user_id, export_id)
    now = datetime.now(UTC)
    if row.status == "expired" or (row.expires_at is not None and row.expires_at <= now):
        raise ExportExpired("This download has expired. Ask for a new export.")
    if row.status != "ready" or row.file_key is None:
        raise ExportNotReady("This export is not ready yet.")
    path = stores.open("private", row.file_key)
    if path is None:
        raise ExportExpired("This download has expired. Ask for a new export.")
    return row, path


async def build_export(
    session: AsyncSession, stores: Stores, export_id: int, keep_days: int
) -> bool:
    """Job body: build one pending export and notify its owner. Safe to run twice."""
    row = await session.get(DataExport, export_id, with_for_update=True)
    if row is None or row.status != "pending":
        return False
    key = new_key("exports", ".zip")
    target = stores.private.path(key)
    try:
        size = await export.build_zip(session, stores, row.user_id, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    now = datetime.now(UTC)
    row.status = "ready"
    row.file_key = key
    row.size_bytes = size
    row.ready_at = now
    row.expires_at = now + timedelta(days=keep_days)
    await notifications.notify(
        session,
        row.user_id,
        kind="data_export",
        title="Your data is ready to download",
        body=f"The download link works for {keep_days} days.",
        link="/account#your-data",
    )
    await session.flush()
    return True


async def deletion_of(session: AsyncSession, user_id: int) -> AccountDeletion | None:
    return await session.get(AccountDeletion, user_id)


async def request_deletion(session: AsyncSession, user_id: int, password: str) -> AccountDeletion:
    """The user confirms with their password; see ``confirm_deletion``."""
    user = await session.get(User, user_id, with_for_update=True)
    if user is None or not user.is_active:
        raise NotFound("No such account.")
    if not await verify_password_async(user.password_hash, password):
        raise ValidationFailed(
            {"password": "That is not your password."},
            message="That is not your password.",
        )
    return await confirm_deletion(session, user, actor_role="user", actor_id=user_id)


async def confirm_deletion(
    session: AsyncSession, user: User, *, actor_role: str, actor_id: int | None
) -> AccountDeletion:
    """Close the account now and queue its erasure; refused (409) while a lesson is ahead or
    its money is not settled."""
    found = await blockers_for(session, user.id)
    if found:
        raise DeletionBlocked(_blocked_message(found), code=found[0].code)
    deletion = await session.get(AccountDeletion, user.id)
    if deletion is None:
        deletion = AccountDeletion(user_id=user.id)
        session.add(deletion)
    # Closed at once: no login, no session, no token, even before the job runs.
    user.is_active = False
    await session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    await audit.record(
        session,
        action="account.deletion_requested",
        actor_role=actor_role,
        actor_id=actor_id,
        subject_kind="user",
        subject_id=user.id,
    )
    await session.flush()
    defer_job(session, ERASE_TASK, user.id)
    return deletion


def _blocked_message(found: list[Blocker]) -> str:
    return "Your account cannot be deleted yet. " + " ".join(b.message for b in found)
