"""Course discussion pages: the thread list with a "new question" form, and a thread with its
replies. Plain forms (no JavaScript needed); errors come back on the same page with the draft."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import MediaType, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from lessons._web import me, services_of
from lessons.discussions import actions, service
from marketplace.errors import DomainError
from marketplace.reports.models import REASON_LABELS, ReportReason
from marketplace.web.access import Access
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.services import Services
from marketplace.web.templating import NOTICES, page

REASONS = [(r.value, REASON_LABELS[r]) for r in ReportReason]
NOTICES.update(
    {
        "thread_pinned": "The discussion is pinned to the top.",
        "thread_unpinned": "The discussion is no longer pinned.",
        "thread_locked": "The discussion is locked: students can read it but not reply.",
        "thread_unlocked": "The discussion is open for replies again.",
        "answer_marked": "Marked as the answer.",
        "answer_unmarked": "No longer marked as the answer.",
        "post_hidden": "The post is removed from view.",
        "post_restored": "The post is visible again.",
        "post_reported": "Thank you. An admin will look at your report.",
    }
)


# An attachment's problem is the file field's.
_FIELD_NAMES = {"data": "file", "attachment_ids": "file"}


async def _thread_of_post(request: Request[Any, Any, Any], post_id: int) -> tuple[int, int]:
    """The course and thread of a post the viewer may see (404/403 otherwise)."""
    principal = me(request)
    async with services_of(request).sessions() as session:
        _, thread, _ = await service.post_with_member(
            session, post_id, principal.id, is_admin=principal.is_admin
        )
    return thread.course_id, thread.id


async def _files(
    services: Services, request: Request[Any, Any, Any], course_id: int, form: Any
) -> list[int]:
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        stored = await actions.upload(services, me(request), course_id, upload)
        return [stored.id]
    return []


@get("/courses/{course_id:int}/discussions", access=Access.USER, include_in_schema=False)
async def forum_page(
    request: Request[Any, Any, Any],
    course_id: FromPath[int],
    q: Annotated[str, QueryParameter(max_length=100)] = "",
    page_number: Annotated[int, QueryParameter(name="page", ge=1, le=1000)] = 1,
) -> Template:
    return await _forum(request, course_id, q=q, page_number=page_number)


async def _forum(
    request: Request[Any, Any, Any],
    course_id: int,
    *,
    q: str = "",
    page_number: int = 1,
    status_code: int = 200,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    services = services_of(request)
    member, listing = await actions.forum(services, me(request), course_id, q=q, page=page_number)
    return page(
        request,
        "lessons/discussions.html",
        status_code=status_code,
        course=member.course,
        member=member,
        threads=listing.items,
        total=listing.total,
        q=q,
        page_number=page_number,
        pages=max(1, -(-listing.total // service.PER_PAGE)),
        problem=problem,
        errors=errors or {},
        max_chars=services.settings.courses.discussion_max_chars,
    )


@post(
    "/courses/{course_id:int}/discussions",
    access=Access.USER,
    include_in_schema=False,
    media_type=MediaType.HTML,
)
async def start_page(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Any:
    services = services_of(request)
    form = await form_data(request)
    title, body = str(form.get("title", "")), str(form.get("body", ""))
    try:
        files = await _files(services, request, course_id, form)
        posted = await actions.start(services, me(request), course_id, title, body, files)
    except DomainError as exc:
        return await _forum(request, course_id, **form_failure(exc, "body", _FIELD_NAMES))
    return redirect(posted.thread.link)


@get(
    "/courses/{course_id:int}/discussions/{thread_id:int}",
    access=Access.USER,
    include_in_schema=False,
)
async def thread_view(
    request: Request[Any, Any, Any],
    course_id: FromPath[int],
    thread_id: FromPath[int],
    page_number: Annotated[int, QueryParameter(name="page", ge=1, le=1000)] = 1,
) -> Template:
    return await _thread(request, course_id, thread_id, page_number=page_number)


async def _thread(
    request: Request[Any, Any, Any],
    course_id: int,
    thread_id: int,
    *,
    page_number: int = 1,
    status_code: int = 200,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    services = services_of(request)
    view = await actions.thread_page(services, me(request), course_id, thread_id, page=page_number)
    detail = view.detail
    return page(
        request,
        "lessons/discussion.html",
        status_code=status_code,
        course=view.member.course,
        member=view.member,
        thread=detail.thread,
        posts=detail.posts,
        reported=view.reported,
        page_number=page_number,
        pages=max(1, -(-detail.total_posts // service.POSTS_PER_PAGE)),
        reasons=REASONS,
        problem=problem,
        errors=errors or {},
        max_chars=services.settings.courses.discussion_max_chars,
    )


@post(
    "/courses/{course_id:int}/discussions/{thread_id:int}",
    access=Access.USER,
    include_in_schema=False,
    media_type=MediaType.HTML,
)
async def reply_page(
    request: Request[Any, Any, Any], course_id: FromPath[int], thread_id: FromPath[int]
) -> Any:
    services = services_of(request)
    form = await form_data(request)
    body = str(form.get("body", ""))
    try:
        files = await _files(services, request, course_id, form)
        posted = await actions.reply(services, me(request), course_id, thread_id, body, files)
    except DomainError as exc:
        failure = form_failure(exc, "body", _FIELD_NAMES)
        return await _thread(request, course_id, thread_id, **failure)
    at = await actions.page_of_post(services, thread_id, posted.post.id)
    return redirect(f"{posted.thread.link}?page={at}#p{posted.post.id}")


@post(
    "/courses/{course_id:int}/discussions/{thread_id:int}/pin",
    access=Access.USER,
    include_in_schema=False,
)
async def pin_page(
    request: Request[Any, Any, Any], course_id: FromPath[int], thread_id: FromPath[int]
) -> Any:
    pinned = str((await form_data(request)).get("pinned", "")) == "on"
    thread = await actions.pin(services_of(request), me(request), course_id, thread_id, pinned)
    return redirect(thread.link, notice="thread_pinned" if pinned else "thread_unpinned")


@post(
    "/courses/{course_id:int}/discussions/{thread_id:int}/lock",
    access=Access.USER,
    include_in_schema=False,
)
async def lock_page(
    request: Request[Any, Any, Any], course_id: FromPath[int], thread_id: FromPath[int]
) -> Any:
    locked = str((await form_data(request)).get("locked", "")) == "on"
    thread = await actions.lock(services_of(request), me(request), course_id, thread_id, locked)
    return redirect(thread.link, notice="thread_locked" if locked else "thread_unlocked")


@post("/discussion-posts/{post_id:int}/answer", access=Access.USER, include_in_schema=False)
async def answer_page(request: Request[Any, Any, Any], post_id: FromPath[int]) -> Any:
    is_answer = str((await form_data(request)).get("answer", "")) == "on"
    thread = await actions.answer(services_of(request), me(request), post_id, is_answer)
    notice = "answer_marked" if is_answer else "answer_unmarked"
    return redirect(f"{thread.link}?notice={notice}#p{post_id}")


@post("/discussion-posts/{post_id:int}/hidden", access=Access.USER, include_in_schema=False)
async def hide_page(request: Request[Any, Any, Any], post_id: FromPath[int]) -> Any:
    form = await form_data(request)
    hidden = str(form.get("hidden", "")) == "on"
    try:
        course_id, thread_id = await actions.hide(
            services_of(request), me(request), post_id, hidden, str(form.get("reason", ""))
        )
    except DomainError as exc:
        failure = form_failure(exc, "reason")
        return await _thread(request, *await _thread_of_post(request, post_id), **failure)
    notice = "post_hidden" if hidden else "post_restored"
    link = service.thread_link(course_id, thread_id)
    return redirect(f"{link}?notice={notice}#p{post_id}")


@post("/discussion-posts/{post_id:int}/report", access=Access.USER, include_in_schema=False)
async def report_page(request: Request[Any, Any, Any], post_id: FromPath[int]) -> Any:
    form = await form_data(request)
    try:
        _, course_id, thread_id = await actions.report(
            services_of(request),
            me(request),
            post_id,
            str(form.get("reason", "")),
            str(form.get("details", "")),
        )
    except DomainError as exc:
        failure = form_failure(exc, "reason")
        return await _thread(request, *await _thread_of_post(request, post_id), **failure)
    link = service.thread_link(course_id, thread_id)
    return redirect(f"{link}?notice=post_reported#p{post_id}")


ROUTES = [
    forum_page,
    start_page,
    thread_view,
    reply_page,
    pin_page,
    lock_page,
    answer_page,
    hide_page,
    report_page,
]
