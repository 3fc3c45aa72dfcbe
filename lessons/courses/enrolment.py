"""Enrolment: free courses here; paid ones through the checkout, which calls ``grant_enrolment``.

``grant_enrolment`` is the single way a student gets a course. It is idempotent (a payment
webhook that arrives twice grants once) and safe under races (an INSERT … ON CONFLICT on the
unique (course, student) pair). An enrolment can *end* (its purchase refunded, or the payment
charged back): the row, its progress and any certificate stay, but it gives no access until
the student enrols or buys again, which reopens the same row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.courses.models import Course, Enrolment, EnrolmentEnd, EnrolmentSource
from lessons.courses.service import load_course, tutor_is_approved
from marketplace.errors import Conflict, NotFound


class AlreadyEnrolled(Conflict):
    code = "already_enrolled"


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
    or ``admin``. An active enrolment is returned unchanged with created=False; an ended one is
    reopened (created=True) with the new source and reference, keeping its progress.
    """
    if source not in {s.value for s in EnrolmentSource}:
        raise ValueError(f"unknown enrolment source {source!r}")
    course = await load_course(session, course_id)
    if course.tutor_id == student_id:
        raise Conflict("You cannot enrol in your own course.", code="own_course")
    statement = insert(Enrolment).values(
        course_id=course.id, student_id=student_id, source=source, reference=reference
    )
    granted = await session.scalar(
        statement.on_conflict_do_update(
            constraint="uq_course_enrolments_course_student",
            set_={
                "source": statement.excluded.source,
                "reference": statement.excluded.reference,
                "enrolled_at": func.now(),
                "ended_at": None,
                "end_reason": "",
            },
            where=Enrolment.ended_at.is_not(None),
        ).returning(Enrolment.id)
    )
    enrolment = await session.scalar(
        select(Enrolment)
        .where(Enrolment.course_id == course.id, Enrolment.student_id == student_id)
        .execution_options(populate_existing=True)
    )
    assert enrolment is not None
    return enrolment, granted is not None


async def end_enrolment(
    session: AsyncSession, enrolment_id: int, reason: EnrolmentEnd, now: datetime
) -> bool:
    """End access (idempotent; returns whether it was active). Progress, quiz attempts and
    certificates are kept: a certificate already issued stays valid unless it is revoked."""
    enrolment = await session.get(
        Enrolment, enrolment_id, with_for_update=True, populate_existing=True
    )
    if enrolment is None or not enrolment.active:
        return False
    enrolment.ended_at = now
    enrolment.end_reason = reason.value
    return True


async def enrol(session: AsyncSession, course_id: int, student_id: int) -> Enrolment:
    """A student's own enrolment: free courses only; a paid course is bought (``orders``)."""
    course = await load_course(session, course_id)
    if not course.is_published or not await tutor_is_approved(session, course.tutor_id):
        raise NotFound("No such course.", code="course_not_found")
    if not course.is_free:
        raise Conflict("This course is paid: buy it to enrol.", code="payment_required")
    enrolment, created = await grant_enrolment(
        session, course.id, student_id, source=EnrolmentSource.FREE.value
    )
    if not created:
        raise AlreadyEnrolled("You are already enrolled in this course.")
    return enrolment


async def enrolment_of(
    session: AsyncSession, course_id: int, student_id: int, *, include_ended: bool = False
) -> Enrolment | None:
    """The student's enrolment that gives access (or, with ``include_ended``, any)."""
    query = select(Enrolment).where(
        Enrolment.course_id == course_id, Enrolment.student_id == student_id
    )
    if not include_ended:
        query = query.where(Enrolment.ended_at.is_(None))
    return await session.scalar(query)


async def my_enrolments(
    session: AsyncSession, student_id: int, *, ended: bool = False
) -> list[tuple[Enrolment, Course]]:
    """Active enrolments (or, with ``ended``, the ones whose access has ended)."""
    rows = await session.execute(
        select(Enrolment, Course)
        .join(Course, Course.id == Enrolment.course_id)
        .where(
            Enrolment.student_id == student_id,
            Enrolment.ended_at.is_not(None) if ended else Enrolment.ended_at.is_(None),
        )
        .order_by(Enrolment.last_activity_at.desc().nulls_last(), Enrolment.enrolled_at.desc())
    )
    return [(e, c) for e, c in rows.all()]
