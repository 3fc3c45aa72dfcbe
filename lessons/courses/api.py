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
from lessons.courses import catalogue, media_grant, media_service, orders, refund_policy, service
from lessons.courses import enrolment as enrolments
from lessons.courses.models import Course, CourseOrder, Enrolment
from lessons.courses.order_kind import state_of
from lessons.courses.presenters import course_out, summary_out
from lessons.courses.schemas import (
    CourseOrderOut,
    CourseOut,
    CoursePage,
    EnrolmentOut,
    ProgressIn,
)
from marketplace.errors import NotFound
from marketplace.web.access import Access, principal_of
from payouts.schemas import PaymentOut
from payouts.web import payment_out, payments_of

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


async def enrolment_out(
    session: Any, enrolment: Enrolment, course: Course, refund_max_progress: int
) -> EnrolmentOut:
    plan = await service.outline(session, course)
    done = progress.done_items(await progress.states(session, enrolment))
    nxt = progress.continue_item(plan, enrolment, done)
    certificate = await session.scalar(
        select(Certificate).where(Certificate.enrolment_id == enrolment.id)
    )
    offer = await refund_policy.offer(session, enrolment, refund_max_progress, datetime.now(UTC))
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
        order_id=offer.order_id,
        refundable=offer.allowed,
        refundable_until=offer.until.isoformat() if offer.until and offer.allowed else None,
        refund_refusal=offer.reason if offer.order_id is not None else "",
        ended_at=enrolment.ended_at.isoformat() if enrolment.ended_at else None,
        end_reason=enrolment.end_reason,
    )


def order_out(order: CourseOrder) -> CourseOrderOut:
    return CourseOrderOut(
        id=order.id,
        course_id=order.course_id,
        title=order.title,
        status=order.status,
        price_minor=order.price_minor,
        currency=order.currency,
        payment_id=order.payment_id,
        paid_at=order.paid_at.isoformat() if order.paid_at else None,
        refundable_until=order.refundable_until.isoformat() if order.refundable_until else None,
        settled=state_of(order) == "settled",
        closed_reason=order.closed_reason,
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
                services.media_links,
                progress=states,
                with_content=enrolment is not None or owner,
                grant=media_grant.grant_for(enrolment) if enrolment and not owner else None,
            )

    @post("/{course_id:int}/enrol", access=Access.STUDENT, status_code=201)
    async def enrol(
        self, request: Request[Any, Any, Any], course_id: FromPath[int]
    ) -> EnrolmentOut:
        """Free courses; 409 ``payment_required`` for paid ones (buy them), ``already_enrolled``
        twice, ``own_course``."""
        services = services_of(request)
        async with services.transaction() as session:
            enrolment = await enrolments.enrol(session, course_id, me(request).id)
            course = await service.load_course(session, course_id)
            return await enrolment_out(
                session, enrolment, course, services.settings.courses.refund_max_progress
            )

    @post("/{course_id:int}/buy", access=Access.STUDENT, status_code=200)
    async def buy(self, request: Request[Any, Any, Any], course_id: FromPath[int]) -> PaymentOut:
        """Open (or reuse) your order and its checkout, at the course's price on the server.
        Give ``client_secret`` to Stripe's Payment Element (``mode`` ``demo``: pay on
        ``checkout_url``); you are enrolled when the payment succeeds. 404
        ``course_not_found`` (not published); 409 ``own_course``, ``course_free`` (enrol
        instead), ``already_enrolled``, ``payouts_not_enabled``."""
        principal = me(request)
        async with payments_of(request) as pay:
            payment = await orders.buy(pay, course_id, principal.id)
            return payment_out(payment, pay.gateway, principal.id)

    @post("/{course_id:int}/refund", access=Access.STUDENT, status_code=200)
    async def refund(
        self, request: Request[Any, Any, Any], course_id: FromPath[int]
    ) -> CourseOrderOut:
        """Your money back for a course you bought, in full; your access ends. Allowed within
        the refund window while you have completed less than the stated share of it and have no
        certificate, once per course: 409 ``refund_not_allowed`` (the message says why)."""
        services = services_of(request)
        async with services.transaction() as session:
            order = await refund_policy.request_refund(
                session,
                course_id,
                me(request).id,
                services.settings.courses.refund_max_progress,
                datetime.now(UTC),
            )
            return order_out(order)

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
        """Your enrolments with progress, where to continue, the certificate, and for a bought
        course whether it can still be refunded. Ended enrolments (refunded, charged back) are
        not listed."""
        services = services_of(request)
        async with services.sessions() as session:
            rows = await enrolments.my_enrolments(session, me(request).id)
            limit = services.settings.courses.refund_max_progress
            return [await enrolment_out(session, e, c, limit) for e, c in rows]


class MyOrdersController(Controller):
    path = "/api/v1/me/course-orders"
    tags = ["courses"]

    @get("/", access=Access.USER)
    async def mine(self, request: Request[Any, Any, Any]) -> list[CourseOrderOut]:
        """Your course purchases that were paid, newest first, with what became of them."""
        async with services_of(request).sessions() as session:
            return [order_out(o) for o in await orders.orders_of(session, me(request).id)]


ROUTES = [CatalogueController, MyCoursesController, MyOrdersController]
