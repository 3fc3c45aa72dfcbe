"""JSON API for tutors' course authoring: courses, modules, items, order, uploads, publishing
and each student's progress."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.params import FromPath, JSONBody
from sqlalchemy import select

from lessons._web import load_user, me, services_of
from lessons.certificates.models import Certificate
from lessons.courses import catalogue, media_service, publishing, service
from lessons.courses.models import Course, Enrolment
from lessons.courses.presenters import course_out, media_out, summary_out
from lessons.courses.schemas import (
    CourseIn,
    CourseOut,
    CourseSummaryOut,
    ItemIn,
    ItemOut,
    ItemUpdateIn,
    MediaOut,
    ModuleIn,
    MoveIn,
    OrderIn,
)
from lessons.quizzes.service import best_results
from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.web.access import Access
from marketplace.web.uploads import FileForm, stage_upload

UPLOAD_BODY_LIMIT = 2 * 1024 * 1024 * 1024 + 1024 * 1024


class StudentProgressOut(msgspec.Struct):
    student_id: int
    name: str
    enrolled_at: str
    source: str
    progress_percent: int
    last_activity_at: str | None
    completed_at: str | None
    certificate_code: str | None
    certificate_revoked: bool
    quiz_best: dict[str, float]
    ended_at: str | None = None
    """Set when the student's access ended (``end_reason``: refunded, dispute_lost)."""
    end_reason: str = ""


class AuthoringController(Controller):
    path = "/api/v1/tutor/courses"
    tags = ["course authoring"]

    @get("/", access=Access.TUTOR)
    async def mine(self, request: Request[Any, Any, Any]) -> list[CourseSummaryOut]:
        async with services_of(request).sessions() as session:
            courses = await service.tutor_courses(session, me(request).id)
            name = await service.tutor_name(session, me(request).id)
            out = []
            for c in courses:
                plan = await service.outline(session, c)
                out.append(summary_out(catalogue.Listed(c, name, len(plan.items))))
            return out

    @post("/", access=Access.TUTOR, status_code=201)
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[CourseIn]) -> CourseOut:
        services = services_of(request)
        async with services.transaction() as session:
            tutor = await load_user(session, me(request).id)
            course = await service.create_course(
                session, tutor, data, services.settings.marketplace.currency
            )
            return await _tutor_view(session, services, course)

    @get("/{course_id:int}", access=Access.TUTOR)
    async def show(self, request: Request[Any, Any, Any], course_id: FromPath[int]) -> CourseOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            return await _tutor_view(session, services, course)

    @put("/{course_id:int}", access=Access.TUTOR)
    async def update(
        self, request: Request[Any, Any, Any], course_id: FromPath[int], data: JSONBody[CourseIn]
    ) -> CourseOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            await service.update_course(session, course, data)
            return await _tutor_view(session, services, course)

    @post("/{course_id:int}/modules", access=Access.TUTOR, status_code=201)
    async def add_module(
        self, request: Request[Any, Any, Any], course_id: FromPath[int], data: JSONBody[ModuleIn]
    ) -> CourseOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            await service.add_module(session, course, data.title)
            return await _tutor_view(session, services, course)

    @put("/{course_id:int}/modules/{module_id:int}", access=Access.TUTOR)
    async def rename_module(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        module_id: FromPath[int],
        data: JSONBody[ModuleIn],
    ) -> CourseOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            await service.rename_module(session, course, module_id, data.title)
            return await _tutor_view(session, services, course)

    @delete("/{course_id:int}/modules/{module_id:int}", access=Access.TUTOR, status_code=200)
    async def delete_module(
        self, request: Request[Any, Any, Any], course_id: FromPath[int], module_id: FromPath[int]
    ) -> CourseOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            await service.delete_module(session, course, module_id)
            return await _tutor_view(session, services, course)

    @post("/{course_id:int}/modules/{module_id:int}/move", access=Access.TUTOR, status_code=200)
    async def move_module(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        module_id: FromPath[int],
        data: JSONBody[MoveIn],
    ) -> CourseOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            await service.move_module(session, course, module_id, data.direction)
            return await _tutor_view(session, services, course)

    @post("/{course_id:int}/items", access=Access.TUTOR, status_code=201)
    async def add_item(
        self, request: Request[Any, Any, Any], course_id: FromPath[int], data: JSONBody[ItemIn]
    ) -> ItemOut:
        """Kinds: text (``body`` is Markdown), audio, video, file (upload next), quiz."""
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            item = await service.add_item(session, course, data)
            return await _item_view(session, services, course, item.id)

    @put("/{course_id:int}/items/{item_id:int}", access=Access.TUTOR)
    async def update_item(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        item_id: FromPath[int],
        data: JSONBody[ItemUpdateIn],
    ) -> ItemOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            await service.update_item(session, course, item_id, data)
            return await _item_view(session, services, course, item_id)

    @delete("/{course_id:int}/items/{item_id:int}", access=Access.TUTOR, status_code=204)
    async def delete_item(
        self, request: Request[Any, Any, Any], course_id: FromPath[int], item_id: FromPath[int]
    ) -> None:
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            keys = await service.delete_item(session, course, item_id)
        media_service.remove_files(services.storage, keys)

    @post("/{course_id:int}/items/{item_id:int}/move", access=Access.TUTOR, status_code=200)
    async def move_item(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        item_id: FromPath[int],
        data: JSONBody[MoveIn],
    ) -> CourseOut:
        """One step ``up`` or ``down``, crossing into the next module at the ends."""
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            await service.move_item(session, course, item_id, data.direction)
            return await _tutor_view(session, services, course)

    @put("/{course_id:int}/order", access=Access.TUTOR)
    async def reorder(
        self, request: Request[Any, Any, Any], course_id: FromPath[int], data: JSONBody[OrderIn]
    ) -> CourseOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            await service.reorder(session, course, data)
            return await _tutor_view(session, services, course)

    @post(
        "/{course_id:int}/items/{item_id:int}/upload",
        access=Access.TUTOR,
        status_code=202,
        request_max_body_size=UPLOAD_BODY_LIMIT,
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        item_id: FromPath[int],
        data: FileForm,
    ) -> MediaOut:
        """Multipart field ``file``: audio or video (converted in the background, status
        ``processing`` with ``progress_percent``) or a PDF (ready at once)."""
        return await upload_media(request, course_id, item_id, data.file)

    @post("/{course_id:int}/items/{item_id:int}/retry", access=Access.TUTOR, status_code=202)
    async def retry(
        self, request: Request[Any, Any, Any], course_id: FromPath[int], item_id: FromPath[int]
    ) -> MediaOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            row = await media_service.retry(session, course, item_id)
            return media_out(row, services.media_links, for_tutor=True)

    @get("/{course_id:int}/items/{item_id:int}/media", access=Access.TUTOR)
    async def media_status(
        self, request: Request[Any, Any, Any], course_id: FromPath[int], item_id: FromPath[int]
    ) -> MediaOut:
        services = services_of(request)
        async with services.sessions() as session:
            course = await service.load_course(session, course_id)
            if course.tutor_id != me(request).id:
                raise NotFound("No such course.", code="course_not_found")
            item = await service.item_of(session, course, item_id)
            row = await media_service.media_of(session, item)
            if row is None:
                raise NotFound("Nothing is uploaded for this item.", code="media_not_found")
            return media_out(row, services.media_links, for_tutor=True)

    @post("/{course_id:int}/publish", access=Access.TUTOR, status_code=200)
    async def publish(self, request: Request[Any, Any, Any], course_id: FromPath[int]) -> CourseOut:
        """422 naming each problem (unready media, ungradable quizzes, …) when it cannot."""
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            await publishing.publish(session, course)
            return await _tutor_view(session, services, course)

    @post("/{course_id:int}/unpublish", access=Access.TUTOR, status_code=200)
    async def unpublish(
        self, request: Request[Any, Any, Any], course_id: FromPath[int]
    ) -> CourseOut:
        services = services_of(request)
        async with services.transaction() as session:
            course = await _owned(session, request, course_id)
            await publishing.unpublish(session, course)
            return await _tutor_view(session, services, course)

    @get("/{course_id:int}/students", access=Access.TUTOR)
    async def students(
        self, request: Request[Any, Any, Any], course_id: FromPath[int]
    ) -> list[StudentProgressOut]:
        """Each enrolled student's progress, best quiz scores and certificate."""
        async with services_of(request).transaction() as session:
            course = await _owned(session, request, course_id)
            return await student_progress(session, course)


async def student_progress(session: Any, course: Course) -> list[StudentProgressOut]:
    rows = (
        await session.execute(
            select(Enrolment, User.full_name)
            .join(User, User.id == Enrolment.student_id)
            .where(Enrolment.course_id == course.id)
            .order_by(Enrolment.enrolled_at)
        )
    ).all()
    plan = await service.outline(session, course)
    quiz_ids = [q.id for q in plan.quizzes.values()]
    best = await best_results(session, quiz_ids, [e.student_id for e, _ in rows])
    certs = {
        c.enrolment_id: c
        for c in await session.scalars(
            select(Certificate).where(Certificate.course_id == course.id)
        )
    }
    out = []
    for e, name in rows:
        cert = certs.get(e.id)
        out.append(
            StudentProgressOut(
                student_id=e.student_id,
                name=name,
                enrolled_at=e.enrolled_at.isoformat(),
                source=e.source,
                progress_percent=e.progress_percent,
                last_activity_at=e.last_activity_at.isoformat() if e.last_activity_at else None,
                completed_at=e.completed_at.isoformat() if e.completed_at else None,
                certificate_code=cert.code if cert else None,
                certificate_revoked=bool(cert and cert.revoked_at),
                quiz_best={
                    str(q): best[(q, e.student_id)] for q in quiz_ids if (q, e.student_id) in best
                },
                ended_at=e.ended_at.isoformat() if e.ended_at else None,
                end_reason=e.end_reason,
            )
        )
    return out


async def _owned(session: Any, request: Request[Any, Any, Any], course_id: int) -> Course:
    return await service.owned_course(session, course_id, me(request).id)


async def _tutor_view(session: Any, services: Any, course: Course) -> CourseOut:
    plan = await service.outline(session, course)
    name = await service.tutor_name(session, course.tutor_id)
    return course_out(plan, name, services.media_links, for_tutor=True, with_content=True)


async def _item_view(session: Any, services: Any, course: Course, item_id: int) -> ItemOut:
    view = await _tutor_view(session, services, course)
    for module in view.modules:
        for item in module.items:
            if item.id == item_id:
                return item
    raise NotFound("No such item in this course.", code="item_not_found")


async def upload_media(
    request: Request[Any, Any, Any], course_id: int, item_id: int, upload: UploadFile
) -> MediaOut:
    """Shared by the API and the item editor page."""
    services = services_of(request)
    limits = services.settings.courses
    async with services.sessions() as session:
        course = await service.load_course(session, course_id)
        if course.tutor_id != me(request).id:
            raise NotFound("No such course.", code="course_not_found")
        item = await service.item_of(session, course, item_id)
        limit = media_service.limits_for(item.kind, limits).max_bytes
    path, size = await stage_upload(upload, services.storage, limit)
    staged = media_service.StagedUpload(
        path, upload.filename or "", upload.content_type or "", size
    )
    async with services.transaction() as session:
        course = await _owned(session, request, course_id)
        row, old = await media_service.accept_upload(
            session, services.storage, course, item_id, staged, limits
        )
        out = media_out(row, services.media_links, for_tutor=True)
    media_service.remove_files(services.storage, old)
    return out


ROUTES = [AuthoringController]
