"""The rules of course discussions: who may read, write and moderate, and what each act does.

Readers are the course's tutor, its students with an active enrolment, and admins (who read and
moderate but do not post). No HTTP here; callers commit and apply rate limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from lessons.courses.models import Course, Enrolment
from lessons.discussions.models import DiscussionAttachment, DiscussionPost, DiscussionThread
from marketplace.accounts.models import User
from marketplace.attachments import service as attachments
from marketplace.attachments.models import Attachment
from marketplace.audit import service as audit
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.notifications.service import notify
from marketplace.reports import service as reports
from marketplace.reports.models import Report
from marketplace.text import plain_text, render_message

CONTEXT_KIND = "course_discussion"
SUBJECT_KIND = "discussion_post"
ATTACHMENT_PURPOSE = "discussion"
MAX_TITLE = 140
MAX_HIDE_REASON = 300
PER_PAGE = 30
POSTS_PER_PAGE = 50
NOTIFY_AT_MOST = 50


class ForumRole(StrEnum):
    STUDENT = "student"
    TUTOR = "tutor"
    ADMIN = "admin"


class NotEnrolled(Forbidden):
    code = "not_enrolled"


@dataclass(frozen=True)
class Member:
    """Someone allowed into one course's discussions, and in which capacity."""

    user_id: int
    course: Course
    role: ForumRole

    @property
    def moderates(self) -> bool:
        return self.role in (ForumRole.TUTOR, ForumRole.ADMIN)

    @property
    def is_tutor(self) -> bool:
        return self.role is ForumRole.TUTOR


@dataclass
class ThreadRow:
    thread: DiscussionThread
    author_name: str
    last_author_name: str


def thread_link(course_id: int, thread_id: int, post_id: int | None = None) -> str:
    anchor = f"#p{post_id}" if post_id is not None else ""
    return f"/courses/{course_id}/discussions/{thread_id}{anchor}"


# ------------------------------------------------------------------ access


async def member_of(
    session: AsyncSession, course_id: int, user_id: int, *, is_admin: bool = False
) -> Member:
    """The viewer's place in the course's discussions, or 404 (no such course, or a draft
    they cannot see) / 403 ``not_enrolled``."""
    course = await session.get(Course, course_id)
    if course is None:
        raise NotFound("No such course.", code="course_not_found")
    if course.tutor_id == user_id:
        return Member(user_id, course, ForumRole.TUTOR)
    if is_admin:
        return Member(user_id, course, ForumRole.ADMIN)
    if await _enrolled(session, course_id, user_id):
        return Member(user_id, course, ForumRole.STUDENT)
    if not course.is_published:
        raise NotFound("No such course.", code="course_not_found")
    raise NotEnrolled("The discussions of a course are open to its students. Enrol to join in.")


async def thread_in(
    session: AsyncSession, member: Member, thread_id: int, *, lock: bool = False
) -> DiscussionThread:
    query = select(DiscussionThread).where(
        DiscussionThread.id == thread_id, DiscussionThread.course_id == member.course.id
    )
    if lock:
        query = query.with_for_update()
    thread = await session.scalar(query)
    if thread is None:
        raise NotFound("No such discussion.", code="thread_not_found")
    return thread


async def post_with_member(
    session: AsyncSession, post_id: int, user_id: int, *, is_admin: bool = False
) -> tuple[DiscussionPost, DiscussionThread, Member]:
    """A post, its thread and the viewer's membership of the course (404 when the post does
    not exist, the same 403/404 as ``member_of`` otherwise)."""
    found = (
        await session.execute(
            select(DiscussionPost, DiscussionThread)
            .join(DiscussionThread, DiscussionThread.id == DiscussionPost.thread_id)
            .where(DiscussionPost.id == post_id)
        )
    ).one_or_none()
    if found is None:
        raise NotFound("No such post.", code="post_not_found")
    post, thread = found
    member = await member_of(session, thread.course_id, user_id, is_admin=is_admin)
    return post, thread, member


# ------------------------------------------------------------------ reading


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def threads(
    session: AsyncSession, course_id: int, *, q: str = "", page: int = 1, per_page: int = PER_PAGE
) -> tuple[list[ThreadRow], int]:
    """Pinned threads first, then the most recently active; ``q`` searches titles and the
    text of visible posts."""
    author = aliased(User)
    last = aliased(User)
    where = [DiscussionThread.course_id == course_id]
    if q.strip():
        pattern = _like(q.strip())
        where.append(
            or_(
                DiscussionThread.title.ilike(pattern),
                exists().where(
                    DiscussionPost.thread_id == DiscussionThread.id,
                    DiscussionPost.hidden_at.is_(None),
                    DiscussionPost.body.ilike(pattern),
                ),
            )
        )
    total = await session.scalar(select(func.count()).select_from(DiscussionThread).where(*where))
    rows = await session.execute(
        select(DiscussionThread, author.full_name, func.coalesce(last.full_name, ""))
        .join(author, author.id == DiscussionThread.author_id)
        .outerjoin(last, last.id == DiscussionThread.last_author_id)
        .where(*where)
        .order_by(
            DiscussionThread.pinned.desc(),
            DiscussionThread.last_post_at.desc(),
            DiscussionThread.id.desc(),
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [ThreadRow(t, a, la) for t, a, la in rows], int(total or 0)


async def posts(
    session: AsyncSession, thread_id: int, *, page: int = 1, per_page: int = POSTS_PER_PAGE
) -> tuple[list[DiscussionPost], int]:
    """One page of a thread's posts in the order they were written, and the post count."""
    total = await session.scalar(
        select(func.count())
        .select_from(DiscussionPost)
        .where(DiscussionPost.thread_id == thread_id)
    )
    rows = await session.scalars(
        select(DiscussionPost)
        .where(DiscussionPost.thread_id == thread_id)
        .order_by(DiscussionPost.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), int(total or 0)


async def page_of_post(
    session: AsyncSession, thread_id: int, post_id: int, per_page: int = POSTS_PER_PAGE
) -> int:
    before = await session.scalar(
        select(func.count())
        .select_from(DiscussionPost)
        .where(DiscussionPost.thread_id == thread_id, DiscussionPost.id < post_id)
    )
    return int(before or 0) // per_page + 1


async def attachments_of(
    session: AsyncSession, post_ids: Sequence[int]
) -> dict[int, list[Attachment]]:
    if not post_ids:
        return {}
    rows = await session.execute(
        select(DiscussionAttachment.post_id, Attachment)
        .join(Attachment, Attachment.id == DiscussionAttachment.attachment_id)
        .where(DiscussionAttachment.post_id.in_(post_ids))
        .order_by(DiscussionAttachment.post_id, DiscussionAttachment.position)
    )
    out: dict[int, list[Attachment]] = {}
    for post_id, attachment in rows:
        out.setdefault(post_id, []).append(attachment)
    return out


async def attachment_of_post(
    session: AsyncSession, post: DiscussionPost, attachment_id: int, member: Member
) -> Attachment:
    """A file of a post the member can see (a removed post's files only to moderators)."""
    if post.hidden and not member.moderates:
        raise NotFound("No such file.", code="attachment_not_found")
    attachment = await session.scalar(
        select(Attachment)
        .join(DiscussionAttachment, DiscussionAttachment.attachment_id == Attachment.id)
        .where(DiscussionAttachment.post_id == post.id, Attachment.id == attachment_id)
    )
    if attachment is None:
        raise NotFound("No such file.", code="attachment_not_found")
    return attachment


async def names(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.full_name).where(User.id.in_(set(user_ids))))
    return {user_id: name for user_id, name in rows}


async def open_reports(
    session: AsyncSession, reporter_id: int, post_ids: Sequence[int]
) -> set[int]:
    """Which of these posts the viewer has already reported (and is waiting on)."""
    if not post_ids:
        return set()
    rows = await session.scalars(
        select(Report.subject_id).where(
            Report.reporter_id == reporter_id,
            Report.subject_kind == SUBJECT_KIND,
            Report.subject_id.in_(post_ids),
            Report.status == "open",
        )
    )
    return set(rows)


# ------------------------------------------------------------------ writing


def check_writer(member: Member) -> None:
    if member.role is ForumRole.ADMIN:
        raise Forbidden(
            "Admins read and moderate course discussions; they do not post in them.",
            code="admins_do_not_post",
        )


def clean_body(body: str, max_chars: int, *, has_files: bool) -> str:
    text = body.replace("\r\n", "\n").strip()
    if not text and not has_files:
        raise ValidationFailed({"body": "Write something first."}, message="The post is empty.")
    if len(text) > max_chars:
        raise ValidationFailed(
            {"body": f"Keep it under {max_chars} characters."}, message="The post is too long."
        )
    return text


def clean_title(title: str) -> str:
    text = " ".join(title.split())
    if not text:
        raise ValidationFailed({"title": "Give your question or topic a title."})
    if len(text) > MAX_TITLE:
        raise ValidationFailed({"title": f"Keep the title under {MAX_TITLE} characters."})
    return text


async def _add_post(
    session: AsyncSession,
    member: Member,
    thread: DiscussionThread,
    body: str,
    attachment_ids: Sequence[int],
    *,
    first: bool,
) -> tuple[DiscussionPost, list[Attachment]]:
    files = await attachments.bind(session, member.user_id, attachment_ids, ATTACHMENT_PURPOSE)
    post = DiscussionPost(
        thread_id=thread.id,
        author_id=member.user_id,
        first=first,
        body=body,
        body_html=render_message(body) if body else "",
        by_tutor=member.is_tutor,
        has_attachments=bool(files),
    )
    session.add(post)
    await session.flush()
    session.add_all(
        DiscussionAttachment(post_id=post.id, attachment_id=a.id, position=i)
        for i, a in enumerate(files)
    )
    await session.flush()
    return post, files


async def start_thread(
    session: AsyncSession,
    member: Member,
    title: str,
    body: str,
    attachment_ids: Sequence[int] = (),
    *,
    max_chars: int,
) -> tuple[DiscussionThread, DiscussionPost, list[Attachment]]:
    check_writer(member)
    title = clean_title(title)
    body = clean_body(body, max_chars, has_files=bool(attachment_ids))
    now = datetime.now(UTC)
    thread = DiscussionThread(
        course_id=member.course.id,
        author_id=member.user_id,
        title=title,
        tutor_replied=member.is_tutor,
        last_post_at=now,
        last_author_id=member.user_id,
    )
    session.add(thread)
    await session.flush()
    post, files = await _add_post(session, member, thread, body, attachment_ids, first=True)
    if not member.is_tutor:
        author = await session.get(User, member.user_id)
        await notify(
            session,
            member.course.tutor_id,
            kind="discussion_thread",
            title=f"New question in {member.course.title}: {title}",
            body=f"{author.full_name if author else 'A student'} asked: {plain_text(body, 160)}",
            link=thread_link(member.course.id, thread.id),
        )
    return thread, post, files


async def reply(
    session: AsyncSession,
    member: Member,
    thread_id: int,
    body: str,
    attachment_ids: Sequence[int] = (),
    *,
    max_chars: int,
) -> tuple[DiscussionThread, DiscussionPost, list[Attachment]]:
    """A reply; students cannot reply to a locked thread (409 ``thread_locked``)."""
    check_writer(member)
    body = clean_body(body, max_chars, has_files=bool(attachment_ids))
    thread = await thread_in(session, member, thread_id, lock=True)
    if thread.locked and not member.is_tutor:
        raise Conflict("This discussion is locked: it takes no more replies.", code="thread_locked")
    post, files = await _add_post(session, member, thread, body, attachment_ids, first=False)
    thread.reply_count += 1
    thread.last_post_at = datetime.now(UTC)
    thread.last_author_id = member.user_id
    thread.tutor_replied = thread.tutor_replied or member.is_tutor
    await _notify_reply(session, member, thread, post)
    return thread, post, files


async def _notify_reply(
    session: AsyncSession, member: Member, thread: DiscussionThread, post: DiscussionPost
) -> None:
    """Tell the people in the thread (its author and everyone who replied) about the reply."""
    people = set(
        await session.scalars(
            select(DiscussionPost.author_id)
            .where(DiscussionPost.thread_id == thread.id, DiscussionPost.hidden_at.is_(None))
            .distinct()
            .limit(NOTIFY_AT_MOST)
        )
    )
    people.add(thread.author_id)
    people.discard(member.user_id)
    author = await session.get(User, member.user_id)
    who = author.full_name if author else "Someone"
    if member.is_tutor:
        who += " (tutor)"
    for user_id in sorted(people):
        # Only people who can still read the course are told.
        is_tutor = user_id == member.course.tutor_id
        if not is_tutor and not await _enrolled(session, member.course.id, user_id):
            continue
        await notify(
            session,
            user_id,
            kind="discussion_reply",
            title=f"{who} replied in “{thread.title}”",
            body=plain_text(post.body, 160) if post.body else "(files only)",
            link=thread_link(member.course.id, thread.id, post.id),
        )


async def _enrolled(session: AsyncSession, course_id: int, user_id: int) -> bool:
    """An enrolment that has not ended (a refund or a lost dispute ends it)."""
    found = await session.scalar(
        select(
            exists().where(
                Enrolment.course_id == course_id,
                Enrolment.student_id == user_id,
                Enrolment.ended_at.is_(None),
            )
        )
    )
    return bool(found)


# ------------------------------------------------------------------ moderation


def _check_moderator(member: Member) -> None:
    if not member.moderates:
        raise Forbidden(
            "Only the course's tutor (or an admin) can do that.", code="course_tutor_only"
        )


async def set_thread_flags(
    session: AsyncSession,
    member: Member,
    thread_id: int,
    *,
    pinned: bool | None = None,
    locked: bool | None = None,
) -> DiscussionThread:
    """Pin or unpin, lock or reopen a thread: the course's tutor or an admin."""
    _check_moderator(member)
    thread = await thread_in(session, member, thread_id, lock=True)
    if pinned is not None:
        thread.pinned = pinned
    if locked is not None:
        thread.locked = locked
    await session.flush()
    return thread


async def mark_answer(
    session: AsyncSession, member: Member, post: DiscussionPost, answer: bool
) -> DiscussionThread:
    """The tutor marks a reply as the answer to the question (one per thread), or unmarks it."""
    if not member.is_tutor:
        raise Forbidden("Only the course's tutor marks answers.", code="course_tutor_only")
    thread = await thread_in(session, member, post.thread_id, lock=True)
    if answer:
        if post.first:
            raise ValidationFailed({"post_id": "Mark a reply, not the question itself."})
        if post.hidden:
            raise Conflict("A removed post cannot be the answer.", code="post_hidden")
        thread.answer_post_id = post.id
    elif thread.answer_post_id == post.id:
        thread.answer_post_id = None
    await session.flush()
    return thread


async def set_hidden(
    session: AsyncSession, member: Member, post: DiscussionPost, hidden: bool, reason: str
) -> DiscussionPost:
    """Remove a post from view (its place says so, with the reason) or restore it; recorded."""
    _check_moderator(member)
    thread = await thread_in(session, member, post.thread_id, lock=True)
    reason = reason.strip()
    if hidden:
        if not reason:
            raise ValidationFailed({"reason": "Say briefly why the post is removed."})
        if len(reason) > MAX_HIDE_REASON:
            raise ValidationFailed({"reason": f"Use at most {MAX_HIDE_REASON} characters."})
        if not post.hidden and not post.first:
            thread.reply_count = max(thread.reply_count - 1, 0)
        post.hidden_at = datetime.now(UTC)
        post.hidden_by = member.user_id
        post.hidden_reason = reason
        if thread.answer_post_id == post.id:
            thread.answer_post_id = None
    else:
        if post.hidden and not post.first:
            thread.reply_count += 1
        post.hidden_at = None
        post.hidden_by = None
        post.hidden_reason = ""
    await session.flush()
    await audit.record(
        session,
        action="discussion_post.hide" if hidden else "discussion_post.restore",
        actor_role=member.role.value,
        actor_id=member.user_id,
        subject_kind="discussion_post",
        subject_id=post.id,
        reason=reason,
        details={"course_id": thread.course_id, "thread_id": thread.id},
    )
    return post


async def report_post(
    session: AsyncSession,
    member: Member,
    post: DiscussionPost,
    thread: DiscussionThread,
    reason: str,
    details: str,
) -> tuple[Report, bool]:
    if member.role is ForumRole.ADMIN:
        raise Forbidden("Admins handle reports; they do not file them.", code="admins_do_not_post")
    if post.author_id == member.user_id:
        raise ValidationFailed({"post_id": "You cannot report your own post."})
    subject = reports.Subject(
        kind=SUBJECT_KIND,
        id=post.id,
        context_kind=CONTEXT_KIND,
        context_id=thread.id,
        author_id=post.author_id,
        excerpt=(f"{thread.title}: " if post.first else "") + (post.body or "(files only)"),
        link=thread_link(thread.course_id, thread.id, post.id),
    )
    return await reports.file_report(session, member.user_id, subject, reason, details)
