"""Progress through a course, the completion rule and the certificate it earns.

Completion rule: every *required* item is done. A text, file, audio or video item is done when
the student marks it so (audio and video also when the player passes 90 % of the length); a
quiz item is done when one of the student's attempts passed. Optional items count for nothing.
The percentage is done required items over required items. Completing the course issues the
certificate in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.certificates import service as certificates
from lessons.certificates.models import Certificate
from lessons.certificates.signing import Signer
from lessons.courses.models import Course, CourseItem, Enrolment, ItemKind, ItemProgress
from lessons.courses.service import Outline, outline
from marketplace.errors import NotFound, ValidationFailed

WATCHED_FRACTION = 0.9


async def states(session: AsyncSession, enrolment: Enrolment) -> dict[int, ItemProgress]:
    rows = await session.scalars(
        select(ItemProgress).where(ItemProgress.enrolment_id == enrolment.id)
    )
    return {row.item_id: row for row in rows}


def percent(plan: Outline, done: set[int]) -> int:
    counted = [i.id for i in plan.items if i.required] or [i.id for i in plan.items]
    if not counted:
        return 0
    return int(100 * sum(1 for i in counted if i in done) / len(counted))


def done_items(progress: dict[int, ItemProgress]) -> set[int]:
    return {item_id for item_id, row in progress.items() if row.completed_at is not None}


def continue_item(plan: Outline, enrolment: Enrolment, done: set[int]) -> CourseItem | None:
    """Where "continue" goes: the last item opened if unfinished, else the first unfinished."""
    items = plan.items
    if not items:
        return None
    by_id = {i.id: i for i in items}
    if enrolment.last_item_id in by_id and enrolment.last_item_id not in done:
        return by_id[enrolment.last_item_id]
    start = 0
    if enrolment.last_item_id in by_id:
        start = items.index(by_id[enrolment.last_item_id])
    for item in items[start:] + items[:start]:
        if item.id not in done:
            return item
    return by_id.get(enrolment.last_item_id or 0, items[-1])


async def _lock(session: AsyncSession, enrolment: Enrolment) -> Enrolment:
    """The enrolment, locked for the change; an ended one (refunded, charged back) takes no
    more progress, even from a tab opened before it ended."""
    locked = await session.get(
        Enrolment, enrolment.id, with_for_update=True, populate_existing=True
    )
    assert locked is not None
    if not locked.active:
        raise NotFound("Your access to this course has ended.", code="not_enrolled")
    return locked


async def record(
    session: AsyncSession,
    signer: Signer,
    course: Course,
    enrolment: Enrolment,
    item: CourseItem,
    now: datetime,
    *,
    position: float | None = None,
    completed: bool | None = None,
    duration: float | None = None,
) -> ItemProgress:
    """Store the player position and/or completion of one item (a quiz completes by passing)."""
    if item.kind == ItemKind.QUIZ.value and completed is not None:
        raise ValidationFailed({"completed": "A quiz is completed by passing it."})
    if position is not None and (position < 0 or position > 24 * 3600):
        raise ValidationFailed({"position_seconds": "The position is out of range."})
    enrolment = await _lock(session, enrolment)
    done_now = completed is True or (
        position is not None and bool(duration) and position >= WATCHED_FRACTION * (duration or 0)
    )
    values: dict[str, object] = {"updated_at": now}
    if position is not None:
        values["position_seconds"] = position
    statement = insert(ItemProgress).values(
        enrolment_id=enrolment.id,
        item_id=item.id,
        position_seconds=position or 0,
        completed_at=now if done_now else None,
        updated_at=now,
    )
    if done_now:
        values["completed_at"] = statement.excluded.completed_at
    elif completed is False:
        values["completed_at"] = None
    await session.execute(
        statement.on_conflict_do_update(constraint="pk_course_item_progress", set_=values)
    )
    enrolment.last_item_id = item.id
    enrolment.last_activity_at = now
    await evaluate(session, signer, course, enrolment, now)
    row = await session.get(ItemProgress, (enrolment.id, item.id), populate_existing=True)
    assert row is not None
    return row


async def quiz_passed(
    session: AsyncSession,
    signer: Signer,
    course: Course,
    enrolment: Enrolment,
    item: CourseItem,
    now: datetime,
) -> None:
    enrolment = await _lock(session, enrolment)
    await session.execute(
        insert(ItemProgress)
        .values(enrolment_id=enrolment.id, item_id=item.id, completed_at=now, updated_at=now)
        .on_conflict_do_update(
            constraint="pk_course_item_progress", set_={"completed_at": now, "updated_at": now}
        )
    )
    enrolment.last_item_id = item.id
    enrolment.last_activity_at = now
    await evaluate(session, signer, course, enrolment, now)


async def evaluate(
    session: AsyncSession, signer: Signer, course: Course, enrolment: Enrolment, now: datetime
) -> Certificate | None:
    """Recompute the percentage; on completion, mark it and issue the certificate."""
    await session.flush()
    plan = await outline(session, course)
    done = done_items(await states(session, enrolment))
    enrolment.progress_percent = percent(plan, done)
    required = [i.id for i in plan.items if i.required]
    if required and all(i in done for i in required):
        if enrolment.completed_at is None:
            enrolment.completed_at = now
        return await certificates.issue(session, signer, course, enrolment, now)
    return None
