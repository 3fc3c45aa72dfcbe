"""Telling an offline recipient about new messages: in the app always, by SMS at most once per
conversation per quiet period, and never with the text of a private conversation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.messaging.models import Conversation, Message, Participant
from marketplace.notifications import service as notifications
from marketplace.notifications.models import Notification
from marketplace.settings import MessagingSettings
from marketplace.text import plain_text

NOTIFY_TASK = "messaging.notify_offline"
KIND = "message"
SMS_EXCERPT = 120


async def notify_offline(
    session: AsyncSession,
    message_id: int,
    settings: MessagingSettings,
    base_url: str,
    now: datetime | None = None,
) -> None:
    """Job body. Idempotent: the recipient's ``notified_seq`` records what was already told."""
    now = now or datetime.now(UTC)
    message = await session.get(Message, message_id)
    if message is None:
        return
    conversation = await session.get(Conversation, message.conversation_id)
    assert conversation is not None
    recipient_id = conversation.other(message.sender_id)
    participant = await session.get(
        Participant, (conversation.id, recipient_id), with_for_update=True
    )
    if participant is None:
        return
    if participant.last_read_seq >= message.seq or participant.notified_seq >= message.seq:
        return  # already read (came back online), or told by an earlier run
    sender = await session.get(User, message.sender_id)
    sender_name = sender.full_name if sender else "Someone"
    unread = max(conversation.last_seq - participant.last_read_seq, 1)
    link = f"/messages/{conversation.id}"
    title = (
        f"New message from {sender_name}"
        if unread == 1
        else f"{unread} new messages from {sender_name}"
    )
    body = "" if conversation.private else plain_text(message.body, 200)
    # One unread line per conversation, brought up to date, rather than one line per message.
    note = await session.scalar(
        select(Notification)
        .where(
            Notification.user_id == recipient_id,
            Notification.kind == KIND,
            Notification.link == link,
            Notification.read_at.is_(None),
        )
        .with_for_update()
    )
    sms_due = participant.sms_sent_at is None or now - participant.sms_sent_at >= timedelta(
        minutes=settings.sms_quiet_minutes
    )
    sms_text = _sms_text(conversation, message, sender_name, base_url) if sms_due else None
    if note is not None:
        note.title = title[:200]
        note.body = body
        note.created_at = now
        if sms_text and await _queue_sms(session, recipient_id, sms_text):
            participant.sms_sent_at = now
    else:
        await notifications.notify(
            session, recipient_id, kind=KIND, title=title, body=body, link=link, sms_text=sms_text
        )
        if sms_text and await notifications.phone_for(session, recipient_id):
            participant.sms_sent_at = now
    participant.notified_seq = conversation.last_seq
    await session.flush()


async def _queue_sms(session: AsyncSession, user_id: int, text: str) -> bool:
    """An SMS without a new in-app line (the line exists and was just updated)."""
    phone = await notifications.phone_for(session, user_id)
    if not phone:
        return False
    await notifications.queue_sms(session, user_id, phone, text)
    return True


def _sms_text(conversation: Conversation, message: Message, sender_name: str, base_url: str) -> str:
    url = f"{base_url}/messages/{conversation.id}"
    if conversation.private or not message.body:
        return f"Duet: {sender_name} sent you a message. Read it at {url}"
    return f"Duet: {sender_name}: {plain_text(message.body, SMS_EXCERPT)} — reply at {url}"
