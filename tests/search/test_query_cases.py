"""One suite of query cases for every search backend (see ``factories.backend``).

The same ``CAST`` of tutors is indexed through the backend's own rebuild, then each case asks
through ``search.service.search`` exactly as the API does. A backend passes when it finds the
same tutors, in the same order where order is specified, with the same facet counts.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace import places
from marketplace.accounts.models import User
from marketplace.errors import ValidationFailed
from marketplace.profiles.models import TutorProfile
from scheduling.availability import set_weekly, validate_windows
from search import service
from search.backends import SearchBackend, SearchResult
from search.documents import build_document
from search.query import build_query
from tests.search.factories import MEDIA_URL, backend, cast, names

__all__ = ["backend", "cast"]  # fixtures used by name below

ALL = {
    "Ana Sousa",
    "Bruno Costa",
    "Carla Mendes",
    "David Miller",
    "Emma Schmidt",
    "Felix Wagner",
    "Hugo Martin",
    "Inês Ferreira",
    "Jorge Alves",
    "Kate Brown",
}


async def find(backend: SearchBackend, **params: Any) -> SearchResult:
    return await service.search(backend, build_query(**{"per_page": 50, **params}))


def hit_names(result: SearchResult) -> list[str]:
    return names([hit.document for hit in result.hits])


def city_id(name: str, country: str) -> int:
    city = places.find_city(name, country)
    assert city is not None
    return city.geoname_id


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance on earthdistance's sphere."""
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6378.168 * math.asin(math.sqrt(h))


# ---------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("vilon", {"Ana Sousa", "Inês Ferreira"}),  # one typo, through the synonym "violon"
        ("violn", {"Ana Sousa", "Inês Ferreira"}),
        ("paino", {"Bruno Costa", "Kate Brown"}),  # swapped letters
        ("sax", {"Hugo Martin"}),  # synonym of saxophone
        ("ines", {"Inês Ferreira"}),  # accents do not matter
        ("munich", {"Felix Wagner"}),  # the city is searchable text
        ("sous", {"Ana Sousa"}),  # a name, as a prefix
        ("fado lessons", {"Carla Mendes", "Jorge Alves"}),  # filler words are dropped
        ("xylophonezzz", set()),
    ],
)
async def test_text_is_typo_tolerant(
    backend: SearchBackend, cast: dict[str, int], q: str, expected: set[str]
) -> None:
    result = await find(backend, q=q)
    assert set(hit_names(result)) == expected
    assert result.total == len(expected)


async def test_a_prefix_finds_jazz_and_genre_matches_rank_first(
    backend: SearchBackend, cast: dict[str, int]
) -> None:
    result = await find(backend, q="jaz")
    found = hit_names(result)
    # Kate only mentions jazz in her bio: she is found, after the tutors who teach jazz.
    assert set(found[:3]) == {"Bruno Costa", "Felix Wagner", "Hugo Martin"}
    assert found[3:] == ["Kate Brown"]


async def test_every_word_must_match_and_more_matches_rank_higher(
    backend: SearchBackend, cast: dict[str, int]
) -> None:
    assert hit_names(await find(backend, q="jazz piano")) == ["Bruno Costa", "Kate Brown"]


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"instrument": ["violin"]}, {"Ana Sousa", "Inês Ferreira"}),
        ({"instrument": ["violin", "cello"]}, {"Ana Sousa", "Inês Ferreira", "Emma Schmidt"}),
        ({"genre": ["fado"]}, {"Carla Mendes", "Jorge Alves"}),
        ({"language": ["de"]}, {"Emma Schmidt", "Felix Wagner"}),
        ({"language": ["DE"]}, {"Emma Schmidt", "Felix Wagner"}),
        ({"level": ["professional"]}, {"Emma Schmidt", "Inês Ferreira"}),
        ({"format": ["student_home"]}, {"Carla Mendes", "Jorge Alves"}),
        (
            {"format": ["online"]},
            {
                "Ana Sousa",
                "David Miller",
                "Emma Schmidt",
                "Hugo Martin",
                "Inês Ferreira",
                "Kate Brown",
            },
        ),
        (
            {"format": ["in_person"]},
            {
                "Ana Sousa",
                "Bruno Costa",
                "Carla Mendes",
                "Emma Schmidt",
                "Felix Wagner",
                "Jorge Alves",
            },
        ),
        # Per hour: 20 for 30 minutes is 40, 30 for 45 minutes is 40, 90 for 90 minutes is 60.
        (
            {"price_max": 4000},
            {"Ana Sousa", "Carla Mendes", "Felix Wagner", "Jorge Alves", "Kate Brown"},
        ),
        ({"price_min": 7000}, {"David Miller", "Inês Ferreira"}),
        ({"price_min": 4500, "price_max": 6000}, {"Bruno Costa", "Hugo Martin", "Emma Schmidt"}),
        ({"instrument": ["violin"], "level": ["beginner"]}, {"Ana Sousa"}),
        ({"q": "fado", "format": ["studio"]}, {"Jorge Alves"}),
        ({"free_within_days": 7}, set()),  # nobody in the cast has weekly hours yet
        ({"availability": ["weekday_evening"]}, set()),
        ({}, ALL),  # never the pending or the suspended tutor
    ],
)
async def test_filters(
    backend: SearchBackend, cast: dict[str, int], params: dict[str, Any], expected: set[str]
) -> None:
    result = await find(backend, **params)
    assert set(hit_names(result)) == expected
    assert result.total == len(expected)


# ---------------------------------------------------------------- location


async def test_radius_around_a_city_with_distances(
    backend: SearchBackend, cast: dict[str, int]
) -> None:
    porto = city_id("Porto", "PT")
    result = await find(backend, near=porto, radius_km=50)
    assert set(hit_names(result)) == {"Ana Sousa", "Carla Mendes"}
    assert all(hit.distance_km is not None and hit.distance_km < 1 for hit in result.hits)


async def test_distance_sort_is_nearest_first_and_respects_the_radius(
    backend: SearchBackend, cast: dict[str, int]
) -> None:
    lisbon = places.find_city("Lisbon", "PT")
    coimbra = places.find_city("Coimbra", "PT")
    assert lisbon and coimbra
    result = await find(backend, near=lisbon.geoname_id, radius_km=250, sort="distance")
    assert hit_names(result) == ["Bruno Costa", "Inês Ferreira", "Jorge Alves"]
    expected = km((lisbon.latitude, lisbon.longitude), (coimbra.latitude, coimbra.longitude))
    last = result.hits[-1].distance_km
    assert last is not None and abs(last - expected) < 1
    distances = [h.distance_km or 0 for h in result.hits]
    assert distances == sorted(distances)


async def test_coordinates_work_like_a_city(backend: SearchBackend, cast: dict[str, int]) -> None:
    result = await find(backend, lat=52.52, lng=13.405, radius_km=10)  # central Berlin
    assert hit_names(result) == ["Emma Schmidt"]


async def test_nearest_first_without_a_radius_puts_tutors_without_a_place_last(
    backend: SearchBackend, cast: dict[str, int]
) -> None:
    # Coordinates without a radius order everyone by distance (a city gets a default radius).
    munich = places.find_city("Munich", "DE")
    assert munich
    result = await find(backend, lat=munich.latitude, lng=munich.longitude, sort="distance")
    found = hit_names(result)
    assert found[0] == "Felix Wagner" and found[1] == "Emma Schmidt"
    assert found[-1] == "Kate Brown" and result.total == 10
    assert result.hits[-1].distance_km is None


async def test_a_city_without_a_radius_means_near_that_city(
    backend: SearchBackend, cast: dict[str, int]
) -> None:
    porto = city_id("Porto", "PT")
    result = await find(backend, near=porto)
    assert set(hit_names(result)) == {"Ana Sousa", "Carla Mendes"}
    assert build_query(near=porto).radius_km == places.DEFAULT_SEARCH_RADIUS_KM
    # Online lessons reach anywhere: online only keeps everyone, ordered from the city.
    online = await find(backend, near=porto, format=["online"], sort="distance")
    assert len(hit_names(online)) > 2 and hit_names(online)[0] == "Ana Sousa"


def test_a_radius_without_a_place_is_explained() -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_query(radius_km=10)
    assert caught.value.fields == {
        "radius_km": "Choose a city to search within a distance of it (or give lat and lng)."
    }
    with pytest.raises(ValidationFailed) as unknown:
        build_query(near=1, radius_km=10)
    assert unknown.value.fields.keys() == {"near"}  # not a second message about the radius


# ---------------------------------------------------------------- facets


async def test_facets_count_everything_without_filters(
    backend: SearchBackend, cast: dict[str, int]
) -> None:
    facets = (await find(backend)).facets
    assert facets["instrument"]["violin"] == 2 and facets["instrument"]["piano"] == 2
    assert facets["genre"]["classical"] == 4 and facets["genre"]["jazz"] == 3
    assert facets["language"]["pt"] == 5 and facets["language"]["en"] == 5
    assert facets["level"]["beginner"] == 6
    assert facets["format"] == {"online": 6, "in_person": 6, "studio": 5, "student_home": 2}


async def test_facets_are_disjunctive(backend: SearchBackend, cast: dict[str, int]) -> None:
    result = await find(backend, instrument=["violin"])
    # Choosing violin still shows every other instrument's count...
    assert result.facets["instrument"]["piano"] == 2 and result.facets["instrument"]["cello"] == 1
    # ...while the other facets count only the violinists.
    assert result.facets["genre"] == {"classical": 2, "baroque": 1}
    assert result.facets["language"] == {"pt": 2, "en": 1, "es": 1}


async def test_facets_with_two_filters_each_ignore_only_their_own(
    backend: SearchBackend, cast: dict[str, int]
) -> None:
    result = await find(backend, instrument=["violin"], language=["de"])
    assert result.total == 0 and result.hits == []
    # Instruments taught in German; languages of the violinists; the chosen values stay listed.
    assert result.facets["instrument"] == {"cello": 1, "drums": 1, "violin": 0}
    assert result.facets["language"] == {"pt": 2, "de": 0, "en": 1, "es": 1}
    assert result.facets["genre"] == {}


async def test_facets_follow_the_text(backend: SearchBackend, cast: dict[str, int]) -> None:
    result = await find(backend, q="fado")
    assert result.facets["instrument"] == {"portuguese-guitar": 1, "voice": 1}
    assert result.facets["format"] == {"in_person": 2, "student_home": 2, "studio": 1}


# ---------------------------------------------------------------- sorts and pages


async def test_price_sorts(backend: SearchBackend, cast: dict[str, int]) -> None:
    cheapest = hit_names(await find(backend, sort="price_asc"))
    assert cheapest == [
        "Jorge Alves",
        "Felix Wagner",
        "Ana Sousa",
        "Carla Mendes",
        "Kate Brown",
        "Hugo Martin",
        "Bruno Costa",
        "Emma Schmidt",
        "David Miller",
        "Inês Ferreira",
    ]
    dearest = hit_names(await find(backend, sort="price_desc"))
    assert dearest[:3] == ["Inês Ferreira", "David Miller", "Emma Schmidt"]
    assert dearest[-2:] == ["Felix Wagner", "Jorge Alves"]


async def _with(
    sessions: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    tutor_id: int,
    **fields: Any,
) -> None:
    """Index a tutor as reviews and scheduling will: the same document plus their fields."""
    async with sessions() as session:
        profile = await session.get(TutorProfile, tutor_id)
        assert profile is not None
        await backend.upsert([replace(build_document(profile, MEDIA_URL), **fields)])


async def test_rating_sort_and_minimum(
    backend: SearchBackend, cast: dict[str, int], sessions: async_sessionmaker[AsyncSession]
) -> None:
    # "Sort by rating" follows the ranking score (a Bayesian average from reviews), so a single
    # perfect review does not beat a long, slightly imperfect record; rating_min reads the mean.
    await _with(
        sessions, backend, cast["Emma Schmidt"], rating=5.0, review_count=1, ranking_score=4.09
    )
    await _with(
        sessions, backend, cast["Ana Sousa"], rating=4.5, review_count=20, ranking_score=4.33
    )
    await _with(
        sessions, backend, cast["Hugo Martin"], rating=4.5, review_count=3, ranking_score=4.12
    )
    ranked = hit_names(await find(backend, sort="rating"))
    assert ranked[:3] == ["Ana Sousa", "Hugo Martin", "Emma Schmidt"] and len(ranked) == 10
    assert hit_names(await find(backend, rating_min=4.6)) == ["Emma Schmidt"]
    assert len(hit_names(await find(backend, rating_min=0))) == 10  # 0 = any, unrated too


async def test_soonest_sort_and_free_within(
    backend: SearchBackend, cast: dict[str, int], sessions: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime.now(UTC)
    await _with(sessions, backend, cast["Felix Wagner"], next_free_at=now + timedelta(days=1))
    await _with(sessions, backend, cast["Bruno Costa"], next_free_at=now + timedelta(days=3))
    assert hit_names(await find(backend, sort="soonest"))[:2] == ["Felix Wagner", "Bruno Costa"]
    assert hit_names(await find(backend, free_within_days=2)) == ["Felix Wagner"]


async def test_relevance_without_text_is_a_stable_order(
    backend: SearchBackend, cast: dict[str, int]
) -> None:
    first = hit_names(await find(backend))
    assert first == hit_names(await find(backend)) and set(first) == ALL


async def test_pagination(backend: SearchBackend, cast: dict[str, int]) -> None:
    everyone = hit_names(await find(backend, sort="price_asc"))
    pages = [await find(backend, sort="price_asc", per_page=4, page=n) for n in (1, 2, 3)]
    assert [hit_names(p) for p in pages] == [everyone[:4], everyone[4:8], everyone[8:]]
    assert all(p.total == 10 and p.pages == 3 for p in pages)
    with pytest.raises(ValidationFailed) as past_the_end:
        await find(backend, per_page=4, page=4)
    assert "page" in past_the_end.value.fields
    nothing = await find(backend, q="xylophonezzz", page=2)  # no results: no "last page"
    assert nothing.total == 0 and nothing.hits == []


# ---------------------------------------------------------------- free time


async def _weekly(
    sessions: async_sessionmaker[AsyncSession],
    tutor_id: int,
    zone: str,
    windows: list[tuple[str, str, str]],
) -> None:
    """Give a cast member weekly hours in their own zone, as the availability editor does."""
    async with sessions() as session, session.begin():
        user = await session.get(User, tutor_id)
        assert user is not None
        user.time_zone = zone
        await set_weekly(session, user, validate_windows(windows), zone)


EVERY_DAY = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@pytest.fixture
async def free_cast(
    backend: SearchBackend, cast: dict[str, int], sessions: async_sessionmaker[AsyncSession]
) -> dict[str, int]:
    """Ana teaches Berlin evenings (18-21) every day, Kate Tokyo mornings (9-11) every day,
    Felix Berlin weekend afternoons (14-17); the index rebuilt from their real open slots."""
    await _weekly(
        sessions, cast["Ana Sousa"], "Europe/Berlin", [(d, "18:00", "21:00") for d in EVERY_DAY]
    )
    await _weekly(
        sessions, cast["Kate Brown"], "Asia/Tokyo", [(d, "09:00", "11:00") for d in EVERY_DAY]
    )
    await _weekly(
        sessions,
        cast["Felix Wagner"],
        "Europe/Berlin",
        [(d, "14:00", "17:00") for d in ("SA", "SU")],
    )
    await service.reindex_all(sessions, backend, MEDIA_URL)
    return cast


FREE = {"Ana Sousa", "Kate Brown", "Felix Wagner"}


async def test_free_within_and_soonest_read_the_real_open_slots(
    backend: SearchBackend, free_cast: dict[str, int]
) -> None:
    now = datetime.now(UTC)
    within = await find(backend, free_within_days=7)
    assert set(hit_names(within)) == FREE and within.total == 3
    soonest = (await find(backend, sort="soonest")).hits
    starts = [datetime.fromisoformat(h.document["next_free_at"]) for h in soonest[:3]]
    assert {h.document["name"] for h in soonest[:3]} == FREE
    assert starts == sorted(starts)
    # The default notice is 12 hours; nobody is free before it, and the rest have no time.
    assert all(now + timedelta(hours=12) <= s <= now + timedelta(days=8) for s in starts)
    assert all(h.document["next_free_at"] is None for h in soonest[3:])


@pytest.mark.parametrize(
    ("zone", "bucket", "expected"),
    [
        # 18:00-21:00 in Berlin is a Berlin evening, and the small hours in Tokyo.
        ("Europe/Berlin", "weekday_evening", {"Ana Sousa"}),
        ("Europe/Berlin", "weekend_evening", {"Ana Sousa"}),
        ("Asia/Tokyo", "weekday_evening", set()),
        ("Asia/Tokyo", "weekday_morning", {"Kate Brown"}),
        ("Europe/Berlin", "weekday_morning", set()),  # Kate's mornings are Berlin nights
        ("Europe/Berlin", "weekend_afternoon", {"Felix Wagner"}),
        ("Europe/Berlin", "weekday_afternoon", set()),  # Felix teaches weekends only
        # Berlin evenings are New York's early afternoons (12:00 to 15:00 or 16:00).
        ("America/New_York", "weekday_afternoon", {"Ana Sousa"}),
        ("America/New_York", "weekday_evening", {"Kate Brown"}),  # 19:00-21:00 the day before
    ],
)
async def test_availability_buckets_are_read_in_the_viewers_zone(
    backend: SearchBackend,
    free_cast: dict[str, int],
    zone: str,
    bucket: str,
    expected: set[str],
) -> None:
    result = await find(backend, availability=[bucket], tz=zone)
    assert set(hit_names(result)) == expected and result.total == len(expected)


async def test_availability_facets_are_exact_and_disjunctive(
    backend: SearchBackend, free_cast: dict[str, int]
) -> None:
    berlin = {
        "weekday_morning": 0,
        "weekday_afternoon": 0,
        "weekday_evening": 1,
        "weekend_morning": 0,
        "weekend_afternoon": 1,
        "weekend_evening": 1,
    }
    assert (await find(backend, tz="Europe/Berlin")).facets["availability"] == berlin
    # Choosing a bucket keeps the other buckets' counts; the other facets follow the choice.
    chosen = await find(backend, tz="Europe/Berlin", availability=["weekday_evening"])
    assert chosen.facets["availability"] == berlin
    assert chosen.facets["instrument"] == {"violin": 1}
    either = await find(
        backend, tz="Europe/Berlin", availability=["weekday_evening", "weekend_afternoon"]
    )
    assert set(hit_names(either)) == {"Ana Sousa", "Felix Wagner"}
    assert either.facets["genre"] == {"classical": 1, "baroque": 1, "jazz": 1, "funk": 1}
    # Other filters narrow the bucket counts: among the pianists only Kate has time, at night.
    pianists = await find(backend, tz="Europe/Berlin", instrument=["piano"])
    assert set(pianists.facets["availability"].values()) == {0}
    tokyo = await find(backend, tz="Asia/Tokyo", instrument=["piano"])
    assert tokyo.facets["availability"]["weekday_morning"] == 1
    assert tokyo.facets["availability"]["weekend_morning"] == 1


async def test_availability_with_text_and_a_radius(
    backend: SearchBackend, free_cast: dict[str, int]
) -> None:
    # Text (and a radius) lead the search on PostgreSQL: the counts take the one-pass path.
    violin = await find(backend, q="violin", tz="Europe/Berlin", availability=["weekday_evening"])
    assert hit_names(violin) == ["Ana Sousa"]
    assert violin.facets["availability"]["weekday_evening"] == 1
    assert violin.facets["instrument"] == {"violin": 1}
    unchosen = await find(backend, q="violin", tz="Europe/Berlin")
    assert unchosen.facets["availability"]["weekday_evening"] == 1 and unchosen.total == 2
    near = await find(
        backend,
        near=city_id("Munich", "DE"),
        radius_km=50,
        tz="Europe/Berlin",
        availability=["weekend_afternoon"],
    )
    assert hit_names(near) == ["Felix Wagner"]
    far = await find(
        backend, near=city_id("Porto", "PT"), radius_km=50, tz="Europe/Berlin",
        availability=["weekend_afternoon"],
    )  # fmt: skip
    assert far.total == 0 and far.facets["availability"]["weekday_evening"] == 1
