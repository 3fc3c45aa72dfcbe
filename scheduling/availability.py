"""A tutor's availability: weekly windows (RRULEs), date overrides, time off, booking rules.

Also loads everything slot computation needs about one tutor into a ``slots.Calendar``.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.accounts.service import valid_time_zones
from marketplace.errors import FieldErrors, NotFound, ValidationFailed
from marketplace.profiles.models import LessonPrice, TutorProfile, TutorStatus
from marketplace.uow import emit
from scheduling import policy, slots
from scheduling.events import AvailabilityChanged
from scheduling.lifecycle import LIVE_STATES
from scheduling.models import (
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    BookingRules,
    BusyTime,
    TimeOff,
)

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
GRANULARITIES = (5, 10, 15, 20, 30, 60)
_BYDAY = re.compile(r"^FREQ=WEEKLY;BYDAY=((?:MO|TU|WE|TH|FR|SA|SU)(?:,(?:MO|TU|WE|TH|FR|SA|SU))*)$")
# Anchor of every weekly rule: a Monday long ago, so the rule covers any date we expand.
_ANCHOR = date(2024, 1, 1)


@dataclass(frozen=True)
class Window:
    weekday: str  # MO..SU
    start: time
    end: time  # time(0) means midnight at the end of the day


def parse_clock(raw: str, *, allow_midnight_end: bool = False) -> time | None:
    match = re.fullmatch(r"([01]?\d|2[0-4]):([0-5]\d)", raw.strip())
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        return time(0) if allow_midnight_end and minute == 0 else None
    return time(hour, minute)


def _minutes(t: time, *, end: bool = False) -> int:
    value = t.hour * 60 + t.minute
    return 1440 if end and value == 0 else value


def validate_windows(raw: list[tuple[str, str, str]]) -> list[Window]:
    """(weekday, "HH:MM", "HH:MM") triples → windows; overlaps on one day are refused."""
    errors = FieldErrors()
    windows: list[Window] = []
    for i, (day, start_raw, end_raw) in enumerate(raw):
        weekday = day.strip().upper()[:2]
        start = parse_clock(start_raw)
        end = parse_clock(end_raw, allow_midnight_end=True)
        if weekday not in WEEKDAYS:
            errors.add(f"windows[{i}].weekday", "Use MO, TU, WE, TH, FR, SA or SU.")
        if start is None or end is None:
            errors.add(f"windows[{i}]", "Use 24-hour times such as 09:00 and 17:30.")
            continue
        if _minutes(start) >= _minutes(end, end=True):
            errors.add(f"windows[{i}]", "A window must end after it starts.")
            continue
        windows.append(Window(weekday, start, end))
    by_day: dict[str, list[Window]] = defaultdict(list)
    for window in windows:
        by_day[window.weekday].append(window)
    for day, items in by_day.items():
        items.sort(key=lambda w: _minutes(w.start))
        for a, b in itertools.pairwise(items):
            if _minutes(b.start) < _minutes(a.end, end=True):
                errors.add(
                    "windows",
                    f"On {day} the windows {a.start:%H:%M}–{a.end:%H:%M} and "
                    f"{b.start:%H:%M}–{b.end:%H:%M} overlap; join them into one.",
                )
    errors.raise_if_any()
    return windows


def check_zone(time_zone: str) -> str:
    if time_zone not in valid_time_zones():
        raise ValidationFailed({"time_zone": "Choose an IANA time zone such as Europe/Berlin."})
    return time_zone


def rules_from_windows(
    tutor_id: int, windows: list[Window], time_zone: str
) -> list[AvailabilityRule]:
    """One RRULE per distinct (start, end), listing its weekdays: few rows, readable iCalendar."""
    groups: dict[tuple[time, time], list[str]] = defaultdict(list)
    for window in windows:
        groups[(window.start, window.end)].append(window.weekday)
    out = []
    for (start, end), days in sorted(groups.items()):
        ordered = sorted(set(days), key=WEEKDAYS.index)
        out.append(
            AvailabilityRule(
                tutor_id=tutor_id,
                rrule=f"FREQ=WEEKLY;BYDAY={','.join(ordered)}",
                dtstart=datetime.combine(_ANCHOR, start),
                time_zone=time_zone,
                duration_minutes=_minutes(end, end=True) - _minutes(start),
            )
        )
    return out


def windows_from_rules(rules: list[AvailabilityRule]) -> list[Window]:
    out: list[Window] = []
    for rule in rules:
        match = _BYDAY.match(rule.rrule)
        if not match:
            continue  # not one of ours (kept, expanded, but not shown in the weekly grid)
        start = rule.dtstart.time()
        end_dt = datetime.combine(_ANCHOR, start) + timedelta(minutes=rule.duration_minutes)
        end = end_dt.time()
        out.extend(Window(day, start, end) for day in match.group(1).split(","))
    return sorted(out, key=lambda w: (WEEKDAYS.index(w.weekday), _minutes(w.start)))


async def tutor_user(session: AsyncSession, tutor_id: int) -> User:
    user = await session.get(User, tutor_id)
    if user is None:
        raise NotFound("No such tutor.", code="tutor_not_found")
    return user


async def booking_rules(session: AsyncSession, tutor_id: int) -> BookingRules:
    """The tutor's rules, or unsaved defaults."""
    found = await session.get(BookingRules, tutor_id)
    return found if found is not None else default_rules(tutor_id)


def default_rules(tutor_id: int) -> BookingRules:
    """The rules of a tutor who never saved any (the column defaults, spelled out)."""
    return BookingRules(
        tutor_id=tutor_id,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        min_notice_minutes=720,
        booking_window_days=60,
        max_lessons_per_day=None,
        slot_granularity_minutes=30,
        free_cancel_hours=policy.DEFAULT_FREE_CANCEL_HOURS,
        late_cancel_refund_percent=0,
    )


def slot_rules(rules: BookingRules) -> slots.Rules:
    return slots.Rules(
        buffer_before=rules.buffer_before_minutes,
        buffer_after=rules.buffer_after_minutes,
        min_notice=rules.min_notice_minutes,
        window_days=rules.booking_window_days,
        max_per_day=rules.max_lessons_per_day,
        granularity=rules.slot_granularity_minutes,
    )


def cancel_policy(rules: BookingRules) -> policy.Policy:
    return policy.Policy(rules.free_cancel_hours, rules.late_cancel_refund_percent)


async def weekly_rules(session: AsyncSession, tutor_id: int) -> list[AvailabilityRule]:
    return list(
        await session.scalars(
            select(AvailabilityRule)
            .where(AvailabilityRule.tutor_id == tutor_id)
            .order_by(AvailabilityRule.id)
        )
    )


async def set_weekly(
    session: AsyncSession, tutor: User, windows: list[Window], time_zone: str | None = None
) -> list[AvailabilityRule]:
    """Replace the weekly windows, anchored in ``time_zone`` (default: the tutor's zone)."""
    zone = check_zone(time_zone or tutor.time_zone)
    await session.execute(delete(AvailabilityRule).where(AvailabilityRule.tutor_id == tutor.id))
    rules = rules_from_windows(tutor.id, windows, zone)
    session.add_all(rules)
    await session.flush()
    emit(session, AvailabilityChanged(tutor.id))
    return rules


async def overrides_for(
    session: AsyncSession, tutor_id: int, start: date | None = None, end: date | None = None
) -> list[AvailabilityOverride]:
    query = select(AvailabilityOverride).where(AvailabilityOverride.tutor_id == tutor_id)
    if start is not None:
        query = query.where(AvailabilityOverride.on_date >= start)
    if end is not None:
        query = query.where(AvailabilityOverride.on_date <= end)
    return list(await session.scalars(query.order_by(AvailabilityOverride.on_date)))


async def add_override(
    session: AsyncSession,
    tutor: User,
    *,
    on_date: date,
    kind: str,
    start: str | None,
    end: str | None,
    today: date,
) -> AvailabilityOverride:
    errors = FieldErrors()
    if kind not in ("available", "unavailable"):
        errors.add("kind", "Choose available (extra hours) or unavailable (hours or a day off).")
    if on_date < today - timedelta(days=1) or on_date > today + timedelta(days=400):
        errors.add("date", "Choose a date within the next year.")
    start_t = parse_clock(start) if start else None
    end_t = parse_clock(end, allow_midnight_end=True) if end else None
    if (start and start_t is None) or (end and end_t is None):
        errors.add("start", "Use 24-hour times such as 09:00.")
    elif (start_t is None) != (end_t is None):
        errors.add("end", "Give both a start and an end, or neither (the whole day).")
    elif start_t is not None and end_t is not None:
        if _minutes(start_t) >= _minutes(end_t, end=True) or end_t == time(0):
            errors.add("end", "The end must be after the start, on the same day.")
    elif kind == "available":
        errors.add("start", "Extra hours need a start and an end.")
    errors.raise_if_any()
    item = AvailabilityOverride(
        tutor_id=tutor.id,
        on_date=on_date,
        kind=kind,
        start_time=start_t,
        end_time=end_t,
        time_zone=check_zone(tutor.time_zone),
    )
    session.add(item)
    await session.flush()
    emit(session, AvailabilityChanged(tutor.id))
    return item


async def delete_owned(
    session: AsyncSession,
    model: type[AvailabilityOverride] | type[TimeOff],
    tutor_id: int,
    item_id: int,
) -> None:
    item: AvailabilityOverride | TimeOff | None = await session.get(model, item_id)
    if item is None or item.tutor_id != tutor_id:
        raise NotFound("Nothing with this id is yours.")
    await session.delete(item)
    emit(session, AvailabilityChanged(tutor_id))


async def time_off_for(session: AsyncSession, tutor_id: int, after: datetime) -> list[TimeOff]:
    return list(
        await session.scalars(
            select(TimeOff)
            .where(TimeOff.tutor_id == tutor_id, TimeOff.ends_at > after)
            .order_by(TimeOff.starts_at)
        )
    )


async def add_time_off(
    session: AsyncSession, tutor: User, *, starts_at: datetime, ends_at: datetime, reason: str
) -> TimeOff:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValidationFailed({"starts_at": "Give times with a UTC offset (ISO 8601)."})
    if ends_at <= starts_at or ends_at - starts_at > timedelta(days=366):
        raise ValidationFailed({"ends_at": "Time off must end after it starts, within a year."})
    item = TimeOff(tutor_id=tutor.id, starts_at=starts_at, ends_at=ends_at, reason=reason[:200])
    session.add(item)
    await session.flush()
    emit(session, AvailabilityChanged(tutor.id))
    return item


_RULE_BOUNDS = {
    "buffer_before_minutes": (0, 240),
    "buffer_after_minutes": (0, 240),
    "min_notice_minutes": (0, 20160),
    "booking_window_days": (1, 365),
    "free_cancel_hours": (policy.MIN_FREE_CANCEL_HOURS, policy.MAX_FREE_CANCEL_HOURS),
    "late_cancel_refund_percent": (0, 100),
}


async def update_rules(
    session: AsyncSession, tutor_id: int, values: dict[str, int | None]
) -> BookingRules:
    errors = FieldErrors()
    for name, (low, high) in _RULE_BOUNDS.items():
        value = values.get(name)
        if value is None or not low <= value <= high:
            errors.add(name, f"Choose a whole number from {low} to {high}.")
    cap = values.get("max_lessons_per_day")
    if cap is not None and not 1 <= cap <= 24:
        errors.add("max_lessons_per_day", "Choose 1 to 24 lessons, or no limit.")
    if values.get("slot_granularity_minutes") not in GRANULARITIES:
        errors.add("slot_granularity_minutes", "Choose 5, 10, 15, 20, 30 or 60 minutes.")
    errors.raise_if_any()
    rules = await session.get(BookingRules, tutor_id, with_for_update=True)
    if rules is None:
        rules = BookingRules(tutor_id=tutor_id)
        session.add(rules)
    for name in (*_RULE_BOUNDS, "max_lessons_per_day", "slot_granularity_minutes"):
        setattr(rules, name, values.get(name))
    await session.flush()
    emit(session, AvailabilityChanged(tutor_id))
    return rules


# ---------------------------------------------------------------- slot computation input


@dataclass(frozen=True)
class Bookable:
    tutor_id: int
    display_name: str
    currency: str
    time_zone: str
    trial_price_minor: int | None = None


async def bookable_tutor(session: AsyncSession, tutor_id: int) -> tuple[Bookable, dict[int, int]]:
    """The approved tutor and their offered durations → price (minor units), in one query
    (the profile's own relationships load eagerly, which a booking does not need)."""
    rows = (
        await session.execute(
            select(
                TutorProfile.display_name,
                TutorProfile.currency,
                User.time_zone,
                LessonPrice.duration_minutes,
                LessonPrice.price_minor,
                TutorProfile.trial_price_minor,
            )
            .join(User, User.id == TutorProfile.user_id)
            .outerjoin(LessonPrice, LessonPrice.tutor_id == TutorProfile.user_id)
            .where(
                TutorProfile.user_id == tutor_id,
                TutorProfile.status == TutorStatus.APPROVED.value,
            )
        )
    ).all()
    if not rows:
        raise NotFound("No such tutor.", code="tutor_not_found")
    name, currency, zone = rows[0][:3]
    prices = {int(r[3]): int(r[4]) for r in rows if r[3] is not None}
    return Bookable(tutor_id, name, currency, zone, rows[0][5]), prices


async def durations_of(session: AsyncSession, tutor_id: int) -> list[int]:
    rows = await session.scalars(
        select(LessonPrice.duration_minutes)
        .where(LessonPrice.tutor_id == tutor_id)
        .order_by(LessonPrice.duration_minutes)
    )
    return [int(d) for d in rows]


async def load_calendar(
    session: AsyncSession,
    tutor_id: int,
    start: datetime,
    end: datetime,
    *,
    ignore_booking: int | None = None,
    time_zone: str | None = None,
) -> slots.Calendar:
    """Everything about the tutor that bears on slots in [start, end)."""
    if time_zone is None:
        time_zone = (await tutor_user(session, tutor_id)).time_zone
    found = await load_calendars(
        session, {tutor_id: time_zone}, start, end, ignore_booking=ignore_booking
    )
    return found[tutor_id]


async def load_calendars(
    session: AsyncSession,
    zones: Mapping[int, str],
    start: datetime,
    end: datetime,
    *,
    ignore_booking: int | None = None,
) -> dict[int, slots.Calendar]:
    """``load_calendar`` for many tutors (id → their time zone) in the same four queries, so
    reading a thousand tutors' slots costs about what reading one does."""
    ids = sorted(zones)
    if not ids:
        return {}
    stored = {r.tutor_id: r for r in await session.scalars(
        select(BookingRules).where(BookingRules.tutor_id.in_(ids))
    )}  # fmt: skip
    rules = {i: stored.get(i) or default_rules(i) for i in ids}
    widest = max(r.buffer_before_minutes + r.buffer_after_minutes for r in rules.values())
    pad = timedelta(days=1, minutes=widest)
    lo, hi = start - pad, end + pad
    # One round trip for every interval that blocks time: live bookings (with their buffers),
    # imported busy times and time off.
    booked = select(
        literal("booked"),
        Booking.tutor_id,
        func.lower(Booking.blocked),
        func.upper(Booking.blocked),
        Booking.starts_at,
    ).where(
        Booking.tutor_id.in_(ids),
        Booking.status.in_([s.value for s in LIVE_STATES]),
        Booking.blocked.overlaps(func.tstzrange(lo, hi)),
    )
    if ignore_booking is not None:
        booked = booked.where(Booking.id != ignore_booking)
    busy = select(
        literal("busy"), BusyTime.tutor_id, BusyTime.starts_at, BusyTime.ends_at, BusyTime.starts_at
    ).where(BusyTime.tutor_id.in_(ids), BusyTime.starts_at < hi, BusyTime.ends_at > lo)
    off = select(
        literal("off"), TimeOff.tutor_id, TimeOff.starts_at, TimeOff.ends_at, TimeOff.starts_at
    ).where(TimeOff.tutor_id.in_(ids), TimeOff.starts_at < hi, TimeOff.ends_at > lo)
    found: dict[int, dict[str, list[tuple[datetime, datetime, datetime]]]] = {
        i: {"booked": [], "busy": [], "off": []} for i in ids
    }
    for kind, tutor_id, s, e, lesson_start in await session.execute(union_all(booked, busy, off)):
        found[tutor_id][kind].append((s, e, lesson_start))
    # Overrides are local dates: a day either side covers every zone's view of [lo, hi).
    overrides: dict[int, list[AvailabilityOverride]] = defaultdict(list)
    for item in await session.scalars(
        select(AvailabilityOverride)
        .where(
            AvailabilityOverride.tutor_id.in_(ids),
            AvailabilityOverride.on_date >= lo.date() - timedelta(days=2),
            AvailabilityOverride.on_date <= hi.date() + timedelta(days=2),
        )
        .order_by(AvailabilityOverride.on_date)
    ):
        overrides[item.tutor_id].append(item)
    weekly: dict[int, list[AvailabilityRule]] = defaultdict(list)
    for rule in await session.scalars(
        select(AvailabilityRule)
        .where(AvailabilityRule.tutor_id.in_(ids))
        .order_by(AvailabilityRule.id)
    ):
        weekly[rule.tutor_id].append(rule)
    return {
        i: slots.Calendar(
            time_zone=zones[i],
            weekly=[
                slots.WeeklyRule(r.rrule, r.dtstart, r.time_zone, r.duration_minutes)
                for r in weekly[i]
            ],
            overrides=[
                slots.Override(o.on_date, o.kind, o.start_time, o.end_time, o.time_zone)
                for o in overrides[i]
            ],
            time_off=[(s, e) for s, e, _ in found[i]["off"]],
            booked=[(s, e) for s, e, _ in found[i]["booked"]],
            busy=[(s, e) for s, e, _ in found[i]["busy"]],
            lesson_starts=[lesson_start for _, _, lesson_start in found[i]["booked"]],
            rules=slot_rules(rules[i]),
        )
        for i in ids
    }
