"""The course discussions JSON API: threads, replies, files, pinning, locking, answers,
removal and reports."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from lessons._web import me, services_of
from lessons.discussions import actions
from lessons.discussions.schemas import (
    AnswerIn,
    DiscussionReportIn,
    FileOut,
    HideIn,
    LockIn,
    PinIn,
    PostedOut,
    PostIn,
    ReportOut,
    ThreadDetailOut,
    ThreadIn,
    ThreadOut,
    ThreadsOut,
)
from marketplace.web.access import Access
from marketplace.web.attachment_files import attachment_response
from marketplace.web.uploads import DataForm

UPLOAD_BODY_LIMIT = 64 * 1024 * 1024


class CourseDiscussionController(Controller):
    path = "/api/v1/courses/{course_id:int}/discussions"
    tags = ["discussions"]

    @get("/", access=Access.USER)
    async def list_threads(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        q: Annotated[str, QueryParameter(max_length=100)] = "",
        page: Annotated[int, QueryParameter(ge=1, le=1000)] = 1,
    ) -> ThreadsOut:
        """The course's threads, pinned first, then by latest activity; ``q`` searches titles
        and posts. For the course's tutor, its enrolled students and admins."""
        _, out = await actions.forum(services_of(request), me(request), course_id, q=q, page=page)
        return out

    @post("/", access=Access.USER, errors=(429,), status_code=201)
    async def start(
        self, request: Request[Any, Any, Any], course_id: FromPath[int], data: JSONBody[ThreadIn]
    ) -> PostedOut:
        """Start a thread: a title and an opening post (text, files, or both)."""
        return await actions.start(
            services_of(request), me(request), course_id, data.title, data.body, data.attachment_ids
        )

    @get("/{thread_id:int}", access=Access.USER)
    async def show(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        thread_id: FromPath[int],
        page: Annotated[int, QueryParameter(ge=1, le=1000)] = 1,
    ) -> ThreadDetailOut:
        """A thread and one page of its posts, oldest first."""
        view = await actions.thread_page(
            services_of(request), me(request), course_id, thread_id, page=page
        )
        return view.detail

    @post("/{thread_id:int}/posts", access=Access.USER, errors=(429,), status_code=201)
    async def reply(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        thread_id: FromPath[int],
        data: JSONBody[PostIn],
    ) -> PostedOut:
        """Reply. A locked thread takes replies from the tutor only (409 ``thread_locked``)."""
        return await actions.reply(
            services_of(request), me(request), course_id, thread_id, data.body, data.attachment_ids
        )

    @put("/{thread_id:int}/pin", access=Access.USER)
    async def pin(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        thread_id: FromPath[int],
        data: JSONBody[PinIn],
    ) -> ThreadOut:
        """The course's tutor (or an admin) pins a thread to the top, or unpins it."""
        return await actions.pin(
            services_of(request), me(request), course_id, thread_id, data.pinned
        )

    @put("/{thread_id:int}/lock", access=Access.USER)
    async def lock(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        thread_id: FromPath[int],
        data: JSONBody[LockIn],
    ) -> ThreadOut:
        """The course's tutor (or an admin) locks a thread against replies, or reopens it."""
        return await actions.lock(
            services_of(request), me(request), course_id, thread_id, data.locked
        )

    @post(
        "/attachments",
        access=Access.USER,
        errors=(429,),
        status_code=201,
        request_max_body_size=UPLOAD_BODY_LIMIT,
    )
    async def upload(
        self, request: Request[Any, Any, Any], course_id: FromPath[int], data: DataForm
    ) -> FileOut:
        """Multipart field ``data``: a PDF, JPEG/PNG/WebP image or short audio. Send its id in
        ``attachment_ids`` with the post; files never posted are removed after a day."""
        return await actions.upload(services_of(request), me(request), course_id, data.data)


class DiscussionPostController(Controller):
    path = "/api/v1/discussion-posts/{post_id:int}"
    tags = ["discussions"]

    @put("/answer", access=Access.USER)
    async def answer(
        self, request: Request[Any, Any, Any], post_id: FromPath[int], data: JSONBody[AnswerIn]
    ) -> ThreadOut:
        """The course's tutor marks a reply as the answer (one per thread), or unmarks it."""
        return await actions.answer(services_of(request), me(request), post_id, data.answer)

    @put("/hidden", access=Access.USER, status_code=204)
    async def hide(
        self, request: Request[Any, Any, Any], post_id: FromPath[int], data: JSONBody[HideIn]
    ) -> None:
        """The course's tutor (or an admin) removes a post with a reason, or restores it."""
        await actions.hide(services_of(request), me(request), post_id, data.hidden, data.reason)

    @post("/report", access=Access.USER, errors=(429,), status_code=201)
    async def report(
        self,
        request: Request[Any, Any, Any],
        post_id: FromPath[int],
        data: JSONBody[DiscussionReportIn],
    ) -> ReportOut:
        """Report someone else's post with a reason; an admin will look at it."""
        filed, _, _ = await actions.report(
            services_of(request), me(request), post_id, data.reason, data.details
        )
        return ReportOut(filed.id, filed.status, filed.reason, filed.created_at)

    @get(
        "/attachments/{attachment_id:int}",
        access=Access.USER,
        media_type="application/octet-stream",
    )
    async def download(
        self, request: Request[Any, Any, Any], post_id: FromPath[int], attachment_id: FromPath[int]
    ) -> Response[bytes]:
        services = services_of(request)
        attachment = await actions.file_of(services, me(request), post_id, attachment_id)
        return attachment_response(request, services.private_storage, attachment)


ROUTES = [CourseDiscussionController, DiscussionPostController]
