from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base


class Conversation(Base):
    """One thread per pair of people: the student who wrote and the tutor they wrote to.

    ``last_seq`` numbers the messages densely (1, 2, 3…); a new message takes the next number
    under this row's lock, so within a conversation numbers follow commit order and a client
    that has seen up to N knows exactly what it is missing.
    """

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint("student_id <> tutor_id", name="two_people"),
        # One thread per pair, whichever of the two started it.
        Index(
            "uq_conversations_pair",
            text("LEAST(student_id, tutor_id)"),
            text("GREATEST(student_id, tutor_id)"),
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    started_by: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    last_message_at: Mapped[datetime | None]
    last_excerpt: Mapped[str] = mapped_column(String(200), server_default="")
    last_sender_id: Mapped[int | None] = mapped_column(BigInteger)
    private: Mapped[bool] = mapped_column(Boolean, server_default="false")
    """Marked private by either participant: no message text leaves the conversation (SMS,
    notification lists)."""
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    def other(self, user_id: int) -> int:
        return self.tutor_id if user_id == self.student_id else self.student_id

    def has(self, user_id: int) -> bool:
        return user_id in (self.student_id, self.tutor_id)


class Participant(Base):
    """One side of a conversation: how far they have read, when they were last told."""

    __tablename__ = "conversation_participants"
    __table_args__ = (Index("ix_conversation_participants_user", "user_id", "conversation_id"),)

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    last_read_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    last_read_at: Mapped[datetime | None]
    notified_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    """The newest message an offline notification already covers (a re-run adds nothing)."""
    sms_sent_at: Mapped[datetime | None]
    """When this side last got an SMS about this conversation (the quiet period starts)."""


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        CheckConstraint("seq > 0", name="positive_seq"),
        CheckConstraint("char_length(body) > 0 OR has_attachments", name="not_empty"),
        # A client that resends after a dropped socket (same client_id) does not duplicate.
        Index(
            "uq_messages_client_id",
            "conversation_id",
            "sender_id",
            "client_id",
            unique=True,
            postgresql_where=text("client_id <> ''"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    booking_id: Mapped[int | None] = mapped_column(BigInteger)
    """The lesson this message is about, if any (a booking id: scheduling owns the table)."""
    contact_flags: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{}")
    """Kinds of contact details shared before the pair's first booking (shown to the tutor
    as a reminder of the rules; the message is delivered unchanged)."""
    has_attachments: Mapped[bool] = mapped_column(Boolean, server_default="false")
    client_id: Mapped[str] = mapped_column(String(64), server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MessageAttachment(Base):
    __tablename__ = "message_attachments"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    attachment_id: Mapped[int] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True, unique=True
    )
    position: Mapped[int] = mapped_column(Integer, server_default="0")


class Block(Base):
    """``blocker_id`` blocked ``blocked_id``: no messages and no bookings between them."""

    __tablename__ = "user_blocks"
    __table_args__ = (CheckConstraint("blocker_id <> blocked_id", name="not_self"),)

    blocker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
