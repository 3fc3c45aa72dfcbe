"""Discussion use cases as the API and the pages run them: one transaction each, rate limits
first, the response shapes built from what was committed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from litestar.datastructures import UploadFile

from lessons.discussions import service
from lessons.discussions.presenters import file_out, post_out, thread_out
from lessons.discussions.schemas import (
    FileOut,
    PostedOut,
    ThreadDetailOut,
    ThreadOut,
    ThreadsOut,
)
from lessons.discussions.service import Member
from marketplace.attachments import service as attachments
from marketplace.attachments.models import Attachment
from marketplace.errors import ValidationFailed
from marketplace.reports.models import Report
from marketplace.web.access import Principal
from marketplace.web.services import Services


@dataclass(frozen=True)
class ThreadPage:
    """A thread as one viewer sees it, for the page (the API serialises ``detail``)."""

    member: Member
    detail: ThreadDetailOut
    reported: set[int]


async def forum(
    services: Services, viewer: Principal, course_id: int, *, q: str = "", page: int = 1
) -> tuple[Member, ThreadsOut]:
    async with services.sessions() as session:
        member = await service.member_of(session, course_id, viewer.id, is_admin=viewer.is_admin)
        rows, total = await service.threads(session, course_id, q=q, page=page)
    items = [thread_out(r.thread, r.author_name) for r in rows]
    return member, ThreadsOut(items, total, page, member.role.value)


async def thread_page(
    services: Services, viewer: Principal, course_id: int, thread_id: int, *, page: int = 1
) -> ThreadPage:
    async with services.sessions() as session:
        member = await service.member_of(session, course_id, viewer.id, is_admin=viewer.is_admin)
        thread = await service.thread_in(session, member, thread_id)
        posts, total = await service.posts(session, thread.id, page=page)
        files = await service.attachments_of(session, [p.id for p in posts])
        names = await service.names(session, [thread.author_id, *(p.author_id for p in posts)])
        reported = await service.open_reports(session, viewer.id, [p.id for p in posts])
    detail = ThreadDetailOut(
        thread_out(thread, names.get(thread.author_id, "")),
        [post_out(p, thread, files.get(p.id, []), names, member) for p in posts],
        total,
        page,
        member.role.value,
    )
    return ThreadPage(member, detail, reported)


async def page_of_post(services: Services, thread_id: int, post_id: int) -> int:
    """The page of the thread that shows this post."""
    async with services.sessions() as session:
        return await service.page_of_post(session, thread_id, post_id)


async def _limit_posts(services: Services, user_id: int) -> None:
    await services.limiter.check(
        f"discussion-posts:{user_id}",
        limit=services.settings.courses.discussion_posts_per_minute,
        window_seconds=60,
        what="posts in a minute",
    )


async def start(
    services: Services,
    viewer: Principal,
    course_id: int,
    title: str,
    body: str,
    attachment_ids: Sequence[int] = (),
) -> PostedOut:
    await services.limiter.check(
        f"discussion-threads:{viewer.id}",
        limit=services.settings.courses.discussion_threads_per_day,
        window_seconds=86_400,
        what="new discussions today",
    )
    await _limit_posts(services, viewer.id)
    async with services.transaction() as session:
        member = await service.member_of(session, course_id, viewer.id, is_admin=viewer.is_admin)
        thread, post, files = await service.start_thread(
            session,
            member,
            title,
            body,
            attachment_ids,
            max_chars=services.settings.courses.discussion_max_chars,
        )
        names = await service.names(session, [viewer.id])
        await session.refresh(thread)
        await session.refresh(post)
    return PostedOut(
        thread_out(thread, names.get(viewer.id, "")), post_out(post, thread, files, names, member)
    )


async def reply(
    services: Services,
    viewer: Principal,
    course_id: int,
    thread_id: int,
    body: str,
    attachment_ids: Sequence[int] = (),
) -> PostedOut:
    await _limit_posts(services, viewer.id)
    async with services.transaction() as session:
        member = await service.member_of(session, course_id, viewer.id, is_admin=viewer.is_admin)
        thread, post, files = await service.reply(
            session,
            member,
            thread_id,
            body,
            attachment_ids,
            max_chars=services.settings.courses.discussion_max_chars,
        )
        names = await service.names(session, [viewer.id, thread.author_id])
        await session.refresh(thread)
        await session.refresh(post)
    return PostedOut(
        thread_out(thread, names.get(thread.author_id, "")),
        post_out(post, thread, files, names, member),
    )


async def upload(
    services: Services, viewer: Principal, course_id: int, upload: UploadFile
) -> FileOut:
    """Keep a file for a post not written yet (the same checks as message attachments)."""
    limits = services.settings.messaging
    await services.limiter.check(
        f"attachments:{viewer.id}", limit=60, window_seconds=3600, what="files in an hour"
    )
    data = await upload.read(limits.max_attachment_bytes + 1)
    async with services.transaction() as session:
        member = await service.member_of(session, course_id, viewer.id, is_admin=viewer.is_admin)
        service.check_writer(member)
        if len(data) > limits.max_attachment_bytes:
            raise ValidationFailed(
                {"data": f"The file must be at most {limits.max_attachment_bytes // 1_048_576} MB."}
            )
        stored = await attachments.store(
            session,
            services.private_storage,
            viewer.id,
            data,
            upload.filename or "attachment",
            max_bytes=limits.max_attachment_bytes,
            max_audio_seconds=limits.max_attachment_audio_seconds,
        )
    return file_out(stored, None)


async def _moderate_thread(
    services: Services,
    viewer: Principal,
    course_id: int,
    thread_id: int,
    *,
    pinned: bool | None = None,
    locked: bool | None = None,
) -> ThreadOut:
    async with services.transaction() as session:
        member = await service.member_of(session, course_id, viewer.id, is_admin=viewer.is_admin)
        thread = await service.set_thread_flags(
            session, member, thread_id, pinned=pinned, locked=locked
        )
        names = await service.names(session, [thread.author_id])
    return thread_out(thread, names.get(thread.author_id, ""))


async def pin(
    services: Services, viewer: Principal, course_id: int, thread_id: int, pinned: bool
) -> ThreadOut:
    return await _moderate_thread(services, viewer, course_id, thread_id, pinned=pinned)


async def lock(
    services: Services, viewer: Principal, course_id: int, thread_id: int, locked: bool
) -> ThreadOut:
    return await _moderate_thread(services, viewer, course_id, thread_id, locked=locked)


async def answer(services: Services, viewer: Principal, post_id: int, is_answer: bool) -> ThreadOut:
    async with services.transaction() as session:
        post, _, member = await service.post_with_member(
            session, post_id, viewer.id, is_admin=viewer.is_admin
        )
        thread = await service.mark_answer(session, member, post, is_answer)
        names = await service.names(session, [thread.author_id])
    return thread_out(thread, names.get(thread.author_id, ""))


async def hide(
    services: Services, viewer: Principal, post_id: int, hidden: bool, reason: str
) -> tuple[int, int]:
    """(course id, thread id) of the post, once hidden or restored."""
    async with services.transaction() as session:
        post, thread, member = await service.post_with_member(
            session, post_id, viewer.id, is_admin=viewer.is_admin
        )
        await service.set_hidden(session, member, post, hidden, reason)
    return thread.course_id, thread.id


async def report(
    services: Services, viewer: Principal, post_id: int, reason: str, details: str
) -> tuple[Report, int, int]:
    """(report, course id, thread id). Reporting the same post twice returns the first."""
    await services.limiter.check(
        f"reports:{viewer.id}", limit=20, window_seconds=3600, what="reports in an hour"
    )
    async with services.transaction() as session:
        post, thread, member = await service.post_with_member(
            session, post_id, viewer.id, is_admin=viewer.is_admin
        )
        filed, _ = await service.report_post(session, member, post, thread, reason, details)
    return filed, thread.course_id, thread.id


async def file_of(
    services: Services, viewer: Principal, post_id: int, attachment_id: int
) -> Attachment:
    async with services.sessions() as session:
        post, _, member = await service.post_with_member(
            session, post_id, viewer.id, is_admin=viewer.is_admin
        )
        return await service.attachment_of_post(session, post, attachment_id, member)
