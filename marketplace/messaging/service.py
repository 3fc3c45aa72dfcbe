"""The rules of conversations: who may write to whom, numbering, read cursors, unread counts.

No HTTP and no sockets here: callers (``live.py``) commit, then ring the doorbell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, exists, func, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.elements import Label, SQLCoreOperations

from marketplace.accounts.models import Role, User
from marketplace.attachments import service as attachments
from marketplace.attachments.models import Attachment
from marketplace.contact_details import find_contact_details
from marketplace.errors import Forbidden, NotFound, ValidationFailed
from marketplace.messaging import group_commit
from marketplace.messaging.bookings import BookingFacts, BookingRef
from marketplace.messaging.models import (
    Block,
    Conversation,
    Message,
    MessageAttachment,
    Participant,
)
from marketplace.profiles.models import TutorProfile, TutorStatus
from marketplace.reports import service as reports
from marketplace.settings import MessagingSettings
from marketplace.text import plain_text, render_message

CONTEXT_KIND = "conversation"
PAGE = 50
MAX_PAGE = 200


class Blocked(Forbidden):
    code = "blocked"


@dataclass(frozen=True)
class Viewer:
    id: int
    roles: tuple[str, ...] = ()
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as its write returned it: the fields of ``Message`` without an ORM object
    (building one, with its instrumented state, cost more than the rest of answering a plain
    send in Python)."""

    id: int
    conversation_id: int
    seq: int
    sender_id: int
    body: str
    body_html: str
    booking_id: int | None
    contact_flags: list[str]
    has_attachments: bool
    client_id: str
    created_at: datetime


@dataclass
class Posted:
    """A stored message with what the caller needs to announce it."""

    conversation_id: int
    message: Message | StoredMessage
    attachments: list[Attachment]
    booking: BookingRef | None
    recipient_id: int
    recipient_unread: int
    duplicate: bool = False


@dataclass
class Thread:
    """A conversation as one of its participants (or an admin handling a report) sees it."""

    conversation: Conversation
    viewer_id: int
    other: User
    my_read_seq: int
    their_read_seq: int
    blocked_by_me: bool
    blocked_by_them: bool
    as_admin: bool = False
    have_booked: bool = False
    bookings: list[BookingRef] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return self.blocked_by_me or self.blocked_by_them

    @property
    def unread(self) -> int:
        return max(self.conversation.last_seq - self.my_read_seq, 0)

    @property
    def role(self) -> str:
        return "student" if self.viewer_id == self.conversation.student_id else "tutor"


# ------------------------------------------------------------------ validation


def clean_body(body: str, settings: MessagingSettings, *, allow_empty: bool = False) -> str:
    text = body.replace("\r\n", "\n").strip()
    if not text and not allow_empty:
        raise ValidationFailed({"body": "Write a message first."}, message="The message is empty.")
    if len(text) > settings.max_message_chars:
        raise ValidationFailed(
            {"body": f"Keep it under {settings.max_message_chars} characters."},
            message="The message is too long.",
        )
    return text


# ------------------------------------------------------------------ starting


async def find_pair(session: AsyncSession, a: int, b: int) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(
            func.least(Conversation.student_id, Conversation.tutor_id) == min(a, b),
            func.greatest(Conversation.student_id, Conversation.tutor_id) == max(a, b),
        )
    )


async def open_with(
    session: AsyncSession, me: Viewer, other_id: int, facts: BookingFacts
) -> tuple[Conversation | None, int, int]:
    """The existing thread with ``other_id``, or (None, student_id, tutor_id) a new one would
    have; raises when ``me`` may not write to them."""
    if other_id == me.id:
        raise ValidationFailed(
            {"user_id": "You cannot message yourself."}, message="You cannot message yourself."
        )
    other = await session.get(User, other_id)
    if other is None or not other.is_active:
        raise NotFound("No such person.", code="user_not_found")
    existing = await find_pair(session, me.id, other_id)
    if existing is not None:
        return existing, existing.student_id, existing.tutor_id
    tutor_status = await session.scalar(
        select(TutorProfile.status).where(TutorProfile.user_id == other_id)
    )
    if Role.STUDENT.value in me.roles and tutor_status == TutorStatus.APPROVED.value:
        return None, me.id, other_id
    if Role.TUTOR.value in me.roles and await facts.bookings_between(session, other_id, me.id):
        return None, other_id, me.id
    raise Forbidden(
        "You can message tutors from their page, and the students who booked you.",
        code="cannot_message",
    )


async def start(
    session: AsyncSession, me: Viewer, other_id: int, facts: BookingFacts
) -> tuple[Conversation, bool]:
    """(conversation, created): the pair's thread, made if it does not exist yet."""
    existing, student_id, tutor_id = await open_with(session, me, other_id, facts)
    if existing is not None:
        return existing, False
    if await _blocked(session, me.id, other_id):
        raise Blocked("You cannot message this person.")
    created = await session.scalar(
        insert(Conversation)
        .values(student_id=student_id, tutor_id=tutor_id, started_by=me.id)
        .on_conflict_do_nothing()
        .returning(Conversation)
    )
    if created is None:  # the other side started it at the same moment
        found = await find_pair(session, me.id, other_id)
        assert found is not None
        return found, False
    session.add_all(
        [
            Participant(conversation_id=created.id, user_id=student_id),
            Participant(conversation_id=created.id, user_id=tutor_id),
        ]
    )
    await session.flush()
    return created, True


# ------------------------------------------------------------------ posting


# One statement does the whole write: take the next number under the conversation's row lock
# (only if the sender takes part, nobody is blocked and this client_id is new), insert the
# message, move the sender's read cursor, and read the recipient's unread total. With BEGIN and
# COMMIT that is three round trips per message; the checks that need more (a booking, contact
# details before a first booking) read the conversation first.
_POST_SQL = """
    WITH c AS (
        UPDATE conversations
           SET last_seq = last_seq + 1, last_message_at = CAST(:now AS timestamptz),
               last_sender_id = :sender,
               last_excerpt = :excerpt
         WHERE id = :cid AND :sender IN (student_id, tutor_id)
           AND NOT EXISTS (
               SELECT 1 FROM user_blocks b
                WHERE (b.blocker_id = student_id AND b.blocked_id = tutor_id)
                   OR (b.blocker_id = tutor_id AND b.blocked_id = student_id))
           AND NOT EXISTS (  -- no earlier message with this client_id ('' never matches)
               SELECT 1 FROM messages m
                WHERE m.conversation_id = :cid AND m.sender_id = :sender
                  AND m.client_id = :client_id AND m.client_id <> '')
     RETURNING id, last_seq, student_id, tutor_id, private,
               CASE WHEN student_id = :sender THEN tutor_id ELSE student_id END AS recipient
    ), m AS (
        INSERT INTO messages (conversation_id, seq, sender_id, body, body_html, booking_id,
                              contact_flags, has_attachments, client_id, created_at)
        SELECT id, last_seq, :sender, :body, :html, CAST(:booking AS bigint),
               CAST(:flags AS varchar[]), CAST(:files AS boolean), :client_id,
               CAST(:now AS timestamptz)
          FROM c
     RETURNING id, seq
    ), r AS (
        UPDATE conversation_participants p
           SET last_read_seq = m.seq, last_read_at = :now
          FROM m
         WHERE p.conversation_id = :cid AND p.user_id = :sender
    )
    SELECT m.id, m.seq, c.student_id, c.tutor_id, c.private, c.recipient,
           1 + (SELECT coalesce(sum(c2.last_seq - p2.last_read_seq), 0)
                  FROM conversation_participants p2
                  JOIN conversations c2 ON c2.id = p2.conversation_id
                 WHERE p2.user_id = c.recipient) AS recipient_unread
      FROM m, c
    """
_POST = text(_POST_SQL).bindparams(bindparam("flags", type_=ARRAY(String())))


async def post(
    session: AsyncSession,
    *,
    conversation_id: int,
    sender_id: int,
    body: str,
    settings: MessagingSettings,
    facts: BookingFacts,
    booking_id: int | None = None,
    attachment_ids: Sequence[int] = (),
    client_id: str = "",
) -> Posted:
    text_ = clean_body(body, settings, allow_empty=bool(attachment_ids))
    if len(client_id) > 64:
        raise ValidationFailed({"client_id": "Use at most 64 characters."})
    kinds = find_contact_details(text_)
    booking = None
    flags: list[str] = []
    if booking_id is not None or kinds:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None or not conversation.has(sender_id):
            raise NotFound("No such conversation.", code="conversation_not_found")
        if booking_id is not None:
            found = await facts.bookings_between(
                session, conversation.student_id, conversation.tutor_id, [booking_id]
            )
            if not found:
                raise ValidationFailed({"booking_id": "Choose one of your lessons together."})
            booking = found[0]
        if kinds and not await facts.have_booked(
            session, conversation.student_id, conversation.tutor_id
        ):
            flags = sorted(kind.value for kind in kinds)
    files = await attachments.bind(session, sender_id, list(attachment_ids), "message")
    draft = _Draft(conversation_id, sender_id, text_, client_id, booking, flags, files)
    result = (await session.execute(_POST, draft.params())).first()
    if result is None:
        return await _refused(session, conversation_id, sender_id, client_id, facts)
    row = result._mapping
    if files:
        session.add_all(
            MessageAttachment(message_id=row["id"], attachment_id=f.id, position=i)
            for i, f in enumerate(files)
        )
        await session.flush()
    return draft.posted(row)


def is_plain(body: str, *, booking_id: int | None, attachment_ids: Sequence[int]) -> bool:
    """A message ``post_plain`` can write: text only, no booking, no contact details."""
    return booking_id is None and not attachment_ids and not find_contact_details(body)


async def post_plain(
    engine: AsyncEngine,
    *,
    conversation_id: int,
    sender_id: int,
    body: str,
    settings: MessagingSettings,
    client_id: str = "",
) -> Posted | None:
    """The common message in an autocommitted statement shared with the other plain messages
    sent at the same moment (``group_commit``; no BEGIN/COMMIT): the statement is its own
    transaction, so nothing can be half written. None when it wrote nothing (not a
    participant, blocked, a resend): the caller then runs ``post`` to answer."""
    text_ = clean_body(body, settings)
    if len(client_id) > 64:
        raise ValidationFailed({"client_id": "Use at most 64 characters."})
    draft = _Draft(conversation_id, sender_id, text_, client_id, None, [], [])
    row = await group_commit.poster_for(engine).post(draft)
    return draft.posted(row) if row is not None else None


@dataclass
class _Draft:
    """A message about to be written by ``_POST``, and what it becomes once it is."""

    conversation_id: int
    sender_id: int
    text: str
    client_id: str
    booking: BookingRef | None
    flags: list[str]
    files: list[Attachment]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.html = render_message(self.text) if self.text else ""

    def params(self) -> dict[str, object]:
        return {
            "cid": self.conversation_id,
            "sender": self.sender_id,
            "now": self.now,
            "excerpt": _excerpt(self.text, self.files),
            "body": self.text,
            "html": self.html,
            "booking": self.booking.id if self.booking else None,
            "flags": self.flags,
            "files": bool(self.files),
            "client_id": self.client_id,
        }

    def posted(self, row: Mapping[Any, Any]) -> Posted:
        message = StoredMessage(
            row["id"],
            self.conversation_id,
            row["seq"],
            self.sender_id,
            self.text,
            self.html,
            self.booking.id if self.booking else None,
            self.flags,
            bool(self.files),
            self.client_id,
            self.now,
        )
        return Posted(
            conversation_id=self.conversation_id,
            message=message,
            attachments=self.files,
            booking=self.booking,
            recipient_id=row["recipient"],
            recipient_unread=int(row["recipient_unread"]),
        )


async def _refused(
    session: AsyncSession, conversation_id: int, sender_id: int, client_id: str, facts: BookingFacts
) -> Posted:
    """Why the write did not happen: not a participant, blocked, or a resend."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or not conversation.has(sender_id):
        raise NotFound("No such conversation.", code="conversation_not_found")
    if client_id:
        earlier = await session.scalar(
            select(Message).where(
                Message.conversation_id == conversation.id,
                Message.sender_id == sender_id,
                Message.client_id == client_id,
                Message.client_id != "",  # the partial unique index's condition: it answers
            )
        )
        if earlier is not None:
            return await _replay(
                session, conversation, earlier, conversation.other(sender_id), facts
            )
    raise Blocked("You cannot message this person.")


async def _replay(
    session: AsyncSession,
    conversation: Conversation,
    message: Message,
    recipient_id: int,
    facts: BookingFacts,
) -> Posted:
    files = (await attachments_of(session, [message.id])).get(message.id, [])
    booking = None
    if message.booking_id is not None:
        found = await facts.bookings_between(
            session, conversation.student_id, conversation.tutor_id, [message.booking_id]
        )
        booking = found[0] if found else None
    return Posted(
        conversation.id,
        message,
        files,
        booking,
        recipient_id,
        await unread_total(session, recipient_id),
        duplicate=True,
    )


def _excerpt(text: str, files: Sequence[Attachment]) -> str:
    if text:
        return plain_text(text, 140)
    return "📎 " + ", ".join(f.filename for f in files)[:130]


def _block_exists(a: SQLCoreOperations[int], b: SQLCoreOperations[int]) -> Label[bool]:
    return (
        exists()
        .where(
            or_(
                and_(Block.blocker_id == a, Block.blocked_id == b),
                and_(Block.blocker_id == b, Block.blocked_id == a),
            )
        )
        .correlate(Conversation)
        .label("blocked")
    )


async def _blocked(session: AsyncSession, a: int, b: int) -> bool:
    from marketplace.messaging.safety import is_blocked

    return await is_blocked(session, a, b)


# ------------------------------------------------------------------ reading


async def thread(
    session: AsyncSession, conversation_id: int, viewer: Viewer, facts: BookingFacts | None = None
) -> Thread:
    """The conversation if ``viewer`` takes part, or is an admin handling a report on it."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("No such conversation.", code="conversation_not_found")
    as_admin = False
    if not conversation.has(viewer.id):
        if not (
            viewer.is_admin
            and await reports.has_open_report(session, CONTEXT_KIND, conversation.id)
        ):
            raise NotFound("No such conversation.", code="conversation_not_found")
        as_admin = True
    me = viewer.id if not as_admin else conversation.student_id
    other_id = conversation.other(me)
    other = await session.get(User, other_id)
    assert other is not None
    cursors = dict(
        (
            await session.execute(
                select(Participant.user_id, Participant.last_read_seq).where(
                    Participant.conversation_id == conversation.id
                )
            )
        ).all()
    )
    blocks = set(
        (
            await session.execute(
                select(Block.blocker_id).where(
                    or_(
                        and_(Block.blocker_id == me, Block.blocked_id == other_id),
                        and_(Block.blocker_id == other_id, Block.blocked_id == me),
                    )
                )
            )
        ).scalars()
    )
    result = Thread(
        conversation=conversation,
        viewer_id=me,
        other=other,
        my_read_seq=cursors.get(me, 0),
        their_read_seq=cursors.get(other_id, 0),
        blocked_by_me=me in blocks,
        blocked_by_them=other_id in blocks,
        as_admin=as_admin,
    )
    if facts is not None:
        result.bookings = await facts.bookings_between(
            session, conversation.student_id, conversation.tutor_id
        )
        result.have_booked = await facts.have_booked(
            session, conversation.student_id, conversation.tutor_id
        )
    return result


async def messages(
    session: AsyncSession,
    conversation_id: int,
    *,
    after_seq: int | None = None,
    before_seq: int | None = None,
    limit: int = PAGE,
) -> tuple[list[Message], bool]:
    """A page of messages in order and whether there are more in the asked direction.

    ``after_seq`` pages forward (catch-up: everything newer than what a client has);
    otherwise the newest ``limit`` (before ``before_seq`` when given).
    """
    limit = max(1, min(limit, MAX_PAGE))
    query = select(Message).where(Message.conversation_id == conversation_id)
    if after_seq is not None:
        query = query.where(Message.seq > after_seq).order_by(Message.seq).limit(limit + 1)
        rows = list(await session.scalars(query))
        return rows[:limit], len(rows) > limit
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    rows = list(await session.scalars(query.order_by(Message.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    return list(reversed(rows[:limit])), more


async def attachments_of(
    session: AsyncSession, message_ids: Sequence[int]
) -> dict[int, list[Attachment]]:
    if not message_ids:
        return {}
    rows = await session.execute(
        select(MessageAttachment.message_id, Attachment)
        .join(Attachment, Attachment.id == MessageAttachment.attachment_id)
        .where(MessageAttachment.message_id.in_(list(message_ids)))
        .order_by(MessageAttachment.message_id, MessageAttachment.position)
    )
    found: dict[int, list[Attachment]] = {}
    for message_id, attachment in rows:
        found.setdefault(message_id, []).append(attachment)
    return found


async def attachment_in(
    session: AsyncSession, conversation_id: int, attachment_id: int
) -> Attachment:
    attachment = await session.scalar(
        select(Attachment)
        .join(MessageAttachment, MessageAttachment.attachment_id == Attachment.id)
        .join(Message, Message.id == MessageAttachment.message_id)
        .where(Attachment.id == attachment_id, Message.conversation_id == conversation_id)
    )
    if attachment is None:
        raise NotFound("No such attachment.", code="attachment_not_found")
    return attachment


@dataclass(frozen=True)
class InboxRow:
    conversation: Conversation
    other_id: int
    other_name: str
    unread: int
    blocked: bool


async def inbox(
    session: AsyncSession, user_id: int, *, q: str = "", limit: int = 50, offset: int = 0
) -> list[InboxRow]:
    """The user's conversations, newest activity first; ``q`` matches names and message text."""
    other_id = func.coalesce(
        func.nullif(Conversation.student_id, user_id), Conversation.tutor_id
    ).label("other_id")
    query = (
        select(
            Conversation,
            other_id,
            User.full_name,
            (Conversation.last_seq - Participant.last_read_seq).label("unread"),
            _block_exists(Conversation.student_id, Conversation.tutor_id),
        )
        .join(Participant, Participant.conversation_id == Conversation.id)
        .join(User, User.id == other_id)
        .where(Participant.user_id == user_id, Conversation.last_seq > 0)
        .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc())
        .limit(max(1, min(limit, 100)))
        .offset(max(0, offset))
    )
    words = q.strip()[:100]
    if words:
        pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                User.full_name.ilike(pattern),
                exists().where(
                    Message.conversation_id == Conversation.id, Message.body.ilike(pattern)
                ),
            )
        )
    rows = await session.execute(query)
    return [
        InboxRow(conversation=c, other_id=o, other_name=name, unread=max(u, 0), blocked=bool(b))
        for c, o, name, u, b in rows
    ]


# ------------------------------------------------------------------ reading cursors


async def mark_read(
    session: AsyncSession, conversation_id: int, user_id: int, seq: int | None = None
) -> tuple[int, bool]:
    """Move the user's read cursor forward (never back) to ``seq`` or the newest message.

    Returns (cursor, moved)."""
    participant = await session.get(Participant, (conversation_id, user_id), with_for_update=True)
    if participant is None:
        raise NotFound("No such conversation.", code="conversation_not_found")
    last_seq = await session.scalar(
        select(Conversation.last_seq).where(Conversation.id == conversation_id)
    )
    target = min(seq if seq is not None else last_seq or 0, last_seq or 0)
    if target <= participant.last_read_seq:
        return participant.last_read_seq, False
    participant.last_read_seq = target
    participant.last_read_at = datetime.now(UTC)
    await session.flush()
    return target, True


async def unread_total(session: AsyncSession, user_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(Conversation.last_seq - Participant.last_read_seq), 0))
        .join(Participant, Participant.conversation_id == Conversation.id)
        .where(Participant.user_id == user_id)
    )
    return int(total or 0)


async def unread_by_conversation(session: AsyncSession, user_id: int) -> dict[int, int]:
    rows = await session.execute(
        select(Conversation.id, Conversation.last_seq - Participant.last_read_seq)
        .join(Participant, Participant.conversation_id == Conversation.id)
        .where(Participant.user_id == user_id, Conversation.last_seq > Participant.last_read_seq)
    )
    return {cid: int(n) for cid, n in rows}


async def set_private(
    session: AsyncSession, conversation_id: int, user_id: int, private: bool
) -> Conversation:
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None or not conversation.has(user_id):
        raise NotFound("No such conversation.", code="conversation_not_found")
    conversation.private = private
    await session.flush()
    return conversation


async def message_in(session: AsyncSession, message_id: int, user_id: int) -> Message:
    """A message of a conversation ``user_id`` takes part in (404 otherwise)."""
    row = (
        await session.execute(
            select(Message, Conversation)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.id == message_id)
        )
    ).first()
    if row is None or not row[1].has(user_id):
        raise NotFound("No such message.", code="message_not_found")
    return row[0]


async def names(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(
        select(User.id, User.full_name).where(User.id.in_(list(set(user_ids))))
    )
    return {user_id: name for user_id, name in rows}
