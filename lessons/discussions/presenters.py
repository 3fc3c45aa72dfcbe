"""Discussion rows as the API and the pages show them, to one viewer."""

from __future__ import annotations

from lessons.discussions.models import DiscussionPost, DiscussionThread
from lessons.discussions.schemas import FileOut, PostOut, ThreadOut
from lessons.discussions.service import Member, thread_link
from marketplace.attachments.models import Attachment


def file_url(post_id: int, attachment_id: int) -> str:
    return f"/api/v1/discussion-posts/{post_id}/attachments/{attachment_id}"


def file_out(a: Attachment, post_id: int | None) -> FileOut:
    return FileOut(
        id=a.id,
        kind=a.kind,
        mime=a.mime,
        filename=a.filename,
        size_bytes=a.size_bytes,
        url=file_url(post_id, a.id) if post_id is not None else None,
        width=a.width,
        height=a.height,
        duration_seconds=a.duration_seconds,
    )


def thread_out(t: DiscussionThread, author_name: str) -> ThreadOut:
    return ThreadOut(
        id=t.id,
        course_id=t.course_id,
        title=t.title,
        author_id=t.author_id,
        author_name=author_name,
        pinned=t.pinned,
        locked=t.locked,
        reply_count=t.reply_count,
        answered=t.answer_post_id is not None,
        tutor_replied=t.tutor_replied,
        last_post_at=t.last_post_at,
        created_at=t.created_at,
        link=thread_link(t.course_id, t.id),
    )


def post_out(
    p: DiscussionPost,
    thread: DiscussionThread,
    files: list[Attachment],
    names: dict[int, str],
    member: Member,
) -> PostOut:
    """A removed post keeps its place with the reason; only moderators see what it said."""
    visible = not p.hidden or member.moderates
    return PostOut(
        id=p.id,
        author_id=p.author_id,
        author_name=names.get(p.author_id, ""),
        first=p.first,
        by_tutor=p.by_tutor,
        is_answer=thread.answer_post_id == p.id,
        hidden=p.hidden,
        html=p.body_html if visible else None,
        hidden_reason=p.hidden_reason if p.hidden else None,
        attachments=[file_out(a, p.id) for a in files] if visible else [],
        created_at=p.created_at,
    )
