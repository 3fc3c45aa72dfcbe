"""Use cases as the API, the pages and the socket run them: rate limits, one transaction, then
the doorbell (real-time events) and, for an offline recipient, the notification job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.messaging import service
from marketplace.messaging.models import Conversation
from marketplace.messaging.notify import KIND as NOTIFY_KIND
from marketplace.messaging.notify import NOTIFY_TASK
from marketplace.messaging.presenters import message_out
from marketplace.messaging.schemas import MessageOut
from marketplace.messaging.service import Posted, Viewer
from marketplace.notifications import service as notifications
from marketplace.web.services import Services

MINUTE = 60
DAY = 24 * 3600


def channel(user_id: int) -> str:
    return f"user:{user_id}"


async def limit_messages(services: Services, user_id: int) -> None:
    await services.limiter.check(
        f"messages:{user_id}",
        limit=services.settings.messaging.messages_per_minute,
        window_seconds=MINUTE,
        what="messages in a minute",
    )


async def limit_new_conversations(services: Services, user_id: int) -> None:
    await services.limiter.check(
        f"conversations:{user_id}",
        limit=services.settings.messaging.new_conversations_per_day,
        window_seconds=DAY,
        what="new conversations today",
    )


async def limit_uploads(services: Services, user_id: int) -> None:
    await services.limiter.check(
        f"attachments:{user_id}", limit=60, window_seconds=3600, what="files in an hour"
    )


async def send(
    services: Services,
    viewer: Viewer,
    conversation_id: int,
    body: str,
    *,
    booking_id: int | None = None,
    attachment_ids: Sequence[int] = (),
    client_id: str = "",
) -> Posted:
    await limit_messages(services, viewer.id)
    if service.is_plain(body, booking_id=booking_id, attachment_ids=attachment_ids):
        try:
            plain = await service.post_plain(
                services.hot_engine or services.engine,
                conversation_id=conversation_id,
                sender_id=viewer.id,
                body=body,
                settings=services.settings.messaging,
                client_id=client_id,
            )
        except IntegrityError:
            plain = None  # the same client_id at the same instant: answered below
        except DBAPIError as exc:
            # A pooled connection that died (database restarted): the statement never ran.
            # With a client_id the full path below is safe to run; without one, say so.
            if not exc.connection_invalidated or not client_id:
                raise
            plain = None
        if plain is not None:
            await announce(services, plain)
            return plain
        # Nothing was written: the full path below says why (or replays a resend).
    for attempt in (1, 2):
        try:
            async with services.transaction() as session:
                posted = await service.post(
                    session,
                    conversation_id=conversation_id,
                    sender_id=viewer.id,
                    body=body,
                    settings=services.settings.messaging,
                    facts=services.booking_facts,
                    booking_id=booking_id,
                    attachment_ids=attachment_ids,
                    client_id=client_id,
                )
            break
        except IntegrityError:
            # The same client_id sent twice at the same instant: the unique index refused the
            # second; run it again to answer with the first.
            if attempt == 2 or not client_id:
                raise
    await announce(services, posted)
    return posted


async def start(
    services: Services,
    viewer: Viewer,
    other_id: int,
    body: str,
    *,
    booking_id: int | None = None,
    attachment_ids: Sequence[int] = (),
    client_id: str = "",
) -> tuple[Posted, bool]:
    """Write to ``other_id``: in the pair's thread, made now if needed."""
    service.clean_body(body, services.settings.messaging, allow_empty=bool(attachment_ids))
    await limit_messages(services, viewer.id)
    async with services.transaction() as session:
        conversation, created = await service.start(
            session, viewer, other_id, services.booking_facts
        )
        if created:
            # Counted only when a thread is really made; over the limit rolls it back.
            await limit_new_conversations(services, viewer.id)
        posted = await service.post(
            session,
            conversation_id=conversation.id,
            sender_id=viewer.id,
            body=body,
            settings=services.settings.messaging,
            facts=services.booking_facts,
            booking_id=booking_id,
            attachment_ids=attachment_ids,
            client_id=client_id,
        )
    await announce(services, posted)
    return posted, created


async def announce(services: Services, posted: Posted) -> None:
    message = posted.message
    # Encoded once: the recipient's copy is the same text with their unread total appended.
    text = _MESSAGE_EVENT.encode(
        _MessageEvent(
            message.conversation_id, message_out(message, posted.attachments, posted.booking)
        )
    ).decode()
    if posted.duplicate:
        # A resend after a dropped socket: only the sender needs the (same) answer again.
        await services.hub.publish_encoded([([channel(message.sender_id)], text)])
        return
    # The sender's copy and the recipient's differ only in the recipient's own unread total
    # (the sender must not learn how much else is waiting for them).
    for_recipient = f'{text[:-1]},"unread_total":{int(posted.recipient_unread)}}}'
    recipient = channel(posted.recipient_id)
    reached = await services.hub.publish_encoded(
        [([channel(message.sender_id)], text), ([recipient], for_recipient)]
    )
    if reached is not None and recipient in reached:
        return  # a web process holds a socket of theirs: online, no need to ask presence
    if not await services.hub.is_online(posted.recipient_id):
        services.queue.enqueue(NOTIFY_TASK, message.id)


class _MessageEvent(msgspec.Struct, tag_field="type", tag="message"):
    """``{"type": "message", "conversation_id": …, "message": {…}}``."""

    conversation_id: int
    message: MessageOut


_MESSAGE_EVENT = msgspec.json.Encoder()


async def read(
    services: Services, viewer: Viewer, conversation_id: int, seq: int | None
) -> tuple[int, int]:
    """Move the read cursor; tell the other side ("seen") and the reader's other tabs."""
    async with services.transaction() as session:
        cursor, moved = await service.mark_read(session, conversation_id, viewer.id, seq)
        total = await service.unread_total(session, viewer.id)
        if moved and cursor >= await _last_seq(session, conversation_id):
            # Everything here is read: so is the "new messages" line about it.
            await notifications.mark_read_by_link(
                session, viewer.id, NOTIFY_KIND, f"/messages/{conversation_id}"
            )
        other = None
        if moved:
            conversation = await session.get(Conversation, conversation_id)
            assert conversation is not None
            other = conversation.other(viewer.id)
    if other is not None:
        receipt = {
            "type": "read",
            "conversation_id": conversation_id,
            "user_id": viewer.id,
            "seq": cursor,
        }
        await services.hub.publish_many(
            [
                ([channel(viewer.id), channel(other)], receipt),
                ([channel(viewer.id)], {"type": "unread", "total": total}),
            ]
        )
    return cursor, total


async def _last_seq(session: AsyncSession, conversation_id: int) -> int:
    conversation = await session.get(Conversation, conversation_id)
    return conversation.last_seq if conversation else 0


async def conversation_changed(
    services: Services, conversation_id: int, user_ids: Sequence[int], **fields: Any
) -> None:
    """Blocked, unblocked, made private: open views refresh their controls."""
    await services.hub.publish(
        [channel(u) for u in user_ids],
        {"type": "conversation", "conversation_id": conversation_id, **fields},
    )
