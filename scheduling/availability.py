"""A tutor's availability: weekly windows (RRULEs), date overrides, time off, booking rules.

Also loads everything slot computation needs about one tutor into a ``slots.Calendar``.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Date,
    DateTime,
    Integer,
    Row,
    Select,
    Text,
    Time,
    bindparam,
    cast,
    delete,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

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


def bookable_select(tutor_id: int | ColumnElement[int]) -> Select[*tuple[Any, ...]]:
    """The approved tutor with one row per offered duration (none when not bookable); other
    statements may embed it (a hold reads it with its own checks in one round trip)."""
    return (
        select(
            literal(True).label("found"),
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


def bookable_from(
    tutor_id: int, rows: Sequence[Row[*tuple[Any, ...]]]
) -> tuple[Bookable, dict[int, int]]:
    """``bookable_select``'s rows → the tutor and duration → price (minor units); 404 if none.
    The rows may carry other columns first; the tutor's are the last seven."""
    mine = [r[-7:] for r in rows if r[-7] is not None]
    if not mine:
        raise NotFound("No such tutor.", code="tutor_not_found")
    _, name, currency, zone = mine[0][:4]
    prices = {int(r[4]): int(r[5]) for r in mine if r[4] is not None}
    return Bookable(tutor_id, name, currency, zone, mine[0][6]), prices


async def bookable_tutor(session: AsyncSession, tutor_id: int) -> tuple[Bookable, dict[int, int]]:
    """The approved tutor and their offered durations → price (minor units), in one query
    (the profile's own relationships load eagerly, which a booking does not need)."""
    rows = (await session.execute(bookable_select(tutor_id))).all()
    return bookable_from(tutor_id, rows)


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


# The database caps each buffer at 240 minutes (booking_rules' checks), so reading intervals
# this far around the asked window covers every tutor's buffers without reading their rules first.
_MOST_BUFFER = timedelta(minutes=240 + 240)


def _calendar_rows() -> CompoundSelect[*tuple[Any, ...]]:
    """Everything ``load_calendars`` reads, as one statement: one row per rule set, interval,
    date override and weekly rule, in a common shape (``kind``, tutor, then the columns that
    kind fills; the rest NULL). One round trip instead of four. Built once, with parameters
    (``ids``, ``lo``, ``hi``, ``lo_day``, ``hi_day``, ``ignore``): building it is a good part
    of a hold's Python time otherwise."""
    tstz, naive = DateTime(timezone=True), DateTime(timezone=False)
    ids = bindparam("ids", expanding=True, type_=BigInteger())
    lo, hi = bindparam("lo", type_=tstz), bindparam("hi", type_=tstz)

    def row(kind: str, tutor_id: Any, **filled: Any) -> list[Any]:
        shape: dict[str, TypeEngine[Any]] = {
            "a": tstz, "b": tstz, "c": tstz, "local": naive, "day": Date(), "t1": Time(),
            "t2": Time(), "s1": Text(), "s2": Text(), "n1": Integer(), "n2": Integer(),
            "n3": Integer(), "n4": Integer(), "n5": Integer(), "n6": Integer(),
        }  # fmt: skip
        return [literal(kind), tutor_id] + [
            filled[name] if name in filled else cast(null(), type_) for name, type_ in shape.items()
        ]

    booked = select(
        *row(
            "booked",
            Booking.tutor_id,
            a=func.lower(Booking.blocked),
            b=func.upper(Booking.blocked),
            c=Booking.starts_at,
        )
    ).where(
        Booking.tutor_id.in_(ids),
        Booking.status.in_([s.value for s in LIVE_STATES]),
        Booking.blocked.overlaps(func.tstzrange(lo, hi)),
        # NULL when no booking is to be ignored (a reschedule ignores the one it moves).
        Booking.id.is_distinct_from(bindparam("ignore", type_=BigInteger())),
    )
    busy = select(*row("busy", BusyTime.tutor_id, a=BusyTime.starts_at, b=BusyTime.ends_at)).where(
        BusyTime.tutor_id.in_(ids), BusyTime.starts_at < hi, BusyTime.ends_at > lo
    )
    off = select(*row("off", TimeOff.tutor_id, a=TimeOff.starts_at, b=TimeOff.ends_at)).where(
        TimeOff.tutor_id.in_(ids), TimeOff.starts_at < hi, TimeOff.ends_at > lo
    )
    rules = select(
        *row(
            "rules",
            BookingRules.tutor_id,
            n1=BookingRules.buffer_before_minutes,
            n2=BookingRules.buffer_after_minutes,
            n3=BookingRules.min_notice_minutes,
            n4=BookingRules.booking_window_days,
            n5=BookingRules.max_lessons_per_day,
            n6=BookingRules.slot_granularity_minutes,
        )
    ).where(BookingRules.tutor_id.in_(ids))
    overrides = select(
        *row(
            "override",
            AvailabilityOverride.tutor_id,
            day=AvailabilityOverride.on_date,
            t1=AvailabilityOverride.start_time,
            t2=AvailabilityOverride.end_time,
            s1=AvailabilityOverride.kind,
            s2=AvailabilityOverride.time_zone,
            n1=AvailabilityOverride.id,
        )
    ).where(
        AvailabilityOverride.tutor_id.in_(ids),
        AvailabilityOverride.on_date >= bindparam("lo_day", type_=Date()),
        AvailabilityOverride.on_date <= bindparam("hi_day", type_=Date()),
    )
    weekly = select(
        *row(
            "weekly",
            AvailabilityRule.tutor_id,
            local=AvailabilityRule.dtstart,
            s1=AvailabilityRule.rrule,
            s2=AvailabilityRule.time_zone,
            n1=AvailabilityRule.duration_minutes,
            n2=AvailabilityRule.id,
        )
    ).where(AvailabilityRule.tutor_id.in_(ids))
    return union_all(rules, booked, busy, off, overrides, weekly)


_CALENDAR_ROWS = _calendar_rows()


async def load_calendars(
    session: AsyncSession,
    zones: Mapping[int, str],
    start: datetime,
    end: datetime,
    *,
    ignore_booking: int | None = None,
) -> dict[int, slots.Calendar]:
    """``load_calendar`` for many tutors (id → their time zone) in one statement, so reading a
    thousand tutors' slots costs about what reading one does, and a hold pays one round trip."""
    ids = sorted(zones)
    if not ids:
        return {}
    pad = timedelta(days=1) + _MOST_BUFFER
    rules = {i: slot_rules(default_rules(i)) for i in ids}
    found: dict[int, dict[str, list[Any]]] = {
        i: {"booked": [], "busy": [], "off": [], "override": [], "weekly": []} for i in ids
    }
    lo, hi = start - pad, end + pad
    rows = await session.execute(
        _CALENDAR_ROWS,
        {
            "ids": ids,
            "lo": lo,
            "hi": hi,
            # Overrides are local dates: two days either side cover every zone's view.
            "lo_day": lo.date() - timedelta(days=2),
            "hi_day": hi.date() + timedelta(days=2),
            "ignore": ignore_booking,
        },
    )
    for kind, tutor_id, a, b, c, local, day, t1, t2, s1, s2, n1, n2, n3, n4, n5, n6 in rows:
        if kind == "rules":
            rules[tutor_id] = slots.Rules(
                buffer_before=n1,
                buffer_after=n2,
                min_notice=n3,
                window_days=n4,
                max_per_day=n5,
                granularity=n6,
            )
        elif kind == "override":
            found[tutor_id][kind].append((day, n1, slots.Override(day, s1, t1, t2, s2)))
        elif kind == "weekly":
            found[tutor_id][kind].append((n2, slots.WeeklyRule(s1, local, s2, n1)))
        else:
            found[tutor_id][kind].append((a, b, c))
    calendars = {}
    for i in ids:
        mine = found[i]
        calendars[i] = slots.Calendar(
            time_zone=zones[i],
            # In the order they were saved (weekly) and by date (overrides), as before.
            weekly=[rule for _, rule in sorted(mine["weekly"], key=lambda r: r[0])],
            overrides=[o for *_, o in sorted(mine["override"], key=lambda r: (r[0], r[1]))],
            time_off=[(s, e) for s, e, _ in mine["off"]],
            booked=[(s, e) for s, e, _ in mine["booked"]],
            busy=[(s, e) for s, e, _ in mine["busy"]],
            lesson_starts=[lesson_start for _, _, lesson_start in mine["booked"]],
            rules=rules[i],
        )
    return calendars
