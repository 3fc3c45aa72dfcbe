"""Notify a user: always in the app, and by SMS when they gave a phone number."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import NotFound
from marketplace.notifications.models import Notification, SmsMessage
from marketplace.notifications.sms import SmsError, SmsSender
from marketplace.profiles.models import StudentProfile
from marketplace.uow import defer_job

SEND_SMS_TASK = "notifications.send_sms"
logger = logging.getLogger(__name__)


async def phone_for(session: AsyncSession, user_id: int) -> str | None:
    # Students give a phone number in their profile; there is no confirmation step yet.
    return await session.scalar(
        select(StudentProfile.phone_e164).where(StudentProfile.user_id == user_id)
    )


async def notify(
    session: AsyncSession,
    user_id: int,
    *,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    sms_text: str | None = None,
) -> Notification:
    note = Notification(user_id=user_id, kind=kind, title=title[:200], body=body, link=link)
    session.add(note)
    if sms_text and (phone := await phone_for(session, user_id)):
        message = SmsMessage(user_id=user_id, to_number=phone, body=sms_text[:1600])
        session.add(message)
        await session.flush()
        defer_job(session, SEND_SMS_TASK, message.id)
    await session.flush()
    return note


async def notifications_for(
    session: AsyncSession, user_id: int, limit: int = 50
) -> tuple[list[Notification], int]:
    rows = await session.scalars(
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    unread = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return list(rows), int(unread or 0)


async def mark_read(session: AsyncSession, user_id: int, notification_id: int | None) -> None:
    """Mark one notification (or, with None, all of them) read."""
    query = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        note = await session.get(Notification, notification_id)
        if note is None or note.user_id != user_id:
            raise NotFound("No such notification.")
        query = query.where(Notification.id == notification_id)
    await session.execute(query.values(read_at=datetime.now(UTC)))


async def mark_read_by_link(session: AsyncSession, user_id: int, kind: str, link: str) -> None:
    """Mark the user's unread notifications of ``kind`` about ``link`` read (they saw it)."""
    await session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.kind == kind,
            Notification.link == link,
            Notification.read_at.is_(None),
        )
        .values(read_at=datetime.now(UTC))
    )


async def send_sms(session: AsyncSession, sender: SmsSender, message_id: int) -> None:
    """Job body: send a queued message once; a second run finds it no longer queued."""
    message = await session.get(SmsMessage, message_id, with_for_update=True)
    if message is None or message.status != "queued":
        return
    message.provider = sender.name
    try:
        message.provider_id = sender.send(message.to_number, message.body)
    except SmsError as exc:
        message.status = "failed"
        message.error = str(exc)[:2000]
        logger.warning("SMS %s failed: %s", message_id, exc)
        return
    message.status = "outbox" if sender.name == "outbox" else "sent"
    message.sent_at = datetime.now(UTC)
