"""JSON API: the course catalogue, enrolment and progress, and tutors' authoring."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy import select

from lessons import progress
from lessons._web import me, services_of, signer_of
from lessons.certificates.models import Certificate
from lessons.courses import catalogue, media_service, service
from lessons.courses import enrolment as enrolments
from lessons.courses.models import Course, Enrolment
from lessons.courses.presenters import course_out, summary_out
from lessons.courses.schemas import (
    CourseOut,
    CoursePage,
    EnrolmentOut,
    ProgressIn,
)
from marketplace.errors import NotFound
from marketplace.web.access import Access, principal_of

# Uploads are streamed to disk; this is the request cap (the per-kind limits are settings).
Instrument = Annotated[str | None, QueryParameter(description="Instrument slug.", max_length=40)]
Level = Annotated[
    str | None, QueryParameter(description="beginner, intermediate, …", max_length=20)
]
Language = Annotated[str | None, QueryParameter(description="ISO 639-1 code.", max_length=8)]


class ProgressOut(msgspec.Struct):
    item_id: int
    completed: bool
    position_seconds: float
    progress_percent: int
    course_completed: bool
    certificate_code: str | None


async def enrolment_out(session: Any, enrolment: Enrolment, course: Course) -> EnrolmentOut:
    plan = await service.outline(session, course)
    done = progress.done_items(await progress.states(session, enrolment))
    nxt = progress.continue_item(plan, enrolment, done)
    certificate = await session.scalar(
        select(Certificate).where(Certificate.enrolment_id == enrolment.id)
    )
    return EnrolmentOut(
        id=enrolment.id,
        course_id=course.id,
        course_title=course.title,
        source=enrolment.source,
        enrolled_at=enrolment.enrolled_at.isoformat(),
        progress_percent=enrolment.progress_percent,
        completed_at=enrolment.completed_at.isoformat() if enrolment.completed_at else None,
        continue_item_id=nxt.id if nxt else None,
        certificate_code=certificate.code if certificate else None,
    )


class CatalogueController(Controller):
    path = "/api/v1/courses"
    tags = ["courses"]

    @get("/", access=Access.PUBLIC)
    async def list_courses(
        self,
        request: Request[Any, Any, Any],
        instrument: Instrument = None,
        level: Level = None,
        language: Language = None,
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> CoursePage:
        """Published courses, newest first; filter by instrument, level and language."""
        async with services_of(request).sessions() as session:
            rows, total = await catalogue.public_courses(
                session,
                instrument=instrument or None,
                level=level or None,
                language=language or None,
                q=(q or "").strip() or None,
                page=page,
                per_page=per_page,
            )
        return CoursePage([summary_out(r) for r in rows], page, per_page, total)

    @get("/{course_id:int}", access=Access.PUBLIC)
    async def show(self, request: Request[Any, Any, Any], course_id: FromPath[int]) -> CourseOut:
        """The syllabus; item content and media only for enrolled students and the tutor."""
        services = services_of(request)
        viewer = principal_of(request)
        async with services.sessions() as session:
            course = await service.viewable_course(
                session, course_id, viewer.id if viewer else None, bool(viewer and viewer.is_admin)
            )
            plan = await service.outline(session, course)
            enrolment = (
                await enrolments.enrolment_of(session, course.id, viewer.id) if viewer else None
            )
            states = await progress.states(session, enrolment) if enrolment else None
            owner = viewer is not None and viewer.id == course.tutor_id
            return course_out(
                plan,
                await service.tutor_name(session, course.tutor_id),
                services.storage,
                progress=states,
                with_content=enrolment is not None or owner,
            )

    @post("/{course_id:int}/enrol", access=Access.STUDENT, status_code=201)
    async def enrol(
        self, request: Request[Any, Any, Any], course_id: FromPath[int]
    ) -> EnrolmentOut:
        """Free courses; 409 ``payment_required`` for paid ones, ``already_enrolled`` twice."""
        async with services_of(request).transaction() as session:
            enrolment = await enrolments.enrol(session, course_id, me(request).id)
            course = await service.load_course(session, course_id)
            return await enrolment_out(session, enrolment, course)

    @post("/{course_id:int}/buy", access=Access.STUDENT, status_code=201)
    async def buy(self, request: Request[Any, Any, Any], course_id: FromPath[int]) -> None:
        """Paid courses: answers 409 ``payment_required`` until course checkout opens."""
        async with services_of(request).transaction() as session:
            await enrolments.buy(session, course_id, me(request).id)

    @post("/{course_id:int}/items/{item_id:int}/progress", access=Access.USER, status_code=200)
    async def record_progress(
        self,
        request: Request[Any, Any, Any],
        course_id: FromPath[int],
        item_id: FromPath[int],
        data: JSONBody[ProgressIn],
    ) -> ProgressOut:
        """The player's position (``position_seconds``) and/or ``completed`` for one item."""
        services = services_of(request)
        now = datetime.now(UTC)
        async with services.transaction() as session:
            course = await service.load_course(session, course_id)
            enrolment = await enrolments.enrolment_of(session, course.id, me(request).id)
            if enrolment is None:
                raise NotFound("Enrol in the course first.", code="not_enrolled")
            item = await service.item_of(session, course, item_id)
            media = await media_service.media_of(session, item)
            row = await progress.record(
                session,
                signer_of(services),
                course,
                enrolment,
                item,
                now,
                position=data.position_seconds,
                completed=data.completed,
                duration=media.duration_seconds if media else None,
            )
            certificate = await session.scalar(
                select(Certificate).where(Certificate.enrolment_id == enrolment.id)
            )
            return ProgressOut(
                item_id=item.id,
                completed=row.completed_at is not None,
                position_seconds=row.position_seconds,
                progress_percent=enrolment.progress_percent,
                course_completed=enrolment.completed_at is not None,
                certificate_code=certificate.code if certificate else None,
            )


class MyCoursesController(Controller):
    path = "/api/v1/me/courses"
    tags = ["courses"]

    @get("/", access=Access.USER)
    async def mine(self, request: Request[Any, Any, Any]) -> list[EnrolmentOut]:
        """Your enrolments with progress, where to continue, and the certificate."""
        async with services_of(request).sessions() as session:
            rows = await enrolments.my_enrolments(session, me(request).id)
            return [await enrolment_out(session, e, c) for e, c in rows]


ROUTES = [CatalogueController, MyCoursesController]
