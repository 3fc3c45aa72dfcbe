"""Availability buckets across zones and daylight-saving changes, from slots to SQL."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace import db
from marketplace.profiles.models import TutorProfile
from scheduling import slots
from search import buckets
from search.availability import summarise
from search.documents import build_document
from search.postgres_backend import PostgresBackend
from search.query import build_query
from tests.search.factories import CAST, MEDIA_URL, add_tutors

WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"


def calendar(zone: str, start: tuple[int, int], minutes: int) -> slots.Calendar:
    """Weekday hours from ``start`` (local to ``zone``) for ``minutes``; no notice."""
    rule = slots.WeeklyRule(WEEKDAYS, datetime(2024, 1, 1, *start), zone, minutes)
    return slots.Calendar(time_zone=zone, weekly=[rule], rules=slots.Rules(min_notice=0))


def in_bucket(free: tuple[int, ...], slug: str, zone: str, now: datetime) -> bool:
    return bool(set(free) & buckets.bucket_hours(zone, now).half_hours[slug])


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 7, 6, 12, tzinfo=UTC),  # summer time
        datetime(2026, 12, 7, 12, tzinfo=UTC),  # winter time
        datetime(2026, 10, 19, 12, tzinfo=UTC),  # Berlin falls back on Sunday 25 October
        datetime(2026, 3, 23, 12, tzinfo=UTC),  # Berlin springs forward on Sunday 29 March
    ],
)
def test_berlin_evenings_are_evenings_in_berlin_and_night_in_tokyo(now: datetime) -> None:
    free = summarise(calendar("Europe/Berlin", (18, 0), 180), 60, now).free_half_hours
    assert in_bucket(free, "weekday_evening", "Europe/Berlin", now)
    for slug in ("weekday_morning", "weekday_afternoon", "weekend_evening"):
        assert not in_bucket(free, slug, "Europe/Berlin", now), slug
    for bucket in buckets.BUCKETS:  # 01:00-05:00 in Tokyo: in no bucket at all
        assert not in_bucket(free, bucket.slug, "Asia/Tokyo", now), bucket.slug


def number(moment: datetime) -> int:
    """The half-hour's number: half-hours since Monday 1 January 2024 UTC, modulo 672."""
    return int((moment - datetime(2024, 1, 1, tzinfo=UTC)).total_seconds() // 1800) % 672


def test_across_a_dst_change_the_slots_keep_their_local_hours() -> None:
    # Monday evening, after that day's lessons; the fortnight holds the 25 October change.
    now = datetime(2026, 10, 19, 20, tzinfo=UTC)
    free = set(summarise(calendar("Europe/Berlin", (18, 0), 180), 60, now).free_half_hours)
    utc = lambda day, hour: number(datetime(2026, 10, day, hour, tzinfo=UTC))  # noqa: E731
    # Lessons start 18:00-20:00 in Berlin: 16:00-18:00 UTC in summer time (Tuesday the 20th)
    # and 17:00-19:00 UTC in winter time (Tuesday the 27th).
    assert {utc(20, 16), utc(20, 18), utc(27, 17), utc(27, 19)} <= free
    assert utc(20, 19) not in free and utc(27, 16) not in free
    assert utc(19, 16) not in free  # Monday the 19th is over
    assert utc(26, 17) in free and utc(26, 16) not in free  # the next Monday is winter time


@pytest.mark.parametrize(
    ("now", "bucket"),
    [
        # Berlin 23:00 is 22:00 UTC in winter: 17:00 in New York (EST), an afternoon...
        (datetime(2026, 2, 2, 12, tzinfo=UTC), "weekday_afternoon"),
        # ...but between the American (8 March) and the European (29 March) change it is
        # 18:00 EDT, an evening. A fixed offset between the two zones would get this wrong.
        (datetime(2026, 3, 10, 12, tzinfo=UTC), "weekday_evening"),
        (datetime(2026, 7, 6, 12, tzinfo=UTC), "weekday_afternoon"),
    ],
)
def test_zones_that_change_on_different_dates(now: datetime, bucket: str) -> None:
    free = summarise(calendar("Europe/Berlin", (23, 0), 60), 60, now).free_half_hours
    others = {"weekday_afternoon", "weekday_evening"} - {bucket}
    assert in_bucket(free, bucket, "America/New_York", now)
    assert not any(in_bucket(free, other, "America/New_York", now) for other in others)


def test_half_hour_zones_are_exact() -> None:
    # 12:30 UTC is 18:00 in India: an evening there; 12:00 UTC (17:30) is an afternoon.
    now = datetime(2026, 7, 6, 0, tzinfo=UTC)
    evening = buckets.free_half_hours([datetime(2026, 7, 7, 12, 30, tzinfo=UTC)])
    afternoon = buckets.free_half_hours([datetime(2026, 7, 7, 12, 0, tzinfo=UTC)])
    assert in_bucket(evening, "weekday_evening", "Asia/Kolkata", now)
    assert not in_bucket(evening, "weekday_afternoon", "Asia/Kolkata", now)
    assert in_bucket(afternoon, "weekday_afternoon", "Asia/Kolkata", now)
    assert not in_bucket(afternoon, "weekday_evening", "Asia/Kolkata", now)


def test_words_hold_every_half_hour_of_the_week_without_the_sign_bit() -> None:
    every = buckets.to_words(range(buckets.HALF_HOURS))
    assert len(every) == buckets.WORDS and all(w == (1 << buckets.WORD_BITS) - 1 for w in every)
    assert max(every) < 2**63
    assert buckets.to_words([0, 55, 56, 671]) == (1 | 1 << 55, 1, *[0] * 9, 1 << 55)


async def test_postgres_reads_the_buckets_in_the_viewers_zone_on_the_searched_day(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """The Berlin 23:00 tutor, indexed on two dates, through the SQL of the PostgreSQL
    backend with its clock set to each date."""
    ids = await add_tutors(sessions, CAST[:1])
    engine = db.create_engine(database_url, pool_size=2)
    try:
        async with sessions() as session:
            profile = await session.get(TutorProfile, ids[CAST[0].name])
            assert profile is not None
            document = build_document(profile, MEDIA_URL)
        for now, bucket, other in [
            (datetime(2026, 2, 2, 12, tzinfo=UTC), "weekday_afternoon", "weekday_evening"),
            (datetime(2026, 3, 10, 12, tzinfo=UTC), "weekday_evening", "weekday_afternoon"),
        ]:
            free = summarise(calendar("Europe/Berlin", (23, 0), 60), 60, now)
            backend = PostgresBackend(engine, now=lambda now=now: now)
            await backend.upsert([replace(document, free_half_hours=free.free_half_hours)])
            new_york = {"tz": "America/New_York", "per_page": 5}
            found = await backend.search(build_query(availability=[bucket], **new_york))
            assert found.total == 1, (now, bucket)
            assert (await backend.search(build_query(availability=[other], **new_york))).total == 0
            counts = (await backend.search(build_query(**new_york))).facets["availability"]
            assert counts[bucket] == 1 and counts[other] == 0
            # The same document for a Berlin viewer: a late evening (22:00 ends the bucket).
            berlin = await backend.search(build_query(tz="Europe/Berlin"))
            assert set(berlin.facets["availability"].values()) == {0}
    finally:
        await engine.dispose()


async def test_cached_bucket_counts_follow_every_write(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """Counts over the whole index are cached per zone and day, and trusted only while the
    index generation is unchanged."""
    ids = await add_tutors(sessions, CAST[:2])
    engine = db.create_engine(database_url, pool_size=2)
    now = datetime(2026, 7, 6, 12, tzinfo=UTC)
    try:
        backend = PostgresBackend(engine, now=lambda: now)
        async with sessions() as session:
            docs = []
            for tutor in CAST[:2]:
                profile = await session.get(TutorProfile, ids[tutor.name])
                assert profile is not None
                docs.append(build_document(profile, MEDIA_URL))
        evenings = summarise(calendar("Europe/Berlin", (18, 0), 180), 60, now).free_half_hours
        await backend.upsert([replace(docs[0], free_half_hours=evenings), docs[1]])
        query = build_query(tz="Europe/Berlin")
        assert (await backend.search(query)).facets["availability"]["weekday_evening"] == 1
        assert (await backend.search(query)).facets["availability"]["weekday_evening"] == 1
        await backend.upsert([replace(docs[1], free_half_hours=evenings)])
        assert (await backend.search(query)).facets["availability"]["weekday_evening"] == 2
        # Another zone is counted on its own: Berlin evenings are New York afternoons.
        new_york = (await backend.search(build_query(tz="America/New_York"))).facets
        assert new_york["availability"]["weekday_afternoon"] == 2
        assert new_york["availability"]["weekday_evening"] == 0
        chosen = await backend.search(
            build_query(tz="Europe/Berlin", availability=["weekday_evening"])
        )
        assert chosen.total == 2 and chosen.facets["availability"]["weekday_evening"] == 2
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Europe/Berlin", datetime(2026, 12, 1, tzinfo=UTC)),
        ("Asia/Tokyo", datetime(2026, 10, 19, tzinfo=UTC)),
        ("Asia/Kolkata", datetime(2026, 3, 2, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 7, 6, tzinfo=UTC)),
        ("Pacific/Auckland", datetime(2026, 1, 5, tzinfo=UTC)),  # UTC+13 in summer
        ("Pacific/Honolulu", datetime(2026, 5, 4, tzinfo=UTC)),  # UTC-10
        ("UTC", datetime(2026, 2, 2, tzinfo=UTC)),
    ],
)
def test_precomputed_buckets_agree_with_the_half_hour_sets(zone: str, day: datetime) -> None:
    hours = buckets.bucket_hours(zone, day)
    assert hours.offset_index is not None  # one offset all fortnight: the fast path
    rng = random.Random(zone)
    for _ in range(50):
        free = rng.sample(range(buckets.HALF_HOURS), rng.randint(0, 40))
        words = buckets.offset_words(free)
        word, shift = divmod(hours.offset_index, buckets.PER_WORD)
        fast = (words[word] >> (6 * shift)) & buckets.ALL_BUCKETS_MASK
        exact = sum(
            1 << i for i, b in enumerate(buckets.BUCKETS) if set(free) & hours.half_hours[b.slug]
        )
        assert fast == exact


def test_zones_changing_offset_this_fortnight_take_the_exact_path() -> None:
    assert (
        buckets.bucket_hours("Europe/Berlin", datetime(2026, 10, 19, tzinfo=UTC)).offset_index
        is None
    )
    assert (
        buckets.bucket_hours("Asia/Kathmandu", datetime(2026, 7, 6, tzinfo=UTC)).offset_index
        is None
    )


async def test_postgres_is_exact_in_the_fortnight_of_a_dst_change(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """Berlin evenings stay evenings (and not afternoons) while Berlin changes its clocks."""
    ids = await add_tutors(sessions, CAST[:1])
    engine = db.create_engine(database_url, pool_size=2)
    now = datetime(2026, 10, 19, 12, tzinfo=UTC)
    try:
        async with sessions() as session:
            profile = await session.get(TutorProfile, ids[CAST[0].name])
            assert profile is not None
            document = build_document(profile, MEDIA_URL)
        free = summarise(calendar("Europe/Berlin", (18, 0), 180), 60, now)
        backend = PostgresBackend(engine, now=lambda: now)
        await backend.upsert([replace(document, free_half_hours=free.free_half_hours)])
        berlin = await backend.search(build_query(tz="Europe/Berlin"))
        assert berlin.facets["availability"] == {
            "weekday_morning": 0,
            "weekday_afternoon": 0,
            "weekday_evening": 1,
            "weekend_morning": 0,
            "weekend_afternoon": 0,
            "weekend_evening": 0,
        }
        for bucket, total in (("weekday_evening", 1), ("weekday_afternoon", 0)):
            found = await backend.search(build_query(tz="Europe/Berlin", availability=[bucket]))
            assert found.total == total, bucket
        tokyo = await backend.search(build_query(tz="Asia/Tokyo"))
        assert set(tokyo.facets["availability"].values()) == {0}
    finally:
        await engine.dispose()
