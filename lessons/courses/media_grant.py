"""Course media links are bound to the student's enrolment and checked each time they are used.

A student's links carry the grant ``enrolment-{id}`` (see ``marketplace.media_links``). When a
file is served, ``check`` confirms the enrolment is still active and the file belongs to an item
of its course (so a refund, which ends the enrolment, stops every link at once), and marks the
item as *fetched*: a download or a play counts, once per item, toward the course refund rule
(``lessons.courses.refund_policy``). The course player does not preload (``preload="none"``),
so opening an item's page fetches nothing until the student presses play.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import false, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.courses.models import CourseItem, CourseMedia, Enrolment, ItemProgress
from marketplace.errors import NotFound
from marketplace.media_links import Grant, MediaAccessEnded

KIND = "enrolment"


def grant_for(enrolment: Enrolment) -> Grant:
    return Grant(KIND, enrolment.id)


async def item_of_key(session: AsyncSession, course_id: int, key: str) -> int | None:
    """The item of ``course_id`` whose media is ``key`` (the file, its playable rendition, or a
    file of its HLS directory)."""
    folder = key.rpartition("/")[0]
    hls_match = CourseMedia.hls_key.startswith(folder + "/", autoescape=True) if folder else false()
    found: int | None = await session.scalar(
        select(CourseMedia.item_id)
        .join(CourseItem, CourseItem.id == CourseMedia.item_id)
        .where(
            CourseItem.course_id == course_id,
            or_(CourseMedia.original_key == key, CourseMedia.playable_key == key, hls_match),
        )
        .limit(1)
    )
    return found


async def check(session: AsyncSession, enrolment_id: int, key: str) -> None:
    enrolment = await session.get(Enrolment, enrolment_id)
    if enrolment is None or not enrolment.active:
        raise MediaAccessEnded("Your access to this course has ended.")
    item_id = await item_of_key(session, enrolment.course_id, key)
    if item_id is None:
        raise NotFound("No such file.", code="media_not_found")
    now = datetime.now(UTC)
    # Once per item: the first fetch stamps it, later ones (ranges, segments) change nothing.
    statement = insert(ItemProgress).values(
        enrolment_id=enrolment.id, item_id=item_id, media_fetched_at=now, updated_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            constraint="pk_course_item_progress",
            set_={"media_fetched_at": now},
            where=ItemProgress.media_fetched_at.is_(None),
        )
    )
