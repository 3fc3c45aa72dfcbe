"""Bookings: holds (single and weekly series), cancellation, reschedule, timed transitions."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Exists,
    Row,
    Select,
    bindparam,
    exists,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from marketplace.messaging import blocked_either_way
from marketplace.profiles.models import TutorProfile
from marketplace.uow import emit
from marketplace.wording import plural
from payouts import accounts as payout_accounts
from scheduling import availability, lifecycle, slots
from scheduling.lifecycle import (
    HOLD,
    HOLD_DURATION,
    Actor,
    BookingTransitioned,
    State,
)
from scheduling.models import Booking, BookingTransition, IdempotencyKey, RescheduleRequest

logger = logging.getLogger(__name__)
MAX_SERIES_WEEKS = 12
MAX_SLOT_RANGE = timedelta(days=63)


class SlotNotOffered(DomainError):
    """422: the tutor does not offer this slot; ``code`` says why (too_soon, busy, ...)."""

    status_code = 422


@dataclass(frozen=True)
class RescheduleRequested:
    booking_id: int
    request_id: int
    requested_by: int


@dataclass(frozen=True)
class Caller:
    """Who acts on a booking: detached from the web layer."""

    id: int
    is_admin: bool = False


def utc(value: datetime, field: str = "starts_at") -> datetime:
    if value.tzinfo is None:
        raise ValidationFailed({field: "Give the time with a UTC offset, e.g. 2026-05-04T15:00Z."})
    return value.astimezone(UTC)


# ---------------------------------------------------------------- slots


async def open_slots(
    session: AsyncSession,
    tutor_id: int,
    start: datetime,
    end: datetime,
    duration: int | None,
    now: datetime,
) -> tuple[int, list[slots.Interval]]:
    start, end = utc(start, "from"), utc(end, "to")
    if end <= start or end - start > MAX_SLOT_RANGE:
        raise ValidationFailed({"to": "Ask for at most 9 weeks, ending after `from`."})
    tutor, prices = await availability.bookable_tutor(session, tutor_id)
    duration = _duration(prices, duration)
    cal = await availability.load_calendar(session, tutor_id, start, end, time_zone=tutor.time_zone)
    return duration, slots.open_slots(cal, start, end, duration, now)


def _duration(prices: dict[int, int], duration: int | None) -> int:
    if not prices:
        raise SlotNotOffered("This tutor has no lesson prices yet.", code="duration_not_offered")
    if duration is None:
        return min(prices, key=lambda d: abs(d - 60))
    if duration not in prices:
        offered = ", ".join(str(d) for d in sorted(prices))
        raise SlotNotOffered(
            f"This tutor offers lessons of {offered} minutes.",
            code="duration_not_offered",
            fields={"duration_minutes": f"Choose one of {offered}."},
        )
    return duration


# ---------------------------------------------------------------- idempotency


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


async def _claim_key(
    session: AsyncSession, user_id: int, key: str | None, fingerprint: str
) -> list[Booking] | IdempotencyKey | None:
    """Reserve ``key``; returns the earlier bookings when this is a retry."""
    if not key:
        return None
    if len(key) > 200:
        raise ValidationFailed({"Idempotency-Key": "Use at most 200 characters."})
    row = IdempotencyKey(user_id=user_id, key=key, fingerprint=fingerprint, booking_ids=[])
    try:
        # A concurrent request with the same key waits here until the first one commits.
        async with session.begin_nested():
            session.add(row)
            await session.flush()
        return row
    except IntegrityError:
        pass
    earlier = await session.get(IdempotencyKey, (user_id, key), populate_existing=True)
    assert earlier is not None
    if earlier.fingerprint != fingerprint:
        raise Conflict(
            "This Idempotency-Key was used for a different request.",
            code="idempotency_key_reused",
        )
    found = await session.scalars(
        select(Booking).where(Booking.id.in_(earlier.booking_ids)).order_by(Booking.starts_at)
    )
    return list(found)


# ---------------------------------------------------------------- holds


def _stale_holds(
    tutor_id: int | ColumnElement[int],
    student_id: int | ColumnElement[int],
    start: datetime | ColumnElement[datetime],
    end: datetime | ColumnElement[datetime],
    now: datetime | ColumnElement[datetime],
) -> Select[Booking]:
    """Holds past their expiry that still occupy the tutor's or the student's time near
    [start, end): the sweep has not ended them yet. Values or parameters."""
    return select(Booking).where(
        Booking.status == State.HELD.value,
        Booking.hold_expires_at <= now,
        or_(Booking.tutor_id == tutor_id, Booking.student_id == student_id),
        Booking.blocked.overlaps(func.tstzrange(start - timedelta(days=1), end)),
    )


async def _expire_stale_holds(
    session: AsyncSession, tutor_id: int, student_id: int, start: datetime, end: datetime
) -> None:
    """Holds past their expiry still occupy their slot until the sweep runs; end them now."""
    now = datetime.now(UTC)
    stale = await session.scalars(
        _stale_holds(tutor_id, student_id, start, end, now).with_for_update(skip_locked=True)
    )
    for booking in stale:
        await lifecycle.transition(session, booking, "expire", Actor.SYSTEM, now=now)


def _had_lessons_with(
    student_id: int | ColumnElement[int], tutor_id: int | ColumnElement[int]
) -> Exists:
    """Any booking with this tutor that was not dropped (expired or cancelled unpaid)."""
    dropped = [
        State.EXPIRED.value,
        State.CANCELLED_BY_STUDENT.value,
        State.CANCELLED_BY_TUTOR.value,
    ]
    return exists().where(
        Booking.student_id == student_id,
        Booking.tutor_id == tutor_id,
        Booking.status.not_in(dropped),
    )


@dataclass(frozen=True)
class Held:
    """The held bookings, and the display names of the two people (what an answer shows)."""

    bookings: list[Booking]
    names: dict[int, str]


@dataclass(frozen=True)
class _HoldFacts:
    student_name: str | None
    blocked: bool
    payable: bool | None
    had_lessons: bool
    maybe_stale: bool
    tutor_rows: Sequence[Row[*tuple[Any, ...]]]


def _hold_facts_statement() -> Select[*tuple[Any, ...]]:
    """The statement of ``_hold_facts``, built once with parameters (``student``, ``tutor``,
    ``now``, ``start``, ``end``): building it per hold cost more Python time than running it.
    The checks come as one row, joined to the tutor's rows (none when not bookable)."""
    student_id = bindparam("student", type_=BigInteger())
    tutor_id = bindparam("tutor", type_=BigInteger())
    tstz = DateTime(timezone=True)
    student_name = (
        select(func.coalesce(TutorProfile.display_name, User.full_name))
        .select_from(User)
        .outerjoin(TutorProfile, TutorProfile.user_id == User.id)
        .where(User.id == student_id)
        .scalar_subquery()
    )
    stale = _stale_holds(
        tutor_id,
        student_id,
        bindparam("start", type_=tstz),
        bindparam("end", type_=tstz),
        bindparam("now", type_=tstz),
    )
    checks = select(
        student_name.label("student_name"),
        blocked_either_way(student_id, tutor_id).label("blocked"),
        payout_accounts.payouts_enabled_of(tutor_id).label("payable"),
        _had_lessons_with(student_id, tutor_id).label("had_lessons"),
        exists(stale).label("maybe_stale"),
    ).subquery()
    tutor = availability.bookable_select(tutor_id).subquery()
    return select(checks, tutor).select_from(checks.outerjoin(tutor, true()))


_HOLD_FACTS = _hold_facts_statement()


async def _hold_facts(
    session: AsyncSession, student_id: int, tutor_id: int, start: datetime, weeks: int
) -> _HoldFacts:
    """What a hold checks before it looks at the calendar, in one round trip: a block between
    the two, the payout account, earlier lessons (for the trial price), the tutor and prices,
    and the student's display name for the answer. Whether a lapsed hold may stand in the way
    is asked of a span that holds every week's lesson (the lesson's length is not checked yet),
    so that the locking read that ends such holds runs only when one exists."""
    params = {
        "student": student_id,
        "tutor": tutor_id,
        "start": start,
        "end": start + timedelta(weeks=weeks, days=1),
        "now": datetime.now(UTC),
    }
    rows = (await session.execute(_HOLD_FACTS, params)).all()
    name, blocked, payable, had_lessons, maybe_stale = rows[0][:5]
    return _HoldFacts(name, bool(blocked), payable, bool(had_lessons), bool(maybe_stale), rows)


def check_offered(cal: slots.Calendar, start: datetime, duration: int, now: datetime) -> None:
    if (problem := slots.why_not(cal, start, duration, now)) is None:
        return
    code, reason = problem
    if code == "slot_taken":
        raise Conflict(reason, code="slot_taken")
    raise SlotNotOffered(reason, code=code, fields={"starts_at": reason})


def _new_booking(
    *,
    tutor_id: int,
    student_id: int,
    start: datetime,
    duration: int,
    price: int,
    currency: str,
    zone: str,
    rules: slots.Rules,
    now: datetime,
    series_id: uuid.UUID | None = None,
    trial: bool = False,
) -> Booking:
    end = start + timedelta(minutes=duration)
    return Booking(
        tutor_id=tutor_id,
        student_id=student_id,
        status=State.HELD.value,
        starts_at=start,
        ends_at=end,
        period=Range(start, end, bounds="[)"),
        blocked=Range(
            start - timedelta(minutes=rules.buffer_before),
            end + timedelta(minutes=rules.buffer_after),
            bounds="[)",
        ),
        duration_minutes=duration,
        price_minor=price,
        currency=currency,
        tutor_time_zone=zone,
        hold_expires_at=now + HOLD_DURATION,
        series_id=series_id,
        sequence=0,
        cancel_reason="",
        trial=trial,
    )


async def _insert(session: AsyncSession, bookings: list[Booking]) -> None:
    """Insert live bookings; PostgreSQL's exclusion constraints decide any race.

    No savepoint: a refusal ends the whole use case, so the transaction is rolled back anyway.
    """
    try:
        session.add_all(bookings)
        await session.flush()
    except IntegrityError as exc:
        text = str(exc.orig)
        logger.info("booking refused by an exclusion constraint: %s", text.splitlines()[0])
        if "ex_bookings_student_period" in text:
            raise Conflict("You already have a lesson at this time.", code="student_busy") from None
        if "ex_bookings_tutor_blocked" in text:
            raise Conflict("Someone else has just booked this time.", code="slot_taken") from None
        raise
    for booking in bookings:
        session.add(
            BookingTransition(
                booking_id=booking.id,
                event=HOLD.event,
                from_status="",
                to_status=State.HELD.value,
                actor=Actor.STUDENT.value,
                actor_id=booking.student_id,
            )
        )
        emit(
            session,
            BookingTransitioned(
                booking_id=booking.id,
                tutor_id=booking.tutor_id,
                student_id=booking.student_id,
                event=HOLD.event,
                from_state="",
                to_state=State.HELD.value,
                actor=Actor.STUDENT.value,
                actions=tuple(a.value for a in HOLD.actions),
                currency=booking.currency,
            ),
        )


async def hold(
    session: AsyncSession,
    *,
    student_id: int,
    tutor_id: int,
    starts_at: datetime,
    duration: int,
    weeks: int = 1,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Held:
    """Hold one slot, or the same local time weekly for ``weeks`` weeks (all or nothing)."""
    now = now or datetime.now(UTC)
    start = utc(starts_at)
    if not 1 <= weeks <= MAX_SERIES_WEEKS:
        raise ValidationFailed({"weeks": f"Book 1 to {MAX_SERIES_WEEKS} weeks."})
    if student_id == tutor_id:
        raise Forbidden("You cannot book a lesson with yourself.", code="own_booking")
    facts = await _hold_facts(session, student_id, tutor_id, start, weeks)
    if facts.blocked:
        # Either side's block stops bookings as well as messages.
        raise Forbidden("You cannot book lessons with this tutor.", code="blocked")
    claimed = await _claim_key(
        session,
        student_id,
        idempotency_key,
        _fingerprint(tutor_id, start.isoformat(), duration, weeks),
    )
    names = {student_id: facts.student_name} if facts.student_name is not None else {}
    if isinstance(claimed, list):
        return Held(claimed, names)
    tutor, prices = availability.bookable_from(tutor_id, facts.tutor_rows)
    names[tutor_id] = tutor.display_name
    # Only a tutor who can be paid can be booked (their payout account is set up).
    payout_accounts.refuse_unless_payable(facts.payable)
    duration = _duration(prices, duration)
    trial = tutor.trial_price_minor is not None and not facts.had_lessons
    zone = ZoneInfo(tutor.time_zone)
    # Weekly in the tutor's wall-clock time: 17:00 in Berlin stays 17:00 across DST.
    local = start.astimezone(zone).replace(tzinfo=None)
    starts = [slots.local_to_utc(local + timedelta(weeks=i), zone) for i in range(weeks)]
    end = starts[-1] + timedelta(minutes=duration)
    if facts.maybe_stale:
        await _expire_stale_holds(session, tutor_id, student_id, start, end)
    cal = await availability.load_calendar(session, tutor_id, start, end, time_zone=tutor.time_zone)
    if weeks == 1:
        check_offered(cal, start, duration, now)
    else:
        clashes = {
            s.isoformat(): problem[1]
            for s in starts
            if (problem := slots.why_not(cal, s, duration, now)) is not None
        }
        if clashes:
            raise Conflict(
                f"{len(clashes)} of the {plural(weeks, 'week')} cannot be booked; "
                "nothing was held.",
                code="series_clash",
                fields=clashes,
            )
    series = uuid.uuid4() if weeks > 1 else None
    bookings = [
        _new_booking(
            tutor_id=tutor_id,
            student_id=student_id,
            start=s,
            duration=duration,
            # The first lesson with a tutor is at their trial price, when they offer one.
            price=tutor.trial_price_minor
            if trial and i == 0 and tutor.trial_price_minor
            else (prices[duration]),
            currency=tutor.currency,
            zone=tutor.time_zone,
            rules=cal.rules,
            now=now,
            series_id=series,
            trial=trial and i == 0,
        )
        for i, s in enumerate(starts)
    ]
    await _insert(session, bookings)
    if isinstance(claimed, IdempotencyKey):
        claimed.booking_ids = [b.id for b in bookings]
    return Held(bookings, names)


# ---------------------------------------------------------------- reading


async def booking_for(
    session: AsyncSession, booking_id: int, caller: Caller, *, lock: bool = False
) -> Booking:
    """The booking if the caller takes part in it (or is an admin); 404 otherwise."""
    booking = await session.get(Booking, booking_id, with_for_update=lock or None)
    if booking is None or not (
        caller.is_admin or caller.id in (booking.student_id, booking.tutor_id)
    ):
        raise NotFound("No such booking.", code="booking_not_found")
    return booking


async def bookings_of(
    session: AsyncSession, user_id: int, *, upcoming: bool | None = None, limit: int = 200
) -> list[Booking]:
    query = select(Booking).where(or_(Booking.student_id == user_id, Booking.tutor_id == user_id))
    now = datetime.now(UTC)
    if upcoming is True:
        query = query.where(Booking.ends_at > now).order_by(Booking.starts_at)
    elif upcoming is False:
        query = query.where(Booking.ends_at <= now).order_by(Booking.starts_at.desc())
    else:
        query = query.order_by(Booking.starts_at)
    return list(await session.scalars(query.limit(limit)))


async def pending_reschedule(session: AsyncSession, booking_id: int) -> RescheduleRequest | None:
    return await session.scalar(
        select(RescheduleRequest).where(
            RescheduleRequest.booking_id == booking_id, RescheduleRequest.status == "pending"
        )
    )


def actor_for(booking: Booking, caller: Caller) -> Actor:
    if caller.id == booking.student_id:
        return Actor.STUDENT
    if caller.id == booking.tutor_id:
        return Actor.TUTOR
    if caller.is_admin:
        return Actor.ADMIN
    raise NotFound("No such booking.", code="booking_not_found")
