"""Notify a user: always in the app, and by SMS when they confirmed a mobile number."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import PhoneNumber
from marketplace.errors import NotFound
from marketplace.notifications.models import Notification, SmsMessage
from marketplace.notifications.sms import SmsError, SmsSender
from marketplace.uow import defer_job

SEND_SMS_TASK = "notifications.send_sms"
logger = logging.getLogger(__name__)


async def phone_for(session: AsyncSession, user_id: int) -> str | None:
    """The user's confirmed mobile number (``accounts.phone``), or None: no SMS then."""
    return await session.scalar(
        select(PhoneNumber.e164).where(
            PhoneNumber.user_id == user_id, PhoneNumber.confirmed_at.is_not(None)
        )
    )


async def queue_sms(session: AsyncSession, user_id: int, to_number: str, text: str) -> SmsMessage:
    """Queue one SMS; the job ``notifications.send_sms`` sends it once, after the commit."""
    message = SmsMessage(user_id=user_id, to_number=to_number, body=text[:1600])
    session.add(message)
    await session.flush()
    defer_job(session, SEND_SMS_TASK, message.id)
    return message


async def outbox_for(session: AsyncSession, user_id: int, limit: int = 20) -> list[SmsMessage]:
    """Text messages kept in the local outbox for this user (the embedded default's SMS)."""
    rows = await session.scalars(
        select(SmsMessage)
        .where(SmsMessage.user_id == user_id, SmsMessage.provider == "outbox")
        .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
        .limit(limit)
    )
    return list(rows)


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
        await queue_sms(session, user_id, phone, sms_text)
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
