"""Availability buckets: "weekday evenings" and the like, in the *viewer's* time zone.

A tutor's document carries the half-hours in which one of their open slots starts during the
next ``WINDOW_DAYS`` (14) days, each numbered by its place in a fixed fortnight: half-hours
since Monday 1 January 2024 00:00 UTC, modulo 14 × 48 = 672. Within any 14 days every
half-hour has its own number, so a number stands for one real moment of the window. A search
maps each bucket and the viewer's zone to the numbers of the half-hours it covers over the
same 14 days, reading each local date with the offset the zone really has that day, and a
tutor is in the bucket when the two sets meet. Indexing stays independent of who searches,
and the answer is exact across daylight-saving changes (a Berlin 18:00 lesson is an evening
in Berlin in the week before the change and in the week after) and in any zone whose offset
is a whole or half hour (all but Nepal, the Chatham Islands and Eucla, where a bucket's edges
are 15 minutes off).

The sets travel as ``WORDS`` integers of ``WORD_BITS`` bits (twelve words of 56 bits: a
bigint each, never the sign bit), so PostgreSQL tests a row with a few integer ANDs.

Most of the year a viewer's zone keeps one offset for the whole fortnight. For those searches
the document also carries its buckets precomputed for every offset from UTC−12:00 to UTC+14:00
in half hours (``offset_words``: six bits per offset, nine offsets per word), so reading a
row's buckets is one shift and one AND. Zones that change offset within the fortnight, or sit
on a quarter hour, use the half-hour sets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

WINDOW_DAYS = 14
HALF_HOURS = WINDOW_DAYS * 48
WORD_BITS = 56
WORDS = HALF_HOURS // WORD_BITS
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday: numbers follow the days of the week
_HALF_HOUR = timedelta(minutes=30)
# Precomputed buckets: UTC offsets in half hours, six bits each, nine to a 56-bit word.
OFFSETS = tuple(range(-24, 29))
PER_WORD = 9
OFFSET_WORDS = -(-len(OFFSETS) // PER_WORD)
ALL_BUCKETS_MASK = 0b111111


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


def half_hour_number(instant: datetime) -> int:
    """The number (0 to ``HALF_HOURS`` - 1) of the half-hour ``instant`` falls in."""
    return (instant - EPOCH) // _HALF_HOUR % HALF_HOURS


def free_half_hours(starts: Iterable[datetime]) -> tuple[int, ...]:
    """The sorted numbers of the half-hours in which these slot starts fall (starts within
    one ``WINDOW_DAYS`` window, so no two real half-hours share a number)."""
    return tuple(sorted({half_hour_number(s) for s in starts}))


def to_words(half_hours: Iterable[int]) -> tuple[int, ...]:
    """A set of half-hours as ``WORDS`` integers (bit ``h % 56`` of word ``h // 56``)."""
    words = [0] * WORDS
    for h in half_hours:
        words[h // WORD_BITS] |= 1 << (h % WORD_BITS)
    return tuple(words)


@lru_cache(maxsize=1)
def _local_buckets() -> tuple[tuple[int, ...], ...]:
    """For each offset and half-hour number, the bucket bit (or 0) that half-hour starts in,
    read at that constant offset."""
    table = []
    for offset in OFFSETS:
        row = []
        for n in range(HALF_HOURS):
            local = EPOCH + (n + offset) * _HALF_HOUR
            bit = 0
            for i, b in enumerate(BUCKETS):
                if (local.weekday() >= 5) == b.weekend and b.start_hour <= local.hour < b.end_hour:
                    bit = 1 << i
            row.append(bit)
        table.append(tuple(row))
    return tuple(table)


def offset_words(half_hours: Iterable[int]) -> tuple[int, ...]:
    """The buckets of a set of half-hours at every offset of ``OFFSETS`` (bits ``6k..6k+5`` of
    the words, offset index ``k``), as ``OFFSET_WORDS`` integers."""
    table = _local_buckets()
    numbers = list(half_hours)
    words = [0] * OFFSET_WORDS
    for k in range(len(OFFSETS)):
        bits = 0
        for n in numbers:
            bits |= table[k][n]
        words[k // PER_WORD] |= bits << (6 * (k % PER_WORD))
    return tuple(words)


def constant_offset(time_zone: str, day: datetime) -> int | None:
    """The index in ``OFFSETS`` of the zone's offset when it keeps one offset, on the
    half-hour, for the whole fortnight from ``day``; otherwise None."""
    zone = ZoneInfo(time_zone)
    seen = {(day + timedelta(days=d)).astimezone(zone).utcoffset() for d in range(WINDOW_DAYS + 1)}
    if len(seen) != 1:
        return None
    (offset,) = seen
    assert offset is not None
    halves, rest = divmod(offset, _HALF_HOUR)
    if rest or halves not in OFFSETS:
        return None
    return OFFSETS.index(halves)


@lru_cache(maxsize=1024)
def bucket_half_hours(slug: str, time_zone: str, day: datetime) -> frozenset[int]:
    """Numbers of the half-hours in which bucket ``slug`` falls for a viewer in ``time_zone``,
    over the ``WINDOW_DAYS`` days from ``day`` (midnight UTC; see ``window_day``).

    Each local date is read with the offset the zone really has on that date.
    """
    bucket = BY_SLUG[slug]
    zone = ZoneInfo(time_zone)
    window_end = day + timedelta(days=WINDOW_DAYS)
    first = day.astimezone(zone).date()
    last = window_end.astimezone(zone).date()
    out: set[int] = set()
    local = first
    while local <= last:
        if (local.weekday() >= 5) == bucket.weekend:
            start = datetime(local.year, local.month, local.day, bucket.start_hour, tzinfo=zone)
            end = datetime(local.year, local.month, local.day, bucket.end_hour, tzinfo=zone)
            # Clipped to the window, so each number stands for one moment.
            lo = max(start.astimezone(UTC), day)
            hi = min(end.astimezone(UTC), window_end)
            out.update(_half_hours_between(lo, hi))
        local += timedelta(days=1)
    return frozenset(out)


def _half_hours_between(start: datetime, end: datetime) -> Iterable[int]:
    """Numbers of the half-hours whose start lies in [start, end)."""
    t = start.replace(minute=0, second=0, microsecond=0)
    while t < start:
        t += _HALF_HOUR
    while t < end:
        yield half_hour_number(t)
        t += _HALF_HOUR


def window_day(now: datetime) -> datetime:
    """Midnight UTC of ``now``'s date: bucket hours are computed per day, so they cache."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class BucketHours:
    """What a search needs about the viewer's buckets: each bucket's half-hours and words, and
    the offset index when the zone keeps one offset all fortnight (see ``offset_words``)."""

    half_hours: dict[str, frozenset[int]]
    offset_index: int | None = None

    def mask(self, slugs: Iterable[str]) -> int:
        """The bucket bits of ``slugs`` (bit ``i``: ``BUCKETS[i]``)."""
        chosen = set(slugs)
        return sum(1 << i for i, b in enumerate(BUCKETS) if b.slug in chosen)

    def words(self, slugs: Iterable[str]) -> tuple[int, ...]:
        return to_words(h for slug in slugs for h in self.half_hours[slug])

    def union(self, slugs: Iterable[str]) -> tuple[int, ...]:
        return tuple(sorted({h for slug in slugs for h in self.half_hours[slug]}))


@lru_cache(maxsize=1024)
def _bucket_hours(time_zone: str, day: datetime) -> BucketHours:
    return BucketHours(
        {b.slug: bucket_half_hours(b.slug, time_zone, day) for b in BUCKETS},
        constant_offset(time_zone, day),
    )


def bucket_hours(time_zone: str, now: datetime) -> BucketHours:
    return _bucket_hours(time_zone, window_day(now))
