"""Scheduling models → response structs (shared by the JSON API and the pages)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.profiles.models import TutorProfile
from scheduling import availability
from scheduling.models import (
    AvailabilityOverride,
    Booking,
    BookingRules,
    RescheduleRequest,
    TimeOff,
)
from scheduling.schemas import (
    AvailabilityOut,
    BookingOut,
    OverrideOut,
    PersonOut,
    RescheduleOut,
    RulesIO,
    TimeOffOut,
    WindowIO,
)

# A lesson's state in the words of the person looking at it. Students never see the ledger's
# "settled" (the tutor has been paid); to them the lesson is simply paid for.
_STATUS_WORDS: dict[str, tuple[str, str]] = {
    # status: (student's words, tutor's words)
    "held": ("held", "held"),
    "confirmed": ("confirmed", "confirmed"),
    "completed": ("completed", "completed"),
    "settled": ("completed · paid", "completed · paid out"),
    "cancelled_by_student": ("cancelled by you", "cancelled by the student"),
    "cancelled_by_tutor": ("cancelled by the tutor", "cancelled by you"),
    "expired": ("expired (not paid)", "expired (not paid)"),
    "no_show_student": ("missed", "student did not come"),
    "no_show_tutor": ("tutor did not come", "missed"),
    "disputed": ("under review", "disputed"),
    "refunded": ("refunded", "refunded"),
}


def status_words(status: str, role: str = "student") -> str:
    """A booking status for a page: ``role`` is "student" or "tutor" (admins read the tutor's)."""
    words = _STATUS_WORDS.get(status)
    if words is None:
        return status.replace("_", " ")
    return words[0] if role == "student" else words[1]


async def names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """Display names: a tutor's public name, otherwise the account name."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.id, func.coalesce(TutorProfile.display_name, User.full_name))
        .outerjoin(TutorProfile, TutorProfile.user_id == User.id)
        .where(User.id.in_(user_ids))
    )
    return {uid: name for uid, name in rows}


async def booking_outs(
    session: AsyncSession,
    bookings: Sequence[Booking],
    *,
    new: bool = False,
    known: Mapping[int, str] | None = None,
) -> list[BookingOut]:
    """``new``: just held, so no reschedule request can exist yet (one query fewer).
    ``known``: display names the caller has read already (a hold reads both)."""
    who = dict(known or {})
    missing = ({b.tutor_id for b in bookings} | {b.student_id for b in bookings}) - who.keys()
    if missing:
        who |= await names(session, missing)
    pending: dict[int, RescheduleRequest] = {}
    if bookings and not new:
        rows = await session.scalars(
            select(RescheduleRequest).where(
                RescheduleRequest.booking_id.in_([b.id for b in bookings]),
                RescheduleRequest.status == "pending",
            )
        )
        pending = {r.booking_id: r for r in rows}
    return [booking_out(b, who, pending.get(b.id)) for b in bookings]


def booking_out(
    b: Booking, who: dict[int, str], request: RescheduleRequest | None = None
) -> BookingOut:
    return BookingOut(
        id=b.id,
        status=b.status,
        tutor=PersonOut(b.tutor_id, who.get(b.tutor_id, "")),
        student=PersonOut(b.student_id, who.get(b.student_id, "")),
        starts_at=b.starts_at,
        ends_at=b.ends_at,
        duration_minutes=b.duration_minutes,
        price_minor=b.price_minor,
        currency=b.currency,
        tutor_time_zone=b.tutor_time_zone,
        hold_expires_at=b.hold_expires_at if b.status == "held" else None,
        series_id=str(b.series_id) if b.series_id else None,
        cancelled_by=b.cancelled_by,
        cancel_reason=b.cancel_reason,
        refund_minor=b.refund_minor,
        reschedule=RescheduleOut(
            request.id, request.requested_by, request.starts_at, request.ends_at, request.status
        )
        if request
        else None,
        trial=b.trial,
    )


def override_out(o: AvailabilityOverride) -> OverrideOut:
    return OverrideOut(
        id=o.id,
        date=o.on_date,
        kind=o.kind,
        start=o.start_time.strftime("%H:%M") if o.start_time else None,
        end=o.end_time.strftime("%H:%M") if o.end_time else None,
        time_zone=o.time_zone,
    )


def time_off_out(t: TimeOff) -> TimeOffOut:
    return TimeOffOut(id=t.id, starts_at=t.starts_at, ends_at=t.ends_at, reason=t.reason)


def rules_io(r: BookingRules) -> RulesIO:
    return RulesIO(
        buffer_before_minutes=r.buffer_before_minutes,
        buffer_after_minutes=r.buffer_after_minutes,
        min_notice_minutes=r.min_notice_minutes,
        booking_window_days=r.booking_window_days,
        max_lessons_per_day=r.max_lessons_per_day,
        slot_granularity_minutes=r.slot_granularity_minutes,
        free_cancel_hours=r.free_cancel_hours,
        late_cancel_refund_percent=r.late_cancel_refund_percent,
    )


def _clock(t: object) -> str:
    text = f"{t:%H:%M}"
    return "24:00" if text == "00:00" else text


async def availability_out(
    session: AsyncSession, tutor: User, durations: list[int]
) -> AvailabilityOut:
    from datetime import UTC, datetime

    weekly = await availability.weekly_rules(session, tutor.id)
    return AvailabilityOut(
        time_zone=weekly[0].time_zone if weekly else tutor.time_zone,
        windows=[
            WindowIO(w.weekday, f"{w.start:%H:%M}", _clock(w.end))
            for w in availability.windows_from_rules(weekly)
        ],
        rrules=[
            f"DTSTART;TZID={r.time_zone}:{r.dtstart:%Y%m%dT%H%M%S}\nRRULE:{r.rrule}\n"
            f"DURATION:PT{r.duration_minutes}M"
            for r in weekly
        ],
        overrides=[override_out(o) for o in await availability.overrides_for(session, tutor.id)],
        time_off=[
            time_off_out(t)
            for t in await availability.time_off_for(session, tutor.id, datetime.now(UTC))
        ],
        rules=rules_io(await availability.booking_rules(session, tutor.id)),
        durations=durations,
    )
