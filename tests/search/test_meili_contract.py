"""Contract tests of the Meilisearch backend against a local double of its REST API.

They pin what we send (settings, documents, filters, sorts, multi-search bodies, the rebuild
sequence) and how we read Meilisearch-shaped answers back, with no Meilisearch server.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from search import meili_settings
from search.backends import SearchUnavailable
from search.documents import GeoPoint, Teaching, TutorDocument
from search.meili_backend import MeiliBackend, MeiliTaskError, MeiliTaskTimeout
from search.query import FACETS, SearchQuery, Sort
from tests.search.meili_double import MeiliDouble, search_result

NOW = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
STAMP = "20250304050607890123"
BUILT_INS = ["sort", "words", "typo", "attribute", "proximity", "exactness"]


@pytest.fixture
def double() -> Iterator[MeiliDouble]:
    with MeiliDouble() as running:
        yield running


@pytest.fixture
async def backend(double: MeiliDouble) -> AsyncIterator[MeiliBackend]:
    meili = MeiliBackend(
        double.url, double.api_key, task_timeout_s=2, batch_size=2, now=lambda: NOW
    )
    try:
        yield meili
    finally:
        await meili.aclose()


def tutor(tutor_id: int, **changes: Any) -> TutorDocument:
    fields: dict[str, Any] = {
        "id": tutor_id,
        "name": f"Tutor {tutor_id}",
        "headline": "Jazz piano and violin",
        "bio_excerpt": "I teach.",
        "bio": "I teach. Long bio.",
        "teaches": (
            Teaching("piano", "Piano", ("beginner", "advanced")),
            Teaching("violin", "Violin", ("intermediate",)),
        ),
        "genres": ("jazz",),
        "languages": ("pt", "en"),
        "formats": ("online", "studio"),
        "city": "Porto",
        "country": "PT",
        "city_geoname_id": 2735943,
        "geo": GeoPoint(lat=41.14961, lng=-8.61099),
        "currency": "EUR",
        "lowest_price_minor": 2000,
        "price_per_hour_minor": 3500,
        "photo_url": None,
        "rating": 4.5,
        "review_count": 7,
        "ranking_score": None,
        "next_free_at": datetime(2025, 3, 5, 18, 0, tzinfo=UTC),
        "travel_radius_km": None,
    }
    fields.update(changes)
    return TutorDocument(**fields)


async def batches(*groups: Sequence[TutorDocument]) -> AsyncIterator[Sequence[TutorDocument]]:
    for group in groups:
        yield group


def sent_queries(double: MeiliDouble) -> list[dict[str, Any]]:
    (call,) = double.calls("POST", "/multi-search")
    queries: list[dict[str, Any]] = call.body["queries"]
    return queries


# ---------------------------------------------------------------------- settings


async def test_configure_creates_the_index_and_sends_the_settings(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.configure()

    assert double.writes() == [("POST", "/indexes"), ("PATCH", "/indexes/tutors/settings")]
    assert double.calls("POST", "/indexes")[0].body == {"uid": "tutors", "primaryKey": "id"}
    settings = double.calls("PATCH")[0].body
    assert settings == meili_settings.index_settings()
    assert settings["searchableAttributes"] == [
        "name",
        "instrument_names",
        "genre_names",
        "aliases",
        "headline",
        "city",
        "country_name",
        "language_names",
        "bio",
    ]
    assert settings["filterableAttributes"] == [
        "instruments",
        "genres",
        "languages",
        "levels",
        "format_choices",
        "price_per_hour_minor",
        "rating",
        "_geo",
        "next_free_ts",
        "free_half_hours",
    ]
    assert settings["sortableAttributes"] == [
        "price_per_hour_minor",
        "rating",
        "review_count",
        "_geo",
        "next_free_ts",
        "ranking_score",
    ]
    rules = settings["rankingRules"]
    assert rules[: len(BUILT_INS)] == BUILT_INS
    assert rules[len(BUILT_INS) :] == [
        "ranking_score:desc",
        "rating:desc",
        "review_count:desc",
        "id:asc",
    ]
    assert settings["typoTolerance"] == {
        "enabled": True,
        "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
    }
    assert len("vilon") >= settings["typoTolerance"]["minWordSizeForTypos"]["oneTypo"]
    assert settings["faceting"] == {"maxValuesPerFacet": 102, "sortFacetValuesBy": {"*": "count"}}
    assert settings["pagination"] == {"maxTotalHits": 500_000}
    assert {"lessons", "teacher", "for"} <= set(settings["stopWords"])
    # The client waited for the creation and the settings tasks.
    assert [c.path for c in double.calls("GET", under="/tasks/")] == ["/tasks/0", "/tasks/1"]
    assert double.calls()[0].headers["authorization"] == f"Bearer {double.api_key}"


def test_synonyms_are_mutual() -> None:
    synonyms = meili_settings.synonyms()
    assert "saxophone" in synonyms["sax"]
    assert "sax" in synonyms["saxophone"]
    for word in ("vocals", "singing", "voice"):
        others = {"vocals", "singing", "voice"} - {word}
        assert others <= set(synonyms[word]), word
        assert word not in synonyms[word]
    assert synonyms["voice"].count("vocals") == 1
    assert "fiddle" in synonyms["violin"] and "violin" in synonyms["fiddle"]
    assert "jazz standards" in synonyms["jazz"]


def test_displayed_attributes_are_exactly_the_hit() -> None:
    assert list(tutor(1).as_dict()) == meili_settings.HIT_FIELDS


def test_every_facet_has_an_attribute() -> None:
    assert tuple(meili_settings.FACET_ATTRIBUTES) == FACETS


async def test_configure_again_only_updates_the_settings(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.configure()
    await backend.configure()
    assert double.writes()[2:] == [("PATCH", "/indexes/tutors/settings")]


# ---------------------------------------------------------------------- documents


async def test_upsert_sends_document_bodies_and_waits(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.upsert(
        [tutor(1, free_half_hours=(34, 35, 82)), tutor(2, geo=None, rating=None, next_free_at=None)]
    )

    (call,) = double.calls("POST", "/indexes/tutors/documents")
    assert call.query == {"primaryKey": ["id"]}
    first, second = call.body
    assert first == {
        "id": 1,
        "name": "Tutor 1",
        "headline": "Jazz piano and violin",
        "bio_excerpt": "I teach.",
        "bio": "I teach. Long bio.",
        "instruments": ["piano", "violin"],
        "instrument_names": ["Piano", "Violin"],
        "teaches": [
            {"instrument": "piano", "name": "Piano", "levels": ["beginner", "advanced"]},
            {"instrument": "violin", "name": "Violin", "levels": ["intermediate"]},
        ],
        "levels": ["beginner", "intermediate", "advanced"],
        "genres": ["jazz"],
        "genre_names": ["Jazz"],
        "languages": ["pt", "en"],
        "language_names": ["Portuguese", "English"],
        "formats": ["online", "studio"],
        "format_choices": ["online", "studio", "in_person"],
        "city": "Porto",
        "country": "PT",
        "country_name": "Portugal",
        "city_geoname_id": 2735943,
        "_geo": {"lat": 41.14961, "lng": -8.61099},
        "currency": "EUR",
        "lowest_price_minor": 2000,
        "price_per_hour_minor": 3500,
        "rating": 4.5,
        "review_count": 7,
        "next_free_at": "2025-03-05T18:00:00+00:00",
        "next_free_ts": int(datetime(2025, 3, 5, 18, 0, tzinfo=UTC).timestamp()),
        "free_half_hours": [34, 35, 82],
        "aliases": first["aliases"],
    }
    assert "fiddle" in first["aliases"] and "pianoforte" in first["aliases"]
    # Nulls are left out: no _geo rather than an invalid one.
    assert {"_geo", "rating", "next_free_at", "next_free_ts", "photo_url"}.isdisjoint(second)
    assert second["free_half_hours"] == []  # no free time: matches no availability bucket
    assert double.calls("GET", under="/tasks/")[-1].path == "/tasks/0"
    assert set(double.documents("tutors")) == {"1", "2"}


async def test_upsert_splits_into_batches(backend: MeiliBackend, double: MeiliDouble) -> None:
    await backend.upsert([tutor(i) for i in range(1, 6)])
    sizes = [len(c.body) for c in double.calls("POST", "/indexes/tutors/documents")]
    assert sizes == [2, 2, 1]
    assert len(double.calls("GET", under="/tasks/")) == 3


async def test_delete_sends_ids(backend: MeiliBackend, double: MeiliDouble) -> None:
    await backend.upsert([tutor(1), tutor(2)])
    await backend.delete([2, 99])
    (call,) = double.calls("POST", "/indexes/tutors/documents/delete-batch")
    assert call.body == ["2", "99"]
    assert set(double.documents("tutors")) == {"1"}


async def test_delete_without_an_index_is_a_no_op(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.delete([1])
    assert double.tasks[0]["error"]["code"] == "index_not_found"


async def test_a_failed_task_raises_with_its_message(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    double.fail_next(
        "documentAdditionOrUpdate",
        "The `_geo` field in the document with the id: `1` is not an object.",
        "invalid_document_geo_field",
    )
    with pytest.raises(MeiliTaskError, match="is not an object") as failure:
        await backend.upsert([tutor(1)])
    assert failure.value.code == "invalid_document_geo_field"
    assert "task 0 (add documents) failed" in str(failure.value)


async def test_waiting_for_a_task_is_bounded(double: MeiliDouble) -> None:
    double.stall("documentAdditionOrUpdate")
    meili = MeiliBackend(double.url, double.api_key, task_timeout_s=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(MeiliTaskTimeout, match=r"did not finish within 0\.3 s"):
            await meili.upsert([tutor(1)])
    finally:
        await meili.aclose()
    assert time.monotonic() - started < 3


async def test_index_creation_is_bounded_too(double: MeiliDouble) -> None:
    double.stall("indexCreation")
    meili = MeiliBackend(double.url, double.api_key, task_timeout_s=0.2)
    try:
        with pytest.raises(MeiliTaskTimeout):
            await meili.configure()
    finally:
        await meili.aclose()


# ---------------------------------------------------------------------- queries


def _free_in(half_hours: Iterable[int]) -> str:
    return f"free_half_hours IN [{', '.join(str(h) for h in sorted(set(half_hours)))}]"


def _halves(day: int, start_hour: int, hours: int) -> list[int]:
    """Numbers of the half-hours from ``start_hour`` UTC on ``day`` March 2025, for ``hours``:
    half-hours since Monday 1 January 2024 UTC, modulo 14 days."""
    start = datetime(2025, 3, day, tzinfo=UTC) + timedelta(hours=start_hour)
    epoch = datetime(2024, 1, 1, tzinfo=UTC)
    return [int((start - epoch) / timedelta(minutes=30) + i) % 672 for i in range(hours * 2)]


# NOW is Tuesday 4 March 2025, so the fortnight searched runs to Tuesday the 18th, 00:00 UTC.
WEEKDAYS_IN_WINDOW = (4, 5, 6, 7, 10, 11, 12, 13, 14, 17)


def _tokyo_mornings() -> list[int]:
    # Tokyo is UTC+9: 06:00-12:00 there is 21:00-03:00 UTC, cut at the fortnight's ends.
    out = _halves(4, 0, 3) + _halves(17, 21, 3)
    for day in range(4, 17):
        out += _halves(day, 21, 6)
    return out


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (SearchQuery(), None),
        (
            SearchQuery(instruments=("violin", "cello")),
            ['instruments IN ["violin", "cello"]'],
        ),
        (SearchQuery(genres=("jazz",)), ['genres IN ["jazz"]']),
        (SearchQuery(languages=("pt", "en")), ['languages IN ["pt", "en"]']),
        (SearchQuery(levels=("beginner",)), ['levels IN ["beginner"]']),
        (SearchQuery(formats=("in_person",)), ['format_choices IN ["in_person"]']),
        (
            SearchQuery(price_min=2000, price_max=5000),
            ["price_per_hour_minor >= 2000 AND price_per_hour_minor <= 5000"],
        ),
        (SearchQuery(price_min=2000), ["price_per_hour_minor >= 2000"]),
        (SearchQuery(price_max=5000), ["price_per_hour_minor <= 5000"]),
        (SearchQuery(rating_min=4.5), ["rating >= 4.5"]),
        (
            SearchQuery(location=GeoPoint(41.15, -8.61), radius_km=10),
            ["_geoRadius(41.15, -8.61, 10000)"],
        ),
        (SearchQuery(location=GeoPoint(41.15, -8.61)), None),  # distance only, no radius
        (
            SearchQuery(free_within_days=7),
            [f"next_free_ts <= {int((NOW + timedelta(days=7)).timestamp())}"],
        ),
        # No DST change in Berlin before the 30th: evenings there (18-22, CET = UTC+1) are
        # 17:00-21:00 UTC on each weekday.
        (
            SearchQuery(availability=("weekday_evening",), time_zone="Europe/Berlin"),
            [_free_in(h for d in WEEKDAYS_IN_WINDOW for h in _halves(d, 17, 4))],
        ),
        # Two buckets are one filter over both sets of hours.
        (
            SearchQuery(
                availability=("weekday_morning", "weekend_morning"), time_zone="Asia/Tokyo"
            ),
            [_free_in(_tokyo_mornings())],
        ),
        (
            SearchQuery(
                instruments=("violin",),
                formats=("online",),
                price_max=4000,
                location=GeoPoint(38.72, -9.14),
                radius_km=2.5,
            ),
            [
                'instruments IN ["violin"]',
                'format_choices IN ["online"]',
                "price_per_hour_minor <= 4000",
                "_geoRadius(38.72, -9.14, 2500)",
            ],
        ),
    ],
)
async def test_filter_expressions(
    backend: MeiliBackend, double: MeiliDouble, query: SearchQuery, expected: list[str] | None
) -> None:
    await backend.configure()
    await backend.search(query)
    assert sent_queries(double)[0]["filter"] == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (Sort.RELEVANCE, None),
        (Sort.RATING, ["ranking_score:desc", "rating:desc", "review_count:desc"]),
        (Sort.PRICE_ASC, ["price_per_hour_minor:asc"]),
        (Sort.PRICE_DESC, ["price_per_hour_minor:desc"]),
        (Sort.DISTANCE, ["_geoPoint(41.15, -8.61):asc"]),
        (Sort.SOONEST, ["next_free_ts:asc"]),
    ],
)
async def test_sort_expressions(
    backend: MeiliBackend, double: MeiliDouble, sort: Sort, expected: list[str] | None
) -> None:
    await backend.configure()
    await backend.search(SearchQuery(sort=sort, location=GeoPoint(41.15, -8.61)))
    assert sent_queries(double)[0]["sort"] == expected


async def test_one_multi_search_with_a_query_per_ticked_facet(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.configure()
    query = SearchQuery(
        q="jaz",
        instruments=("violin",),
        languages=("pt",),
        price_max=5000,
        page=3,
        per_page=10,
    )
    await backend.search(query)

    main, instrument, language, *per_bucket = sent_queries(double)
    price = "price_per_hour_minor <= 5000"
    assert main["indexUid"] == "tutors"
    assert main["q"] == "jaz"
    assert main["filter"] == ['instruments IN ["violin"]', 'languages IN ["pt"]', price]
    assert main["facets"] == ["genres", "levels", "format_choices"]
    assert (main["page"], main["hitsPerPage"]) == (3, 10)
    assert main["matchingStrategy"] == "all"
    # Each ticked facet is counted without its own filter, and returns no hits.
    assert instrument["filter"] == ['languages IN ["pt"]', price]
    assert instrument["facets"] == ["instruments"]
    assert language["filter"] == ['instruments IN ["violin"]', price]
    assert language["facets"] == ["languages"]
    for counting in (instrument, language):
        assert counting["q"] == "jaz"
        assert (counting["hitsPerPage"], counting["limit"]) == (0, 0)
        assert counting["sort"] is None
    # Then one count per availability bucket (UTC by default), under every filter.
    assert len(per_bucket) == 6
    weekday_mornings = _free_in(h for d in WEEKDAYS_IN_WINDOW for h in _halves(d, 6, 6))
    assert per_bucket[0]["filter"] == [*main["filter"], weekday_mornings]
    for counting in per_bucket:
        assert counting["q"] == "jaz" and counting["matchingStrategy"] == "all"
        assert (counting["page"], counting["hitsPerPage"], counting["limit"]) == (1, 0, 0)
        assert counting["facets"] is None and counting["sort"] is None


async def test_the_availability_filter_is_left_out_of_its_own_counts(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.configure()
    query = SearchQuery(
        genres=("jazz",), availability=("weekend_evening",), time_zone="America/New_York"
    )
    await backend.search(query)
    main, genre, *per_bucket = sent_queries(double)
    # New York moves to EDT (UTC-4) on Sunday 9 March: its weekend evenings (18-22) are
    # 23:00-03:00 UTC on Saturday the 8th (EST), then 22:00-02:00 UTC.
    evenings = _free_in(
        _halves(8, 23, 4) + _halves(9, 22, 4) + _halves(15, 22, 4) + _halves(16, 22, 4)
    )
    assert main["filter"] == ['genres IN ["jazz"]', evenings]
    assert genre["filter"] == [evenings]
    assert [c["filter"][0] for c in per_bucket] == ['genres IN ["jazz"]'] * 6
    assert all(len(c["filter"]) == 2 for c in per_bucket)
    assert per_bucket[5]["filter"][1] == evenings


async def test_counts_and_hits_are_merged_into_the_result(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.configure()
    stored = meili_settings.document_body(tutor(1))
    far = meili_settings.document_body(tutor(2, geo=GeoPoint(38.7223, -9.1393)))
    double.answer_searches(
        [
            search_result(
                "tutors",
                hits=[{**stored, "_geoDistance": 1234}, far],
                total=31,
                page=2,
                hits_per_page=2,
                facets={
                    "genres": {"jazz": 20, "blues": 3},
                    "levels": {"beginner": 31},
                    "format_choices": {"online": 30, "in_person": 4},
                },
            ),
            search_result(
                "tutors", hits_per_page=0, facets={"instruments": {"cello": 12, "violin": 31}}
            ),
            # One exact total per availability bucket, in the order of the week.
            *(search_result("tutors", hits_per_page=0, total=n) for n in (9, 14, 20, 3, 5, 0)),
        ]
    )
    query = SearchQuery(
        instruments=("violin",), location=GeoPoint(41.15, -8.61), page=2, per_page=2
    )
    result = await backend.search(query)

    assert result.backend == "meilisearch"
    assert (result.total, result.page, result.per_page, result.pages) == (31, 2, 2, 16)
    assert result.facets["instrument"] == {"violin": 31, "cello": 12}
    assert result.facets["genre"] == {"jazz": 20, "blues": 3}
    assert result.facets["format"] == {"online": 30, "in_person": 4}
    assert result.facets["language"] == {}
    assert result.facets["availability"] == {
        "weekday_morning": 9,
        "weekday_afternoon": 14,
        "weekday_evening": 20,
        "weekend_morning": 3,
        "weekend_afternoon": 5,
        "weekend_evening": 0,
    }
    first, second = result.hits
    assert first.document == tutor(1).as_dict()
    assert first.distance_km == pytest.approx(1.234)
    # No _geoDistance from Meilisearch (no distance sort): computed from _geo.
    assert second.document == tutor(2, geo=GeoPoint(38.7223, -9.1393)).as_dict()
    assert second.distance_km == pytest.approx(274.3, abs=1.0)


async def test_a_ticked_value_with_no_count_still_shows(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.configure()
    result = await backend.search(SearchQuery(genres=("blues",)))
    assert result.facets["genre"] == {"blues": 0}
    assert result.total == 0 and result.hits == []


# ---------------------------------------------------------------------- rebuild


async def test_rebuild_builds_aside_then_swaps(backend: MeiliBackend, double: MeiliDouble) -> None:
    await backend.configure()
    await backend.upsert([tutor(9)])
    before = len(double.calls())

    count = await backend.rebuild(batches([tutor(1), tutor(2), tutor(3)], [tutor(4)]))

    building = f"tutors_{STAMP}"
    writes = [(r.method, r.path) for r in double.calls()[before:] if r.method != "GET"]
    assert count == 4
    assert writes == [
        ("POST", "/indexes"),
        ("PATCH", f"/indexes/{building}/settings"),
        ("POST", f"/indexes/{building}/documents"),
        ("POST", f"/indexes/{building}/documents"),
        ("POST", f"/indexes/{building}/documents"),
        ("POST", "/swap-indexes"),
        ("DELETE", f"/indexes/{building}"),
    ]
    assert double.calls("POST", "/indexes")[-1].body == {"uid": building, "primaryKey": "id"}
    assert double.calls("PATCH")[-1].body == meili_settings.index_settings()
    assert double.calls("POST", "/swap-indexes")[0].body == [{"indexes": ["tutors", building]}]
    # Every document task was waited for before the swap.
    swap_at = next(i for i, r in enumerate(double.calls()) if r.path == "/swap-indexes")
    waited = {r.path for r in double.calls()[before:swap_at] if r.path.startswith("/tasks/")}
    documents = [
        t["uid"]
        for t in double.tasks.values()
        if t["type"] == "documentAdditionOrUpdate" and t["indexUid"] == building
    ]
    assert {f"/tasks/{uid}" for uid in documents} <= waited
    assert set(double.indexes) == {"tutors"}
    assert set(double.documents("tutors")) == {"1", "2", "3", "4"}


async def test_rebuild_creates_a_missing_live_index_first(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.rebuild(batches([tutor(1)]))
    creations = [c.body["uid"] for c in double.calls("POST", "/indexes")]
    assert creations == ["tutors", f"tutors_{STAMP}"]
    assert set(double.documents("tutors")) == {"1"}


async def test_a_failed_rebuild_leaves_the_live_index_alone(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.configure()
    await backend.upsert([tutor(9)])
    double.fail_next("documentAdditionOrUpdate", "Payload too large.", "payload_too_large")

    with pytest.raises(MeiliTaskError, match="Payload too large"):
        await backend.rebuild(batches([tutor(1)]))

    assert not double.calls("POST", "/swap-indexes")
    assert double.writes()[-1] == ("DELETE", f"/indexes/tutors_{STAMP}")
    assert set(double.indexes) == {"tutors"}
    assert set(double.documents("tutors")) == {"9"}


# ---------------------------------------------------------------------- failures


async def test_health(backend: MeiliBackend, double: MeiliDouble) -> None:
    with pytest.raises(RuntimeError, match="duet search reindex"):
        await backend.health()
    await backend.configure()
    assert await backend.health() == "meilisearch (available, index tutors)"
    assert double.calls("GET", "/health")


async def test_server_down_is_search_unavailable(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.configure()
    double.stop()
    for call in (
        backend.search(SearchQuery()),
        backend.upsert([tutor(1)]),
        backend.delete([1]),
        backend.health(),
        backend.rebuild(batches([tutor(1)])),
    ):
        with pytest.raises(SearchUnavailable) as failure:
            await call
        assert (failure.value.status_code, failure.value.code) == (503, "search_unavailable")


async def test_server_errors_are_search_unavailable(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.configure()
    double.error_status = 503
    with pytest.raises(SearchUnavailable):
        await backend.search(SearchQuery(q="piano"))


async def test_a_wrong_key_is_an_error_not_an_outage(double: MeiliDouble) -> None:
    meili = MeiliBackend(double.url, "wrong-key")
    try:
        with pytest.raises(Exception, match="invalid_api_key") as failure:
            await meili.search(SearchQuery())
        assert not isinstance(failure.value, SearchUnavailable)
    finally:
        await meili.aclose()


# ---------------------------------------------------------------------- wiring and live


async def test_the_factory_picks_meilisearch_when_meili_url_is_set() -> None:
    from dataclasses import replace

    from marketplace.settings import Settings
    from search.factory import build_search_backend

    base = Settings()
    settings = replace(base, search=replace(base.search, url="http://127.0.0.1:7700", api_key="k"))
    backend = build_search_backend(settings, engine=None)  # type: ignore[arg-type]
    assert isinstance(backend, MeiliBackend)
    assert backend.index_uid == "tutors"
    await backend.aclose()


async def test_drop_deletes_the_index_and_tolerates_a_missing_one(
    backend: MeiliBackend, double: MeiliDouble
) -> None:
    await backend.configure()
    await backend.drop()
    await backend.drop()
    assert double.writes()[-2:] == [("DELETE", "/indexes/tutors"), ("DELETE", "/indexes/tutors")]
    assert not double.indexes


LIVE_URL = os.environ.get("MEILI_URL")


@pytest.mark.skipif(not LIVE_URL, reason="MEILI_URL is not set: no live Meilisearch to test")
async def test_live_round_trip() -> None:
    """The same backend against a real server: settings accepted, typo and synonym matches,
    disjunctive counts, distance order, and a rebuild swapped in."""
    assert LIVE_URL
    meili = MeiliBackend(
        LIVE_URL, os.environ.get("MEILI_API_KEY", ""), index_uid=f"duet_test_{uuid.uuid4().hex}"
    )
    lisbon = GeoPoint(38.7223, -9.1393)
    violin = (Teaching("violin", "Violin", ("beginner",)),)
    sax = (Teaching("saxophone", "Saxophone", ("advanced",)),)
    try:
        await meili.configure()
        await meili.upsert([tutor(1), tutor(2, teaches=sax, genres=("blues",), geo=lisbon)])
        count = await meili.rebuild(
            batches([tutor(1, teaches=violin), tutor(2, teaches=sax, geo=lisbon), tutor(3)])
        )
        assert count == 3
        assert "available" in await meili.health()

        typo = await meili.search(SearchQuery(q="vilon"))
        assert {h.document["id"] for h in typo.hits} == {1, 3}
        synonym = await meili.search(SearchQuery(q="sax"))
        assert [h.document["id"] for h in synonym.hits] == [2]

        ticked = await meili.search(SearchQuery(instruments=("violin",)))
        assert ticked.total == 2
        assert ticked.facets["instrument"]["saxophone"] == 1
        assert ticked.facets["instrument"]["violin"] == 2

        near = await meili.search(
            SearchQuery(location=lisbon, radius_km=400, sort=Sort.DISTANCE, per_page=2, page=1)
        )
        assert near.total == 3
        closest = near.hits[0]
        assert closest.document["id"] == 2
        assert closest.distance_km == pytest.approx(0, abs=0.1)
    finally:
        await meili.drop()
        await meili.aclose()
