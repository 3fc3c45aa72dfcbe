"""Request and response shapes of the course discussions API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Body = Annotated[str, msgspec.Meta(max_length=50_000)]
Ids = Annotated[list[int], msgspec.Meta(max_length=20)]


class ThreadIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(max_length=1000)]
    body: Body = ""
    attachment_ids: Ids = []


class PostIn(msgspec.Struct, forbid_unknown_fields=True):
    body: Body = ""
    attachment_ids: Ids = []


class PinIn(msgspec.Struct, forbid_unknown_fields=True):
    pinned: bool


class LockIn(msgspec.Struct, forbid_unknown_fields=True):
    locked: bool


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    answer: bool


class HideIn(msgspec.Struct, forbid_unknown_fields=True):
    hidden: bool
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class DiscussionReportIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str
    details: Annotated[str, msgspec.Meta(max_length=5000)] = ""


class FileOut(msgspec.Struct):
    id: int
    kind: str
    mime: str
    filename: str
    size_bytes: int
    url: str | None
    """Where to fetch it; null for an upload not posted yet."""
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


class PostOut(msgspec.Struct):
    id: int
    author_id: int
    author_name: str
    first: bool
    by_tutor: bool
    is_answer: bool
    hidden: bool
    html: str | None
    """The sanitised post; null when it was removed (moderators still get it)."""
    hidden_reason: str | None
    attachments: list[FileOut]
    created_at: datetime


class ThreadOut(msgspec.Struct):
    id: int
    course_id: int
    title: str
    author_id: int
    author_name: str
    pinned: bool
    locked: bool
    reply_count: int
    answered: bool
    tutor_replied: bool
    last_post_at: datetime
    created_at: datetime
    link: str


class ThreadsOut(msgspec.Struct):
    items: list[ThreadOut]
    total: int
    page: int
    role: str
    """The caller's place: student, tutor (moderates) or admin (reads and moderates)."""


class ThreadDetailOut(msgspec.Struct):
    thread: ThreadOut
    posts: list[PostOut]
    total_posts: int
    page: int
    role: str


class PostedOut(msgspec.Struct):
    thread: ThreadOut
    post: PostOut


class ReportOut(msgspec.Struct):
    id: int
    status: str
    reason: str
    created_at: datetime
