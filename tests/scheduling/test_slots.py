"""Slot arithmetic, pure: DST in three zones both ways, buffers, notice, caps, overrides, busy."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling import slots
from scheduling.availability import rules_from_windows, validate_windows
from scheduling.slots import Calendar, Override, Rules, WeeklyRule


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def daily(zone: str, start: str = "17:00", end: str = "19:00") -> list[WeeklyRule]:
    windows = validate_windows(
        [(d, start, end) for d in ("MO", "TU", "WE", "TH", "FR", "SA", "SU")]
    )
    return [
        WeeklyRule(r.rrule, r.dtstart, r.time_zone, r.duration_minutes)
        for r in rules_from_windows(1, windows, zone)
    ]


OPEN = Rules(min_notice=0, window_days=365, granularity=60)
LONG_AGO = utc(2026, 1, 1)


def starts(cal: Calendar, day: date, duration: int = 60) -> list[datetime]:
    lo = datetime.combine(day, time(), tzinfo=UTC) - timedelta(hours=14)
    found = slots.open_slots(cal, lo, lo + timedelta(hours=38), duration, LONG_AGO)
    return [s for s, _ in found]


# (zone, last day before the change, first day after, UTC start of a 17:00 lesson before/after)
DST_CASES = [
    ("Europe/Berlin", date(2026, 3, 28), date(2026, 3, 29), 16, 15),  # spring forward
    ("Europe/Berlin", date(2026, 10, 24), date(2026, 10, 25), 15, 16),  # fall back
    ("America/New_York", date(2026, 3, 7), date(2026, 3, 8), 22, 21),
    ("America/New_York", date(2026, 10, 31), date(2026, 11, 1), 21, 22),
    ("Australia/Sydney", date(2026, 4, 4), date(2026, 4, 5), 6, 7),  # AEDT ends
    ("Australia/Sydney", date(2026, 10, 3), date(2026, 10, 4), 7, 6),  # AEDT starts
]


@pytest.mark.parametrize(("zone", "before", "after", "utc_before", "utc_after"), DST_CASES)
def test_local_time_stays_put_across_dst(
    zone: str, before: date, after: date, utc_before: int, utc_after: int
) -> None:
    cal = Calendar(time_zone=zone, weekly=daily(zone), rules=OPEN)
    first_before = [
        s for s in starts(cal, before) if s.astimezone(slots.ZoneInfo(zone)).date() == before
    ]
    first_after = [
        s for s in starts(cal, after) if s.astimezone(slots.ZoneInfo(zone)).date() == after
    ]
    assert [s.hour for s in first_before] == [utc_before, (utc_before + 1) % 24]
    assert [s.hour for s in first_after] == [utc_after, (utc_after + 1) % 24]
    for s in first_before + first_after:
        local = s.astimezone(slots.ZoneInfo(zone))
        assert local.hour in (17, 18) and local.minute == 0


def local_day(found: list[datetime], zone: str, day: date) -> list[datetime]:
    return [s for s in found if s.astimezone(slots.ZoneInfo(zone)).date() == day]


def test_window_across_the_spring_gap_is_two_real_hours() -> None:
    # 01:00-04:00 in Berlin on 29 March 2026: 02:00-03:00 does not exist.
    zone = "Europe/Berlin"
    cal = Calendar(time_zone=zone, weekly=daily(zone, "01:00", "04:00"), rules=OPEN)
    day = local_day(starts(cal, date(2026, 3, 29)), zone, date(2026, 3, 29))
    assert day == [utc(2026, 3, 29, 0), utc(2026, 3, 29, 1)]  # 01:00 CET and 03:00 CEST


def test_window_across_the_autumn_repeat_is_four_real_hours() -> None:
    # 01:00-04:00 in Berlin on 25 October 2026: 02:00-03:00 happens twice.
    zone = "Europe/Berlin"
    cal = Calendar(time_zone=zone, weekly=daily(zone, "01:00", "04:00"), rules=OPEN)
    day = local_day(starts(cal, date(2026, 10, 25)), zone, date(2026, 10, 25))
    assert day == [utc(2026, 10, 24, 23) + timedelta(hours=i) for i in range(4)]


def cal_at(**kw: object) -> Calendar:
    rules = kw.pop("rules", Rules(min_notice=0, window_days=365, granularity=30))
    return Calendar(time_zone="UTC", weekly=daily("UTC", "09:00", "13:00"), rules=rules, **kw)  # type: ignore[arg-type]


DAY = date(2026, 6, 10)


def at(hour: int, minute: int = 0) -> datetime:
    return utc(2026, 6, 10, hour, minute)


def hours(found: list[datetime]) -> list[str]:
    return [f"{s:%H:%M}" for s in found if s.date() == DAY]


def test_plain_window_on_the_grid() -> None:
    assert hours(starts(cal_at(), DAY)) == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
        "12:00",
    ]


def test_buffers_keep_distance_from_bookings() -> None:
    rules = Rules(min_notice=0, window_days=365, granularity=30, buffer_before=15, buffer_after=15)
    # An existing 10:00-11:00 lesson, stored with its buffers: 09:45-11:15.
    cal = cal_at(rules=rules, booked=[(at(9, 45), at(11, 15))], lesson_starts=[at(10)])
    assert hours(starts(cal, DAY)) == ["11:30", "12:00"]
    assert slots.why_not(cal, at(11), 60, LONG_AGO) == (
        "slot_taken",
        "Someone else has just booked this time.",
    )


def test_minimum_notice_and_booking_window() -> None:
    cal = cal_at(rules=Rules(min_notice=90, window_days=365, granularity=30))
    assert hours([s for s, _ in slots.open_slots(cal, at(0), at(23), 60, now=at(9))]) == [
        "10:30",
        "11:00",
        "11:30",
        "12:00",
    ]
    assert slots.why_not(cal, at(10), 60, at(9))[0] == "too_soon"  # type: ignore[index]
    far = Calendar(
        time_zone="UTC",
        weekly=daily("UTC", "09:00", "13:00"),
        rules=Rules(window_days=7, min_notice=0),
    )
    assert slots.why_not(far, at(10) + timedelta(days=8), 60, at(9))[0] == "too_far"  # type: ignore[index]


def test_notice_ending_mid_minute_still_starts_slots_on_the_grid() -> None:
    # "now + notice" falls at 10:25:33 inside a window: the first slot is 10:30, not 10:29.
    cal = cal_at(rules=Rules(min_notice=60, window_days=365, granularity=30))
    now = at(9, 25) + timedelta(seconds=33, microseconds=5)
    found = [s for s, _ in slots.open_slots(cal, at(0), at(23), 60, now=now)]
    assert hours(found) == ["10:30", "11:00", "11:30", "12:00"]
    assert slots.why_not(cal, found[0], 60, now) is None


def test_daily_cap_counts_lessons_per_local_day() -> None:
    rules = Rules(min_notice=0, window_days=365, granularity=60, max_per_day=2)
    cal = cal_at(
        rules=rules, booked=[(at(9), at(10)), (at(11), at(12))], lesson_starts=[at(9), at(11)]
    )
    assert hours(starts(cal, DAY)) == []
    assert slots.why_not(cal, at(10), 60, LONG_AGO)[0] == "daily_cap"  # type: ignore[index]
    next_day = [
        s for s in starts(cal, DAY + timedelta(days=1)) if s.date() == DAY + timedelta(days=1)
    ]
    assert len(next_day) == 4


def test_overrides_day_off_hours_off_and_extra_hours() -> None:
    day_off = cal_at(overrides=[Override(DAY, "unavailable", None, None, "UTC")])
    assert hours(starts(day_off, DAY)) == []
    hours_off = cal_at(overrides=[Override(DAY, "unavailable", time(10), time(12), "UTC")])
    assert hours(starts(hours_off, DAY)) == ["09:00", "12:00"]
    extra = cal_at(overrides=[Override(DAY, "available", time(18), time(20), "UTC")])
    assert hours(starts(extra, DAY))[-4:] == ["12:00", "18:00", "18:30", "19:00"]


def test_time_off_and_imported_busy_times() -> None:
    off = cal_at(time_off=[(at(0), at(11))])
    assert hours(starts(off, DAY)) == ["11:00", "11:30", "12:00"]
    busy = cal_at(busy=[(at(10, 15), at(10, 45))])
    assert hours(starts(busy, DAY)) == ["09:00", "11:00", "11:30", "12:00"]
    assert slots.why_not(busy, at(10), 60, LONG_AGO)[0] == "busy"  # type: ignore[index]


def test_slots_start_on_the_local_grid() -> None:
    cal = Calendar(
        time_zone="UTC",
        weekly=daily("UTC", "09:10", "11:00"),
        rules=Rules(min_notice=0, granularity=30, window_days=365),
    )
    assert hours(starts(cal, DAY)) == ["09:30", "10:00"]
    assert slots.why_not(cal, at(9, 10), 60, LONG_AGO)[0] == "off_grid"  # type: ignore[index]
    assert slots.why_not(cal, at(14), 60, LONG_AGO)[0] == "outside_availability"  # type: ignore[index]


def test_slots_stay_on_the_grid_when_the_notice_ends_inside_a_window() -> None:
    # "now + notice" has seconds and falls inside the window: the first slot is the next grid
    # point (09:30), not the grid offset added to the clipped start (09:29), which a hold of
    # the offered time would then refuse as off the grid.
    cal = Calendar(
        time_zone="UTC",
        weekly=daily("UTC", "09:00", "12:00"),
        rules=Rules(min_notice=60, granularity=30, window_days=365),
    )
    now = at(8, 25) + timedelta(seconds=13)
    found = slots.open_slots(cal, at(0), at(23), 60, now)
    assert [s.strftime("%H:%M") for s, _ in found] == ["09:30", "10:00", "10:30", "11:00"]
    assert slots.why_not(cal, found[0][0], 60, now) is None


def test_overlapping_windows_are_refused_with_the_day_named() -> None:
    from marketplace.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as info:
        validate_windows(
            [("MO", "09:00", "12:00"), ("MO", "11:00", "13:00"), ("TU", "11:00", "13:00")]
        )
    assert "On MO" in info.value.fields["windows"]


def test_interval_arithmetic() -> None:
    a = [(at(9), at(12))]
    assert slots.subtract(a, [(at(10), at(11))]) == [(at(9), at(10)), (at(11), at(12))]
    assert slots.merge([(at(9), at(10)), (at(10), at(11)), (at(12), at(13))]) == [
        (at(9), at(11)),
        (at(12), at(13)),
    ]


@pytest.mark.parametrize("second", [0, 1, 52])
def test_notice_ending_mid_window_still_starts_on_the_grid(second: int) -> None:
    # "now + notice" at 17:30:xx Berlin: the first slot is 18:00 (or 17:30 exactly), never 17:59.
    cal = Calendar(
        time_zone="Europe/Berlin",
        weekly=daily("Europe/Berlin", "17:00", "20:00"),
        rules=Rules(min_notice=60, window_days=30, granularity=30),
    )
    now = utc(2026, 12, 2, 15, 30, second)
    first = slots.open_slots(cal, now, now + timedelta(hours=6), 60, now)[0][0]
    assert first == (utc(2026, 12, 2, 16, 30) if second == 0 else utc(2026, 12, 2, 17, 0))
    assert slots.why_not(cal, first, 60, now) is None


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYDAY=MO,WE,SA",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=FR;UNTIL=20290301T000000",
        "FREQ=DAILY;INTERVAL=5",
        "FREQ=WEEKLY;COUNT=200;BYDAY=TH",
        "FREQ=MONTHLY;BYMONTHDAY=15",
    ],
)
def test_an_old_anchor_expands_to_the_same_times(rule: str) -> None:
    """Expansion moves an old DTSTART forward for speed; the occurrences must not change,
    whatever the window (across DST changes included)."""
    from dateutil.rrule import rrulestr

    anchor = datetime(2022, 3, 14, 17, 30)  # naive local: a Monday, years ago
    weekly = WeeklyRule(rule, anchor, "Europe/Berlin", 90)
    zone = ZoneInfo("Europe/Berlin")
    for offset_days in (0, 3, 200, 390, 1000, 1500, 2111):
        start = datetime(2022, 3, 14, tzinfo=UTC) + timedelta(days=offset_days)
        end = start + timedelta(weeks=9)
        got = slots.expand_rule(weekly, start, end)
        lo = start.astimezone(zone).replace(tzinfo=None) - timedelta(days=2)
        hi = end.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
        expected = [
            (slots.local_to_utc(o, zone), slots.local_to_utc(o + timedelta(minutes=90), zone))
            for o in rrulestr(rule, dtstart=anchor).between(lo, hi, inc=True)
        ]
        expected = [(s, e) for s, e in expected if e > start and s < end]
        assert got == expected, (rule, offset_days)
