"""Model → response struct, shared by the API, the pages and the socket."""

from __future__ import annotations

from collections.abc import Sequence

from marketplace.attachments.models import Attachment
from marketplace.messaging.bookings import BookingRef
from marketplace.messaging.models import Conversation, Message
from marketplace.messaging.schemas import (
    AttachmentOut,
    BookingOut,
    ConversationOut,
    MessageOut,
    PersonOut,
)
from marketplace.messaging.service import InboxRow, StoredMessage, Thread


def attachment_url(conversation_id: int, attachment_id: int) -> str:
    return f"/api/v1/conversations/{conversation_id}/attachments/{attachment_id}"


def attachment_out(conversation_id: int, a: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=a.id,
        kind=a.kind,
        mime=a.mime,
        filename=a.filename,
        size_bytes=a.size_bytes,
        url=attachment_url(conversation_id, a.id),
        width=a.width,
        height=a.height,
        duration_seconds=a.duration_seconds,
    )


def booking_out(b: BookingRef | None) -> BookingOut | None:
    if b is None:
        return None
    return BookingOut(b.id, b.starts_at, b.ends_at, b.status, b.link)


def message_out(
    m: Message | StoredMessage, files: Sequence[Attachment] = (), booking: BookingRef | None = None
) -> MessageOut:
    return MessageOut(
        id=m.id,
        conversation_id=m.conversation_id,
        seq=m.seq,
        sender_id=m.sender_id,
        body=m.body,
        html=m.body_html,
        created_at=m.created_at,
        contact_flags=list(m.contact_flags or []),
        attachments=[attachment_out(m.conversation_id, a) for a in files],
        booking=booking_out(booking),
        client_id=m.client_id,
    )


def inbox_out(row: InboxRow) -> ConversationOut:
    c = row.conversation
    return ConversationOut(
        id=c.id,
        student_id=c.student_id,
        tutor_id=c.tutor_id,
        other=PersonOut(row.other_id, row.other_name),
        last_seq=c.last_seq,
        last_message_at=c.last_message_at,
        last_excerpt=c.last_excerpt,
        unread=row.unread,
        private=c.private,
        blocked=row.blocked,
    )


def thread_out(t: Thread) -> ConversationOut:
    c: Conversation = t.conversation
    return ConversationOut(
        id=c.id,
        student_id=c.student_id,
        tutor_id=c.tutor_id,
        other=PersonOut(t.other.id, t.other.full_name),
        last_seq=c.last_seq,
        last_message_at=c.last_message_at,
        last_excerpt=c.last_excerpt,
        unread=t.unread,
        private=c.private,
        blocked=t.blocked,
        blocked_by_me=t.blocked_by_me,
        their_read_seq=t.their_read_seq,
        my_read_seq=t.my_read_seq,
        bookings=[b for b in (booking_out(x) for x in t.bookings) if b is not None],
    )
