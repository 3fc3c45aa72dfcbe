"""Discussion tables: a thread per question or topic in a course, and its posts.

The opening post is the thread's first post (``first=True``), so every post, the opening one
included, has the same body, attachments, reports and moderation.
"""

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
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base


class DiscussionThread(Base):
    __tablename__ = "discussion_threads"
    __table_args__ = (
        CheckConstraint("char_length(title) > 0", name="titled"),
        # The list: pinned threads first, then the most recently active.
        Index("ix_discussion_threads_course", "course_id", "pinned", "last_post_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(140))
    pinned: Mapped[bool] = mapped_column(Boolean, server_default="false")
    locked: Mapped[bool] = mapped_column(Boolean, server_default="false")
    """Locked by the tutor: students can read it but no longer reply."""
    reply_count: Mapped[int] = mapped_column(Integer, server_default="0")
    """Visible replies (the opening post and hidden posts not counted)."""
    answer_post_id: Mapped[int | None] = mapped_column(BigInteger)
    """The reply the tutor marked as the answer, if any."""
    tutor_replied: Mapped[bool] = mapped_column(Boolean, server_default="false")
    last_post_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_author_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DiscussionPost(Base):
    __tablename__ = "discussion_posts"
    __table_args__ = (
        CheckConstraint("char_length(body) > 0 OR has_attachments", name="not_empty"),
        Index("ix_discussion_posts_thread", "thread_id", "id"),
        # One opening post per thread.
        Index(
            "uq_discussion_posts_first", "thread_id", unique=True, postgresql_where=text("first")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("discussion_threads.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    first: Mapped[bool] = mapped_column(Boolean, server_default="false")
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    by_tutor: Mapped[bool] = mapped_column(Boolean, server_default="false")
    """Written by the course's tutor: shown with a "Tutor" mark."""
    has_attachments: Mapped[bool] = mapped_column(Boolean, server_default="false")
    hidden_at: Mapped[datetime | None]
    hidden_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    hidden_reason: Mapped[str] = mapped_column(String(300), server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    @property
    def hidden(self) -> bool:
        return self.hidden_at is not None


class DiscussionAttachment(Base):
    __tablename__ = "discussion_post_attachments"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("discussion_posts.id", ondelete="CASCADE"), primary_key=True
    )
    attachment_id: Mapped[int] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True, unique=True
    )
    position: Mapped[int] = mapped_column(Integer, server_default="0")
