"""What people are told about their lessons, and when: booking notices and reminders.

Scheduling subscribes to its own ``BookingTransitioned`` events (after commit) and enqueues a
job per notice; the job reads the booking afresh. Reminders 24 hours and 1 hour before are jobs
found by the periodic sweep; each re-checks the booking's state and start time, and records
(booking, kind, start) under a primary key, so a cancelled or moved lesson gets nothing wrong
and nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.events import EventBus
from marketplace.money import format_money
from marketplace.notifications import service as notifications
from marketplace.tasks import TaskQueue
from marketplace.wording import time_left
from scheduling.lifecycle import Action, BookingTransitioned, State
from scheduling.models import Booking, BookingReminder, RescheduleRequest
from scheduling.presenters import names
from scheduling.service import RescheduleRequested

NOTIFY_TASK = "scheduling.notify_booking"
REMINDER_TASK = "scheduling.send_reminder"
REMINDERS = {"24h": timedelta(hours=24), "1h": timedelta(hours=1)}

# event → (title, sentence); {other} is the other side, {when} the time in the reader's zone.
_TEXTS = {
    "confirm": ("Lesson confirmed", "Your lesson with {other} on {when} is confirmed."),
    "student_cancel": ("Lesson cancelled", "{canceller} cancelled the lesson on {when}.{refund}"),
    "tutor_cancel": ("Lesson cancelled", "{canceller} cancelled the lesson on {when}.{refund}"),
    "waive_fee": ("Fee waived", "The late-cancellation fee for {when} was waived.{refund}"),
    "reschedule": ("Lesson moved", "Your lesson with {other} is now on {when}."),
    "reschedule_requested": (
        "New time proposed",
        "{requester} proposed moving your lesson to {new_when}. Accept or decline in Duet.",
    ),
    "student_no_show": ("Missed lesson", "The lesson on {when} was recorded as a student no-show."),
    "tutor_no_show": (
        "Missed lesson",
        "The lesson on {when} was recorded as a tutor no-show.{refund}",
    ),
    "dispute": ("Lesson disputed", "The lesson on {when} is disputed; an admin will look at it."),
    "resolve_for_tutor": (
        "Dispute resolved",
        "The dispute about {when} was resolved for the tutor.",
    ),
    "resolve_for_student": (
        "Dispute resolved",
        "The dispute about {when} was resolved for the student.{refund}",
    ),
}


def subscribe(events: EventBus, queue: TaskQueue) -> None:
    def on_transition(event: BookingTransitioned) -> None:
        if Action.NOTIFY.value in event.actions and event.event in _TEXTS:
            queue.enqueue(NOTIFY_TASK, event.booking_id, event.event)

    def on_reschedule(event: RescheduleRequested) -> None:
        queue.enqueue(NOTIFY_TASK, event.booking_id, "reschedule_requested")

    events.subscribe(BookingTransitioned, on_transition)
    events.subscribe(RescheduleRequested, on_reschedule)


def when(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or zone)


async def notify_booking(session: AsyncSession, booking_id: int, event: str) -> None:
    """Job body: tell the student and the tutor about ``event`` on the booking."""
    booking = await session.get(Booking, booking_id)
    if booking is None or event not in _TEXTS:
        return
    who = await names(session, {booking.tutor_id, booking.student_id})
    request = None
    if event == "reschedule_requested":
        request = await session.scalar(
            select(RescheduleRequest)
            .where(RescheduleRequest.booking_id == booking.id)
            .order_by(RescheduleRequest.id.desc())
        )
        if request is None or request.status != "pending":
            return
    title, sentence = _TEXTS[event]
    refund = ""
    if booking.refund_minor:
        refund = f" {format_money(booking.refund_minor, booking.currency)} will be refunded."
    canceller = who.get(
        booking.student_id if booking.cancelled_by == "student" else booking.tutor_id, ""
    )
    for reader, other in (
        (booking.student_id, booking.tutor_id),
        (booking.tutor_id, booking.student_id),
    ):
        if request is not None and reader == request.requested_by:
            continue
        user = await session.get(User, reader)
        if user is None:
            continue
        text = sentence.format(
            other=who.get(other, ""),
            when=when(booking.starts_at, user.time_zone),
            new_when=when(request.starts_at, user.time_zone) if request else "",
            requester=who.get(request.requested_by, "") if request else "",
            canceller=canceller or "An admin",
            refund=refund if reader == booking.student_id else "",
        )
        await notifications.notify(
            session,
            reader,
            kind=f"booking.{event}",
            title=title,
            body=text,
            link=f"/lessons/{booking.id}",
            sms_text=f"Duet: {text}",
        )


async def due_reminders(session: AsyncSession, now: datetime) -> list[tuple[int, str, str]]:
    """(booking id, kind, start ISO) of reminders whose time has come and that were not sent."""
    out: list[tuple[int, str, str]] = []
    for kind, lead in REMINDERS.items():
        rows = await session.execute(
            select(Booking.id, Booking.starts_at)
            .outerjoin(
                BookingReminder,
                and_(
                    BookingReminder.booking_id == Booking.id,
                    BookingReminder.kind == kind,
                    BookingReminder.starts_at == Booking.starts_at,
                ),
            )
            .where(
                Booking.status == State.CONFIRMED.value,
                Booking.starts_at > now,
                Booking.starts_at <= now + lead,
                BookingReminder.booking_id.is_(None),
            )
            .limit(1000)
        )
        out.extend((bid, kind, starts.isoformat()) for bid, starts in rows)
    return out


async def send_reminder(
    session: AsyncSession, booking_id: int, kind: str, starts_iso: str, now: datetime | None = None
) -> bool:
    """Job body: remind both sides, unless the lesson was cancelled, moved or already reminded."""
    now = now or datetime.now(UTC)
    booking = await session.get(Booking, booking_id, with_for_update=True)
    lead = REMINDERS.get(kind)
    if booking is None or lead is None or booking.status != State.CONFIRMED.value:
        return False
    if booking.starts_at != datetime.fromisoformat(starts_iso):
        return False  # moved: the sweep finds the new time
    if not booking.starts_at - lead <= now < booking.starts_at:
        return False
    if kind == "24h" and booking.starts_at - now <= REMINDERS["1h"]:
        return False  # the 1-hour reminder says it all
    inserted = await session.scalar(
        insert(BookingReminder)
        .values(booking_id=booking.id, kind=kind, starts_at=booking.starts_at)
        .on_conflict_do_nothing()
        .returning(BookingReminder.booking_id)
    )
    if inserted is None:
        return False
    who = await names(session, {booking.tutor_id, booking.student_id})
    for reader, other in (
        (booking.student_id, booking.tutor_id),
        (booking.tutor_id, booking.student_id),
    ):
        user = await session.get(User, reader)
        if user is None:
            continue
        # The time really left: the sweep may run (or catch up) well after the lead time.
        text = (
            f"Reminder: your lesson with {who.get(other, '')} starts in "
            f"{time_left(booking.starts_at - now)}, {when(booking.starts_at, user.time_zone)}."
        )
        await notifications.notify(
            session,
            reader,
            kind=f"booking.reminder_{kind}",
            title="Lesson reminder",
            body=text,
            link=f"/lessons/{booking.id}",
            sms_text=f"Duet: {text}",
        )
    return True
