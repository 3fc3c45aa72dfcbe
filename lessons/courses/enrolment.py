"""Enrolment: free courses here; paid ones through the checkout, which calls ``grant_enrolment``.

``grant_enrolment`` is the single way a student gets a course. It is idempotent (a payment
webhook that arrives twice grants once) and safe under races (an INSERT … ON CONFLICT on the
unique (course, student) pair).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.courses.models import Course, Enrolment, EnrolmentSource
from lessons.courses.service import load_course, tutor_is_approved
from marketplace.errors import Conflict, NotFound, ValidationFailed


async def grant_enrolment(
    session: AsyncSession,
    course_id: int,
    student_id: int,
    *,
    source: str,
    reference: str = "",
) -> tuple[Enrolment, bool]:
    """Enrol ``student_id`` in the course; returns (enrolment, created).

    ``source`` is ``free``, ``purchase`` (the checkout, with the payment's id as ``reference``)
    or ``admin``. An existing enrolment is returned unchanged with created=False.
    """
    if source not in {s.value for s in EnrolmentSource}:
        raise ValueError(f"unknown enrolment source {source!r}")
    course = await load_course(session, course_id)
    if course.tutor_id == student_id:
        raise Conflict("You cannot enrol in your own course.", code="own_course")
    inserted = await session.scalar(
        insert(Enrolment)
        .values(course_id=course.id, student_id=student_id, source=source, reference=reference)
        .on_conflict_do_nothing(constraint="uq_course_enrolments_course_student")
        .returning(Enrolment.id)
    )
    enrolment = await session.scalar(
        select(Enrolment)
        .where(Enrolment.course_id == course.id, Enrolment.student_id == student_id)
        .execution_options(populate_existing=True)
    )
    assert enrolment is not None
    return enrolment, inserted is not None


async def enrol(session: AsyncSession, course_id: int, student_id: int) -> Enrolment:
    """A student's own enrolment: free courses only; a paid course needs the checkout."""
    course = await load_course(session, course_id)
    if not course.is_published or not await tutor_is_approved(session, course.tutor_id):
        raise NotFound("No such course.", code="course_not_found")
    if not course.is_free:
        raise Conflict(
            "This course is paid: buy it to enrol. Payments for courses are not open yet.",
            code="payment_required",
        )
    enrolment, created = await grant_enrolment(
        session, course.id, student_id, source=EnrolmentSource.FREE.value
    )
    if not created:
        raise Conflict("You are already enrolled in this course.", code="already_enrolled")
    return enrolment


async def buy(session: AsyncSession, course_id: int, student_id: int) -> None:
    """The "Buy" action until the checkout is wired: a clear 409, nothing written."""
    course = await load_course(session, course_id)
    if not course.is_published or not await tutor_is_approved(session, course.tutor_id):
        raise NotFound("No such course.", code="course_not_found")
    if course.is_free:
        raise ValidationFailed({"course": "This course is free: enrol instead."})
    existing = await enrolment_of(session, course.id, student_id)
    if existing is not None:
        raise Conflict("You are already enrolled in this course.", code="already_enrolled")
    raise Conflict(
        "Paying for courses is not available yet. The course will open once payment is done.",
        code="payment_required",
    )


async def enrolment_of(session: AsyncSession, course_id: int, student_id: int) -> Enrolment | None:
    return await session.scalar(
        select(Enrolment).where(
            Enrolment.course_id == course_id, Enrolment.student_id == student_id
        )
    )


async def my_enrolments(session: AsyncSession, student_id: int) -> list[tuple[Enrolment, Course]]:
    rows = await session.execute(
        select(Enrolment, Course)
        .join(Course, Course.id == Enrolment.course_id)
        .where(Enrolment.student_id == student_id)
        .order_by(Enrolment.last_activity_at.desc().nulls_last(), Enrolment.enrolled_at.desc())
    )
    return [(e, c) for e, c in rows.all()]
