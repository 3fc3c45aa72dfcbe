"""The catalogue: published courses of approved tutors, with filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.courses.models import Course, CourseItem, CourseStatus
from marketplace.accounts.models import User
from marketplace.profiles.models import TutorProfile, TutorStatus


@dataclass(frozen=True)
class Listed:
    course: Course
    tutor_name: str
    items: int


def _catalogue(
    instrument: str | None, level: str | None, language: str | None, q: str | None
) -> Select[Any]:
    items = (
        select(func.count())
        .select_from(CourseItem)
        .where(CourseItem.course_id == Course.id)
        .scalar_subquery()
    )
    stmt = (
        select(Course, TutorProfile.display_name, items)
        .join(User, User.id == Course.tutor_id)
        .join(TutorProfile, TutorProfile.user_id == Course.tutor_id)
        .where(
            Course.status == CourseStatus.PUBLISHED.value,
            TutorProfile.status == TutorStatus.APPROVED.value,
        )
    )
    if instrument:
        stmt = stmt.where(Course.instrument == instrument)
    if level:
        stmt = stmt.where(Course.level == level)
    if language:
        stmt = stmt.where(Course.language == language)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(Course.title.ilike(like), Course.summary.ilike(like)))
    return stmt


async def public_courses(
    session: AsyncSession,
    *,
    instrument: str | None = None,
    level: str | None = None,
    language: str | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[Listed], int]:
    stmt = _catalogue(instrument, level, language, q)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = await session.execute(
        stmt.order_by(Course.published_at.desc(), Course.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    listed = [Listed(course, name, count) for course, name, count in rows.all()]
    return listed, int(total or 0)
