"""Open slots: pure functions over a tutor's availability, in UTC, DST-correct.

Weekly windows are expanded from their RRULE in the tutor's *local* time and only then turned
into UTC instants, so a 17:00 window stays at 17:00 local across daylight-saving changes (an
hour later or earlier in UTC). Everything after that is interval arithmetic in UTC:

    open = (weekly windows ∪ extra hours) − hours off − time off
    slot = a start on the tutor's local grid whose lesson fits in an open window, and whose
           lesson plus buffers touches no live booking (with its buffers) and no busy time,
           after the minimum notice, inside the booking window, under the daily cap.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from marketplace.wording import notice_words, plural

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class WeeklyRule:
    rrule: str  # e.g. "FREQ=WEEKLY;BYDAY=MO,WE"
    dtstart: datetime  # naive, local to ``time_zone``
    time_zone: str
    duration_minutes: int


@dataclass(frozen=True)
class Override:
    on_date: date
    kind: str  # "available" | "unavailable"
    start: time | None
    end: time | None
    time_zone: str


@dataclass(frozen=True)
class Rules:
    buffer_before: int = 0
    buffer_after: int = 0
    min_notice: int = 720
    window_days: int = 60
    max_per_day: int | None = None
    granularity: int = 30


@dataclass
class Calendar:
    """Everything slot computation needs about one tutor; UTC-aware datetimes throughout."""

    time_zone: str
    weekly: Sequence[WeeklyRule] = ()
    overrides: Sequence[Override] = ()
    time_off: Sequence[Interval] = ()
    booked: Sequence[Interval] = ()  # live bookings, already widened by their buffers
    busy: Sequence[Interval] = ()  # imported busy times
    lesson_starts: Sequence[datetime] = ()  # live bookings' starts, for the daily cap
    rules: Rules = field(default_factory=Rules)


@lru_cache(maxsize=4096)
def _parsed(text: str, dtstart: datetime) -> rrule:
    parsed = rrulestr(text, dtstart=dtstart)
    assert isinstance(parsed, rrule)
    return parsed


_ANCHOR_STEP_PERIODS = 8
_INTERVAL = re.compile(r"INTERVAL=(\d+)")


def _anchor_near(text: str, dtstart: datetime, lo: datetime) -> datetime:
    """A later DTSTART giving the same occurrences from ``lo`` on.

    dateutil walks every occurrence from DTSTART, so a rule anchored years ago costs a walk
    through years of weeks on every expansion. Moving the anchor forward by whole multiples of
    the rule's period keeps its weekday, wall-clock time and phase (INTERVAL=2 stays on the same
    weeks). Steps of eight periods keep the parsed rules cacheable. A COUNT counts from the
    original anchor, so such rules keep it; only weekly and daily rules are moved.
    """
    upper = text.upper()
    if "COUNT=" in upper or lo <= dtstart:
        return dtstart
    if "FREQ=WEEKLY" in upper:
        period = timedelta(weeks=1)
    elif "FREQ=DAILY" in upper:
        period = timedelta(days=1)
    else:
        return dtstart
    interval = _INTERVAL.search(upper)
    step = period * (int(interval.group(1)) if interval else 1) * _ANCHOR_STEP_PERIODS
    return dtstart + step * ((lo - dtstart) // step)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def subtract(windows: Sequence[Interval], removals: Sequence[Interval]) -> list[Interval]:
    """``windows`` minus ``removals``; both merged and sorted."""
    out: list[Interval] = []
    j = 0
    for start, end in windows:
        cur = start
        while j < len(removals) and removals[j][1] <= cur:
            j += 1
        k = j
        while k < len(removals) and removals[k][0] < end:
            r_start, r_end = removals[k]
            if r_start > cur:
                out.append((cur, r_start))
            cur = max(cur, r_end)
            k += 1
        if cur < end:
            out.append((cur, end))
    return out


def local_to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time → UTC. A time skipped by DST maps forward (02:30 → 03:30)."""
    return naive.replace(tzinfo=zone).astimezone(UTC)


def expand_rule(rule: WeeklyRule, start: datetime, end: datetime) -> list[Interval]:
    """Occurrences of ``rule`` overlapping [start, end), as UTC intervals."""
    zone = ZoneInfo(rule.time_zone)
    span = timedelta(minutes=rule.duration_minutes)
    lo = start.astimezone(zone).replace(tzinfo=None) - span - timedelta(days=1)
    hi = end.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    out = []
    anchor = _anchor_near(rule.rrule, rule.dtstart, lo)
    for occurrence in _parsed(rule.rrule, anchor).between(lo, hi, inc=True):
        s = local_to_utc(occurrence, zone)
        e = local_to_utc(occurrence + span, zone)  # wall-clock length: 01:00-04:00 stays so
        if e > start and s < end:
            out.append((s, e))
    return out


def _override_interval(item: Override) -> Interval:
    zone = ZoneInfo(item.time_zone)
    if item.start is None or item.end is None:
        day = datetime.combine(item.on_date, time())
        return local_to_utc(day, zone), local_to_utc(day + timedelta(days=1), zone)
    return (
        local_to_utc(datetime.combine(item.on_date, item.start), zone),
        local_to_utc(datetime.combine(item.on_date, item.end), zone),
    )


def open_windows(cal: Calendar, start: datetime, end: datetime) -> list[Interval]:
    """Times the tutor offers in [start, end), before bookings and busy times."""
    added: list[Interval] = []
    for rule in cal.weekly:
        added.extend(expand_rule(rule, start, end))
    removed: list[Interval] = list(cal.time_off)
    for item in cal.overrides:
        interval = _override_interval(item)
        (added if item.kind == "available" else removed).append(interval)
    windows = subtract(merge(added), merge(removed))
    return [(max(s, start), min(e, end)) for s, e in windows if e > start and s < end]


class _Busy:
    """Sorted, merged intervals with an O(log n) overlap test."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        merged = merge(intervals)
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        i = bisect_left(self.starts, end) - 1
        return i >= 0 and self.ends[i] > start


def _day_counts(cal: Calendar, zone: ZoneInfo) -> Counter[date]:
    return Counter(s.astimezone(zone).date() for s in cal.lesson_starts)


def open_slots(
    cal: Calendar, start: datetime, end: datetime, duration_minutes: int, now: datetime
) -> list[Interval]:
    """Slots of ``duration_minutes`` starting in [start, end)."""
    rules = cal.rules
    zone = ZoneInfo(cal.time_zone)
    earliest = max(start, now + timedelta(minutes=rules.min_notice))
    latest = min(end, now + timedelta(days=rules.window_days))
    if earliest >= latest:
        return []
    length = timedelta(minutes=duration_minutes)
    step = timedelta(minutes=rules.granularity)
    before = timedelta(minutes=rules.buffer_before)
    after = timedelta(minutes=rules.buffer_after)
    busy = _Busy([*cal.booked, *cal.busy])
    per_day = _day_counts(cal, zone) if rules.max_per_day else Counter()
    out: list[Interval] = []
    for w_start, w_end in open_windows(cal, earliest, latest + length):
        # Round up to a whole minute first, then to the tutor's local grid: a window clipped
        # at "now + notice" starts at an arbitrary second.
        base = w_start.replace(second=0, microsecond=0)
        if base < w_start:
            base += timedelta(minutes=1)
        local = base.astimezone(zone)
        slot = base + timedelta(minutes=-(local.hour * 60 + local.minute) % rules.granularity)
        while slot + length <= w_end:
            if slot >= latest:
                break
            free = slot >= earliest and not busy.overlaps(slot - before, slot + length + after)
            if free and (
                not rules.max_per_day or per_day[slot.astimezone(zone).date()] < rules.max_per_day
            ):
                out.append((slot, slot + length))
            slot += step
    return out


def why_not(
    cal: Calendar, starts_at: datetime, duration_minutes: int, now: datetime
) -> tuple[str, str] | None:
    """None when the slot is offered; otherwise (code, reason)."""
    if open_slots(cal, starts_at, starts_at + timedelta(seconds=1), duration_minutes, now):
        return None
    rules = cal.rules
    length = timedelta(minutes=duration_minutes)
    if starts_at <= now:
        return "in_the_past", "That time has already passed."
    if starts_at < now + timedelta(minutes=rules.min_notice):
        return "too_soon", f"This tutor needs at least {notice_words(rules.min_notice)}."
    if starts_at > now + timedelta(days=rules.window_days):
        return (
            "too_far",
            f"This tutor takes bookings up to {plural(rules.window_days, 'day')} ahead.",
        )
    inside = any(
        s <= starts_at and starts_at + length <= e
        for s, e in open_windows(cal, starts_at - timedelta(days=1), starts_at + length)
    )
    if not inside:
        return "outside_availability", "The tutor is not available at this time."
    before = timedelta(minutes=rules.buffer_before)
    after = timedelta(minutes=rules.buffer_after)
    if _Busy(cal.booked).overlaps(starts_at - before, starts_at + length + after):
        return "slot_taken", "Someone else has just booked this time."
    if _Busy(cal.busy).overlaps(starts_at - before, starts_at + length + after):
        return "busy", "The tutor is busy at this time."
    zone = ZoneInfo(cal.time_zone)
    if rules.max_per_day and (
        _day_counts(cal, zone)[starts_at.astimezone(zone).date()] >= rules.max_per_day
    ):
        return "daily_cap", "The tutor's day is fully booked."
    return "off_grid", f"Lessons start on a {rules.granularity}-minute grid."
