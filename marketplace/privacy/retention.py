"""Retention: what the ``privacy.purge`` job deletes once it is older than its setting.

Off by default (every ``*_RETENTION_DAYS`` is 0): an operator chooses how long to keep things.
Expired data exports are always deleted. Lesson recordings have their own setting
(``RECORDING_RETENTION_DAYS``, the ``video.sweep`` job).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.settings import PrivacySettings


@dataclass
class Purged:
    exports: int = 0
    messages: int = 0
    notifications: int = 0
    sms: int = 0
    webhook_events: int = 0
    files: list[list[str]] = field(default_factory=list)
    """[store, key] of files to delete after the commit."""


async def purge(session: AsyncSession, settings: PrivacySettings, now: datetime) -> Purged:
    done = Purged()
    expired = await session.execute(
        text(
            "WITH gone AS (SELECT id, file_key FROM data_exports WHERE status = 'ready' "
            "AND expires_at <= :now FOR UPDATE SKIP LOCKED) "
            "UPDATE data_exports d SET status = 'expired', file_key = NULL FROM gone "
            "WHERE d.id = gone.id RETURNING gone.file_key"
        ),
        {"now": now},
    )
    keys = [key for (key,) in expired if key]
    done.exports = len(keys)
    done.files.extend(["private", key] for key in keys)
    if settings.message_retention_days:
        cutoff = now - timedelta(days=settings.message_retention_days)
        attachments = await session.execute(
            text(
                "DELETE FROM attachments WHERE id IN (SELECT ma.attachment_id FROM "
                "message_attachments ma JOIN messages m ON m.id = ma.message_id "
                "WHERE m.created_at < :cutoff) RETURNING storage_key"
            ),
            {"cutoff": cutoff},
        )
        done.files.extend(["private", key] for (key,) in attachments)
        result = await session.execute(
            text("DELETE FROM messages WHERE created_at < :cutoff"), {"cutoff": cutoff}
        )
        done.messages = _count(result)
        # A conversation's preview must not outlive the message it quotes.
        await session.execute(
            text(
                "UPDATE conversations SET last_excerpt = '' WHERE last_message_at < :cutoff "
                "AND last_excerpt <> ''"
            ),
            {"cutoff": cutoff},
        )
    if settings.notification_retention_days:
        cutoff = now - timedelta(days=settings.notification_retention_days)
        result = await session.execute(
            text("DELETE FROM notifications WHERE created_at < :cutoff"), {"cutoff": cutoff}
        )
        done.notifications = _count(result)
        result = await session.execute(
            text("DELETE FROM sms_messages WHERE created_at < :cutoff AND status <> 'queued'"),
            {"cutoff": cutoff},
        )
        done.sms = _count(result)
    if settings.webhook_retention_days:
        cutoff = now - timedelta(days=settings.webhook_retention_days)
        result = await session.execute(
            text(
                "DELETE FROM webhook_events WHERE received_at < :cutoff "
                "AND processed_at IS NOT NULL"
            ),
            {"cutoff": cutoff},
        )
        done.webhook_events = _count(result)
    return done


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
