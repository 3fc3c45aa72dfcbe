"""Reading imported calendars into busy intervals, with every amount of work capped.

An imported file comes from a user, so nothing in it may decide how long we work or how much
memory we use. ``precheck`` is cheap (a scan of the bytes) and runs in the request; ``read_busy``
parses and expands, and runs in a child process started by ``scheduling.ics_isolation`` that also
caps its memory and CPU time. Every cap that trips says which one, and a repeating event that
would produce too many occurrences is named by its SUMMARY and UID, so the tutor can fix it.

Non-recurring events are read directly; only recurring series (RRULE/RDATE with their moved
occurrences) go through ``recurring-ical-events``, one series at a time and lazily, so a rule that
never ends stops at the horizon or at the per-rule cap.
"""

from __future__ import annotations

import re
import time as clock
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    import icalendar


_VEVENT_LINE = re.compile(rb"^BEGIN:VEVENT[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
# Seconds per period of each RRULE frequency (months and years counted short, so the estimate
# of how many periods a rule walks through errs on the high side).
_PERIOD_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400,
    "YEARLY": 365 * 86400,
}
_MAX_REASONS = 20
_CHUNK = timedelta(days=31)


class CalendarUnreadable(ValueError):
    """The data is not an iCalendar file we can read, or reading it would exceed a cap."""


@dataclass(frozen=True)
class ReadLimits:
    """The caps on one import. The defaults are generous for real calendars: a daily event
    for 400 days is 400 occurrences; ten years of a busy person's calendar is a few thousand
    events."""

    max_bytes: int = 5 * 1024 * 1024
    max_events: int = 10_000
    """VEVENT components in one file (the file's past included)."""
    max_per_rule: int = 2_000
    """Occurrences of one repeating event inside the horizon."""
    max_busy: int = 10_000
    """Busy intervals kept from one calendar (the rows stored)."""
    max_rule_periods: int = 200_000
    """Periods (minutes, days, ...) a rule may walk through from its start to the horizon."""
    seconds: float = 20.0
    """Time budget for reading one calendar."""
    memory_bytes: int = 768 * 1024 * 1024
    """Address-space limit of the process that reads it."""


@dataclass
class BusyRead:
    intervals: list[tuple[datetime, datetime]]
    skipped: list[str] = field(default_factory=list)
    """What a tutor should know: events left out and why, an unknown time zone."""

    def summary(self) -> str:
        shown = self.skipped[:_MAX_REASONS]
        more = len(self.skipped) - len(shown)
        return " ".join(shown) + (f" …and {more} more." if more > 0 else "")


def precheck(data: bytes, limits: ReadLimits) -> None:
    """The cheap checks, fit for a request: size, the VCALENDAR wrapper, the event count."""
    if len(data) > limits.max_bytes:
        raise CalendarUnreadable(
            f"The file is larger than {limits.max_bytes // 1_048_576} MB; "
            "export a shorter period of your calendar."
        )
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    if not head.startswith(b"BEGIN:VCALENDAR"):
        raise CalendarUnreadable("This is not an iCalendar (.ics) file.")
    events = len(_VEVENT_LINE.findall(data))
    if events > limits.max_events:
        raise CalendarUnreadable(
            f"The file has {events:,} events; Duet reads at most {limits.max_events:,}. "
            "Export only the coming months of your calendar."
        )


def _label(event: Any) -> str:
    summary = " ".join(str(event.get("SUMMARY", "")).split())[:60] or "untitled"
    uid = str(event.get("UID", ""))[:80] or "no UID"
    return f"“{summary}” (UID {uid})"


def _as_utc(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        # Floating times (no zone) are the tutor's local time.
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)
    return datetime.combine(value, time(), tzinfo=zone).astimezone(UTC)


def _interval(event: Any, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The busy time of one (occurrence of an) event, or None when it does not block time."""
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None  # "show as free"
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    dtstart = event["DTSTART"].dt
    start = _as_utc(dtstart, zone)
    if event.get("DTEND") is not None:
        end = _as_utc(event["DTEND"].dt, zone)
    elif event.get("DURATION") is not None:
        end = start + event["DURATION"].dt
    else:
        end = start + (timedelta(days=1) if not isinstance(dtstart, datetime) else timedelta(0))
    return (start, end) if end > start else None


def _standard(cal: icalendar.Calendar, time_zone: str, skipped: list[str]) -> icalendar.Calendar:
    """Google's X-WR-TIMEZONE made standard; an unknown zone is dropped and reported."""
    import x_wr_timezone

    declared = cal.get("X-WR-TIMEZONE")
    if declared is None:
        return cal
    try:
        ZoneInfo(str(declared).strip())
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        del cal["X-WR-TIMEZONE"]
        skipped.append(
            f"The calendar's time zone “{str(declared)[:60]}” (X-WR-TIMEZONE) is unknown: "
            f"times without a zone were read in yours ({time_zone})."
        )
        return cal
    standard: icalendar.Calendar = x_wr_timezone.to_standard(cal)
    return standard


def _check_rule(master: Any, horizon_end: datetime, zone: ZoneInfo, limits: ReadLimits) -> None:
    """Refuse a rule that would walk through too many periods before the horizon ends: the
    expansion library steps through every period from the rule's start, even unwanted ones."""
    rules = master.get("RRULE")
    for rule in rules if isinstance(rules, list) else [rules] if rules is not None else []:
        freq = str((rule.get("FREQ") or ["DAILY"])[0]).upper()
        interval = max(int((rule.get("INTERVAL") or [1])[0]), 1)
        start = _as_utc(master["DTSTART"].dt, zone)
        until = rule.get("UNTIL")
        last = min(horizon_end, _as_utc(until[0], zone)) if until else horizon_end
        periods = (last - start).total_seconds() / (_PERIOD_SECONDS.get(freq, 1) * interval)
        count = rule.get("COUNT")
        if count and freq in _PERIOD_SECONDS and int(count[0]) < periods and not _has_by(rule):
            periods = int(count[0])
        if periods > limits.max_rule_periods:
            raise CalendarUnreadable(
                f"The repeating event {_label(master)} repeats too often to import "
                f"({freq.lower()}, more than {limits.max_rule_periods:,} repetitions up to "
                f"{horizon_end:%Y-%m-%d}). Give it an end date or a longer interval."
            )


def _has_by(rule: Any) -> bool:
    return any(str(key).upper().startswith("BY") for key in rule)


class _Budget:
    def __init__(self, limits: ReadLimits) -> None:
        self.limits = limits
        self.deadline = clock.monotonic() + limits.seconds
        self.kept = 0

    def tick(self) -> None:
        if clock.monotonic() > self.deadline:
            raise CalendarUnreadable(
                f"Reading the calendar took longer than {self.limits.seconds:g} seconds; "
                "export a shorter period of your calendar."
            )

    def keep(self) -> None:
        self.kept += 1
        if self.kept > self.limits.max_busy:
            raise CalendarUnreadable(
                f"The calendar has more than {self.limits.max_busy:,} busy times in the "
                "coming months; Duet imports at most that many."
            )


def _series(
    uid: str, parts: list[Any], zone: ZoneInfo, start: datetime, end: datetime, budget: _Budget
) -> set[tuple[datetime, datetime]]:
    """Occurrences in [start, end) of one repeating event (its master and moved instances)."""
    import icalendar
    import recurring_ical_events

    master = next((p for p in parts if p.get("RECURRENCE-ID") is None), parts[0])
    _check_rule(master, end, zone, budget.limits)
    cal = icalendar.Calendar()
    for part in parts:
        cal.add_component(part)
    query = recurring_ical_events.of(cal)
    out: set[tuple[datetime, datetime]] = set()
    seen: set[datetime] = set()
    chunk_start = start
    try:
        # A month at a time: the caps are checked between chunks, and a month of even a
        # pathological rule is a bounded list.
        while chunk_start < end:
            chunk_end = min(chunk_start + _CHUNK, end)
            for occurrence in query.between(chunk_start, chunk_end):
                interval = _interval(occurrence, zone)
                seen.add(_as_utc(occurrence["DTSTART"].dt, zone))
                if interval is not None:
                    out.add(interval)
            budget.tick()
            if len(seen) > budget.limits.max_per_rule:
                raise CalendarUnreadable(
                    f"The repeating event {_label(master)} has more than "
                    f"{budget.limits.max_per_rule:,} occurrences in the coming months; Duet "
                    "imports at most that many per repeating event."
                )
            chunk_start = chunk_end
    except CalendarUnreadable:
        raise
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise CalendarUnreadable(
            f"The repetitions of {_label(master)} cannot be read: {exc}"
        ) from None
    return out


def read_busy(
    data: bytes, time_zone: str, start: datetime, end: datetime, limits: ReadLimits
) -> BusyRead:
    """Busy intervals (UTC) in [start, end) of an iCalendar file, and what was left out."""
    import icalendar

    precheck(data, limits)
    budget = _Budget(limits)
    zone = ZoneInfo(time_zone)
    try:
        cal = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise CalendarUnreadable(f"This is not an iCalendar file we can read: {exc}") from None
    if not isinstance(cal, icalendar.Calendar):
        raise CalendarUnreadable("This is not an iCalendar (.ics) file.")
    budget.tick()
    skipped: list[str] = []
    cal = _standard(cal, time_zone, skipped)
    events = [c for c in cal.walk("VEVENT")]
    undated = [e for e in events if e.get("DTSTART") is None]
    skipped += [f"Skipped {_label(e)}: it has no start time (DTSTART)." for e in undated]
    events = [e for e in events if e.get("DTSTART") is not None]
    repeating = {
        str(e.get("UID", "")) for e in events if e.get("RRULE") is not None or e.get("RDATE")
    }
    series: dict[str, list[Any]] = defaultdict(list)
    out: set[tuple[datetime, datetime]] = set()
    for event in events:
        uid = str(event.get("UID", ""))
        if uid in repeating:
            series[uid].append(event)
            continue
        budget.tick()
        try:
            interval = _interval(event, zone)
        except (ValueError, TypeError, AttributeError, OverflowError):
            skipped.append(f"Skipped {_label(event)}: its times cannot be read.")
            continue
        if (
            interval is not None
            and interval[1] > start
            and interval[0] < end
            and interval not in out
        ):
            budget.keep()
            out.add(interval)
    for uid, parts in series.items():
        for interval in _series(uid, parts, zone, start, end, budget):
            if interval not in out:
                budget.keep()
                out.add(interval)
    return BusyRead(sorted(i for i in out if i[1] > start), skipped)
