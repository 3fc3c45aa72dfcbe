"""Availability buckets: "weekday evenings" and the like, in the *viewer's* time zone.

A tutor's document carries the half-hours of the week, in UTC, in which one of their open
slots starts during the next ``WINDOW_DAYS`` days (0 = Monday 00:00–00:30 UTC … 335 = Sunday
23:30–24:00 UTC). A search maps each bucket and the viewer's zone to the UTC half-hours it
covers over the same days, with that zone's real offsets on each date (so across a DST change
both offsets count), and a tutor is in the bucket when the two sets meet. Indexing stays
independent of who searches, and the answer is right in any zone whose offset is a whole or
half hour (all but Nepal, the Chatham Islands and Eucla, where a bucket's edges are 15
minutes off).

The sets travel as ``WORDS`` integers of ``WORD_BITS`` bits (six words of 56 bits: a bigint
each, never the sign bit), so PostgreSQL tests a row with a few integer ANDs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

WINDOW_DAYS = 14
HALF_HOURS = 7 * 48
WORD_BITS = 56
WORDS = HALF_HOURS // WORD_BITS


@dataclass(frozen=True)
class Bucket:
    slug: str
    label: str
    weekend: bool
    start_hour: int  # local, inclusive
    end_hour: int  # local, exclusive


BUCKETS: tuple[Bucket, ...] = (
    Bucket("weekday_morning", "Weekday mornings (6–12)", False, 6, 12),
    Bucket("weekday_afternoon", "Weekday afternoons (12–18)", False, 12, 18),
    Bucket("weekday_evening", "Weekday evenings (18–22)", False, 18, 22),
    Bucket("weekend_morning", "Weekend mornings (6–12)", True, 6, 12),
    Bucket("weekend_afternoon", "Weekend afternoons (12–18)", True, 12, 18),
    Bucket("weekend_evening", "Weekend evenings (18–22)", True, 18, 22),
)
BY_SLUG = {b.slug: b for b in BUCKETS}


def half_hour_of_week(instant: datetime) -> int:
    """The UTC half-hour of the week that ``instant`` falls in."""
    t = instant.astimezone(UTC)
    return t.weekday() * 48 + t.hour * 2 + t.minute // 30


def free_half_hours(starts: Iterable[datetime]) -> tuple[int, ...]:
    """The sorted half-hours of the week in which these slot starts fall."""
    return tuple(sorted({half_hour_of_week(s) for s in starts}))


def to_words(half_hours: Iterable[int]) -> tuple[int, ...]:
    """A set of half-hours as ``WORDS`` integers (bit ``h % 56`` of word ``h // 56``)."""
    words = [0] * WORDS
    for h in half_hours:
        words[h // WORD_BITS] |= 1 << (h % WORD_BITS)
    return tuple(words)


@lru_cache(maxsize=1024)
def bucket_half_hours(slug: str, time_zone: str, day: datetime) -> frozenset[int]:
    """UTC half-hours of the week in which bucket ``slug`` falls for a viewer in ``time_zone``,
    over the ``WINDOW_DAYS`` days from ``day`` (midnight UTC; see ``window_day``).

    Each local date is read with the offset the zone really has on that date, so during the
    fortnight around a DST change the bucket covers both its summer and its winter hours.
    """
    bucket = BY_SLUG[slug]
    zone = ZoneInfo(time_zone)
    first = day.astimezone(zone).date()
    last = (day + timedelta(days=WINDOW_DAYS)).astimezone(zone).date()
    out: set[int] = set()
    local = first
    while local <= last:
        if (local.weekday() >= 5) == bucket.weekend:
            start = datetime(local.year, local.month, local.day, bucket.start_hour, tzinfo=zone)
            end = datetime(local.year, local.month, local.day, bucket.end_hour, tzinfo=zone)
            out.update(_half_hours_between(start.astimezone(UTC), end.astimezone(UTC)))
        local += timedelta(days=1)
    return frozenset(out)


def _half_hours_between(start: datetime, end: datetime) -> Iterable[int]:
    """Half-hours of the week whose start lies in [start, end)."""
    t = start.replace(minute=0, second=0, microsecond=0)
    while t < start:
        t += timedelta(minutes=30)
    while t < end:
        yield half_hour_of_week(t)
        t += timedelta(minutes=30)


def window_day(now: datetime) -> datetime:
    """Midnight UTC of ``now``'s date: bucket hours are computed per day, so they cache."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class BucketHours:
    """What a search needs about the viewer's buckets: each bucket's half-hours and words."""

    half_hours: dict[str, frozenset[int]]

    def words(self, slugs: Iterable[str]) -> tuple[int, ...]:
        return to_words(h for slug in slugs for h in self.half_hours[slug])

    def union(self, slugs: Iterable[str]) -> tuple[int, ...]:
        return tuple(sorted({h for slug in slugs for h in self.half_hours[slug]}))


def bucket_hours(time_zone: str, now: datetime) -> BucketHours:
    day = window_day(now)
    return BucketHours({b.slug: bucket_half_hours(b.slug, time_zone, day) for b in BUCKETS})
