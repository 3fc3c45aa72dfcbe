"""Reviews jobs: invite the student to review once their lesson is completed.

Scheduling publishes ``BookingTransitioned``; when a lesson becomes ``completed`` the subscriber
enqueues ``reviews.invite``. The job reads the booking afresh and sends the invitation once: a
second run finds the notification already there, a reviewed lesson needs none.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.events import EventBus
from marketplace.notifications import service as notifications
from marketplace.notifications.models import Notification
from marketplace.settings import ReviewSettings
from marketplace.tasks import JobContext, TaskQueue, TaskSpec
from marketplace.uow import unit_of_work
from marketplace.wording import plural
from reviews import queries, service
from scheduling.lifecycle import BookingTransitioned, State
from scheduling.models import Booking
from scheduling.presenters import names

INVITE_TASK = "reviews.invite"
INVITE_KIND = "review.invite"


async def send_invite(
    session: AsyncSession, booking_id: int, settings: ReviewSettings, now: datetime | None = None
) -> bool:
    """Job body: ask the student for a review, once, while they still can; True when sent."""
    now = now or datetime.now(UTC)
    booking = await session.get(Booking, booking_id, with_for_update=True)
    if booking is None or booking.status not in service.REVIEWABLE:
        return False
    if now >= service.window_closes(booking, settings):
        return False
    if await queries.for_booking(session, booking_id) is not None:
        return False
    link = f"/lessons/{booking_id}/review"
    already = await session.scalar(
        select(Notification.id).where(
            Notification.user_id == booking.student_id,
            Notification.kind == INVITE_KIND,
            Notification.link == link,
        )
    )
    if already is not None:
        return False
    tutor = (await names(session, {booking.tutor_id})).get(booking.tutor_id, "your tutor")
    await notifications.notify(
        session,
        booking.student_id,
        kind=INVITE_KIND,
        title=f"How was your lesson with {tutor}?",
        body=f"Leave a review within {plural(settings.window_days, 'day')}: it helps other "
        "students choose, and helps your tutor.",
        link=link,
    )
    return True


async def invite(ctx: JobContext, booking_id: int) -> None:
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        await send_invite(session, booking_id, ctx.settings.reviews)


def subscribe(events: EventBus, queue: TaskQueue) -> None:
    def on_transition(event: BookingTransitioned) -> None:
        if event.to_state == State.COMPLETED.value:
            queue.enqueue(INVITE_TASK, event.booking_id)

    events.subscribe(BookingTransitioned, on_transition)


TASKS = [TaskSpec(INVITE_TASK, invite, max_retries=3)]
