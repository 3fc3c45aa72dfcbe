"""The facet index path answers exactly as the SQL path: the same hits in the same order, the
same distances, totals and disjunctive counts, on the demo tutors and on 10,000 generated ones,
for a few hundred searches of every kind (text, facets, places, prices, free time in zones with
and without a clock change in the fortnight, every sort, later pages)."""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from marketplace import db, places
from marketplace.privacy import registry as privacy_rules
from marketplace.profiles.models import LessonPrice, TutorInstrument, TutorProfile
from marketplace.seed.demo_data import DemoTutor, _resolved_cities, demo_tutors
from search import buckets
from search.backends import complete_facets
from search.documents import TutorDocument, build_document
from search.postgres_backend import PostgresBackend
from search.query import FORMAT_CHOICES, SearchQuery, Sort, build_query

# Ten days before Europe's spring change: a Berlin viewer's fortnight has two offsets, so its
# buckets are read from the half-hour words; Tokyo keeps one offset (the precomputed bits).
NOW = datetime(2026, 3, 19, 9, 30, tzinfo=UTC)
ZONES = ("UTC", "Europe/Berlin", "Asia/Tokyo", "America/New_York", "Asia/Kolkata")
WORDS = ["vilon", "gitar", "paino", "jaz", "drums", "singing", "saxofone", "fado", "blues guitar",
         "classical piano", "jazz piano", "ukulele", "lisboa", "berlin", "maria", "xq"]  # fmt: skip
INSTRUMENTS = ["piano", "acoustic-guitar", "electric-guitar", "violin", "voice", "drums",
               "cello", "saxophone", "flute", "ukulele"]  # fmt: skip
GENRES = ["jazz", "classical", "rock", "pop", "folk", "blues", "latin", "fado"]
LANGUAGES = ["en", "es", "pt", "fr", "de"]
LEVELS = ["beginner", "intermediate", "advanced"]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


def documents(tutors: Sequence[DemoTutor], seed: int) -> Iterator[TutorDocument]:
    """Documents from demo tutors, spread over their metro areas, with ratings that tie often
    (so every tie-break is exercised) and random free time around ``NOW``."""
    rng = random.Random(seed)
    for tutor_id, demo in enumerate(tutors, start=1):
        city = places.get_city(demo.city_geoname_id)
        assert city is not None
        distance, bearing = 20 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        profile = TutorProfile(
            user_id=tutor_id * 7,  # ids with gaps, as user ids are
            status="approved",
            display_name=demo.display_name,
            headline=demo.headline,
            bio_markdown=demo.bio_markdown,
            genres=list(demo.genres),
            languages=list(demo.languages),
            formats=list(demo.formats),
            travel_radius_km=demo.travel_radius_km,
            city_geoname_id=city.geoname_id,
            city_name=city.name,
            country_code=city.country_code,
            latitude=city.latitude + distance / 111.2 * math.cos(bearing),
            longitude=city.longitude
            + distance / (111.2 * math.cos(math.radians(city.latitude))) * math.sin(bearing),
            currency="EUR",
            instruments=[
                TutorInstrument(instrument=slug, levels=list(levels), position=i)
                for i, (slug, levels) in enumerate(demo.instruments)
            ],
            prices=[LessonPrice(duration_minutes=d, price_minor=p) for d, p in demo.prices],
        )
        reviewed = rng.random() < 0.6
        free = sorted(rng.sample(range(buckets.HALF_HOURS), rng.choice([0, 3, 12, 40])))
        yield replace(
            build_document(profile, "/media/{}".format),
            rating=rng.choice([4.0, 4.5, 5.0]) if reviewed else None,
            review_count=rng.choice([1, 2, 10]) if reviewed else 0,
            ranking_score=rng.choice([3.9, 4.2, 4.6]) if reviewed else None,
            next_free_at=NOW + timedelta(hours=rng.choice([2, 30, 200]))
            if rng.random() < 0.8
            else None,
            free_half_hours=tuple(free),
        )


def searches(count: int, seed: int) -> list[SearchQuery]:
    rng = random.Random(seed)
    cities = [city.geoname_id for _, city in _resolved_cities()]
    out = [SearchQuery(), build_query(page=2), build_query(sort="price_desc", page=3)]
    while len(out) < count:
        params: dict[str, Any] = {"tz": rng.choice(ZONES)}
        if rng.random() < 0.4:
            params["q"] = rng.choice(WORDS)
        for name, values in (("instrument", INSTRUMENTS), ("genre", GENRES),
                             ("language", LANGUAGES), ("level", LEVELS),
                             ("format", list(FORMAT_CHOICES))):  # fmt: skip
            if rng.random() < 0.25:
                params[name] = rng.sample(values, rng.choice([1, 1, 2]))
        if rng.random() < 0.25:
            params["availability"] = [rng.choice(buckets.BUCKETS).slug]
        if rng.random() < 0.2:
            params["near"] = rng.choice(cities)
            params["radius_km"] = rng.choice([5, 25, 100, 500])
        elif rng.random() < 0.05:
            params["lat"], params["lng"] = 48.85, 2.35  # everyone, by distance
        if rng.random() < 0.25:
            params["price_max"] = rng.choice([3000, 4500, 6000])
        if rng.random() < 0.1:
            params["price_min"] = rng.choice([1500, 2500])
        if rng.random() < 0.1:
            params["rating_min"] = rng.choice([4.5, 5.0])
        if rng.random() < 0.05:
            params["free_within_days"] = rng.choice([1, 7])
        sorts = [s.value for s in Sort if s is not Sort.DISTANCE]
        if "near" in params or "lat" in params:
            sorts.append(Sort.DISTANCE.value)
        params["sort"] = rng.choice(sorts)
        params["page"] = rng.choice([1, 1, 1, 2, 4])
        params["per_page"] = rng.choice([20, 20, 7, 50])
        out.append(build_query(**params))
    return out


async def compare(
    engine: AsyncEngine, queries: Sequence[SearchQuery], indexed: PostgresBackend | None = None
) -> int:
    """Every query through both paths (the facet index of ``indexed``, else a new one);
    returns how many matched anything."""
    sql = PostgresBackend(engine, result_cache_size=0, facet_index=False, now=lambda: NOW)
    if indexed is None:
        indexed = PostgresBackend(engine, result_cache_size=0, now=lambda: NOW)
    day = buckets.window_day(NOW)
    found = 0
    for query in queries:
        hours = buckets.bucket_hours(query.time_zone, NOW)
        fast = await indexed._search_indexed(query, hours, day)
        assert fast is not None, "the facet index must answer while the index is unchanged"
        slow = await sql.search(query)
        assert [(h.document["id"], h.distance_km) for h in fast.hits] == [
            (h.document["id"], h.distance_km) for h in slow.hits
        ], query
        assert [h.document for h in fast.hits] == [h.document for h in slow.hits]
        assert fast.total == slow.total, query
        assert complete_facets(query, fast.facets) == slow.facets, query
        found += bool(slow.total)
    return found


async def test_the_demo_tutors_answer_the_same_on_both_paths(engine: AsyncEngine) -> None:
    docs = list(documents(demo_tutors(200), seed=1))
    await PostgresBackend(engine).rebuild(_one(docs))
    assert await compare(engine, searches(250, seed=2)) > 150


@pytest.mark.slow  # over a minute on a loaded machine: handed out early under xdist
async def test_ten_thousand_tutors_answer_the_same_on_both_paths(engine: AsyncEngine) -> None:
    docs = list(documents(demo_tutors(10_000, seed=11), seed=3))
    await PostgresBackend(engine).rebuild(_batches(docs, 2_000))
    assert await compare(engine, searches(250, seed=4)) > 150


async def test_a_write_sends_searches_to_sql_until_the_index_is_refreshed(
    engine: AsyncEngine,
) -> None:
    docs = list(documents(demo_tutors(40), seed=5))
    await PostgresBackend(engine).rebuild(_one(docs))
    # Full reloads only (the fallback when catching up from the change log cannot).
    slow = PostgresBackend(
        engine, result_cache_size=0, index_refresh_s=3600, incremental=False, now=lambda: NOW
    )
    quick = PostgresBackend(
        engine, result_cache_size=0, index_refresh_s=0, incremental=False, now=lambda: NOW
    )
    piano = build_query(instrument=["piano"])
    for backend in (slow, quick):
        await backend.search(piano)  # loads the index
        assert backend._index is not None and not backend._index_stale
    before = (await slow.search(piano)).total
    pianist = next(d for d in docs if "piano" in d.instruments)
    await slow.delete([pianist.id])
    # The writer's own process and every other one see the change at once: the stale index
    # is noticed from the generation, and the search is answered by SQL.
    assert (await slow.search(piano)).total == before - 1
    assert slow._index_stale
    assert (await slow.search(piano)).total == before - 1  # still SQL: no reload within 1 h
    assert (await quick.search(piano)).total == before - 1  # reloaded at once
    assert quick._index is not None and not quick._index_stale
    async with engine.connect() as conn:
        generation = await conn.scalar(
            text("SELECT generation::text FROM search_index_state WHERE id = 1")
        )
    assert quick._index.generation == generation


def _indexed(engine: AsyncEngine, **options: Any) -> PostgresBackend:
    options.setdefault("index_refresh_s", 3600)  # no full reload unless the test allows one
    return PostgresBackend(engine, result_cache_size=0, now=lambda: NOW, **options)


async def test_single_changes_are_caught_up_without_a_full_reload(engine: AsyncEngine) -> None:
    docs = list(documents(demo_tutors(200), seed=6))
    await PostgresBackend(engine).rebuild(_one(docs))
    writer, indexed = PostgresBackend(engine), _indexed(engine)
    await indexed.search(SearchQuery())  # the one full load
    rng = random.Random(7)
    queries = searches(40, seed=8)
    top = max(d.id for d in docs)
    deleted: list[TutorDocument] = []
    changes = [
        # another tutor's instruments, genres, prices, place, rating and free time
        lambda: writer.upsert([replace(rng.choice(docs), id=rng.choice(docs).id)]),
        lambda: writer.upsert([replace(rng.choice(docs), id=top + 1)]),  # a new tutor
        lambda: _delete(writer, docs, deleted, rng),
        lambda: writer.upsert([deleted.pop()]),  # back from a tombstone
        lambda: _delete(writer, docs, deleted, rng),
        lambda: writer.upsert([replace(rng.choice(docs), id=top + 2)]),
        lambda: writer.upsert(  # a write the index's generation already holds nothing of
            [replace(d, id=top + 3) for d in rng.sample(docs, 1)]
        ),
        lambda: writer.delete([top + 3]),  # added and deleted again
    ]
    for step, change in enumerate(changes, start=1):
        await change()
        assert await compare(engine, queries, indexed) > 20
        assert indexed.index_loads == 1
        assert indexed.index_catch_ups == step
        assert indexed._index is not None and indexed._index.generation == await _generation(engine)
    # Two changes between searches are caught up in one patch.
    await writer.upsert([replace(docs[0], rating=1.0, ranking_score=0.5)])
    await writer.upsert([replace(docs[1], price_per_hour_minor=100)])
    await compare(engine, queries, indexed)
    assert (indexed.index_loads, indexed.index_catch_ups) == (1, len(changes) + 1)


async def _delete(
    writer: PostgresBackend,
    docs: list[TutorDocument],
    deleted: list[TutorDocument],
    rng: random.Random,
) -> None:
    gone = docs.pop(rng.randrange(len(docs)))
    deleted.append(gone)
    await writer.delete([gone.id])


async def _generation(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT generation::text FROM search_index_state WHERE id = 1")
        )
    assert isinstance(found, str)
    return found


async def test_a_burst_or_a_rebuild_falls_back_to_a_full_reload(engine: AsyncEngine) -> None:
    docs = list(documents(demo_tutors(200), seed=9))
    await PostgresBackend(engine).rebuild(_one(docs))
    writer, indexed = PostgresBackend(engine), _indexed(engine, index_refresh_s=0)
    queries = searches(30, seed=10)
    await indexed.search(SearchQuery())
    # 30 of 200 rows (over 5 %) in one write: reading them all is cheaper than patching.
    await writer.upsert([replace(d, rating=None, ranking_score=None) for d in docs[:30]])
    await compare(engine, queries, indexed)
    assert (indexed.index_loads, indexed.index_catch_ups) == (2, 0)
    # 11 single writes: each is small, but together they are over 5 %.
    for d in docs[30:41]:
        await writer.upsert([replace(d, review_count=99)])
    await compare(engine, queries, indexed)
    assert (indexed.index_loads, indexed.index_catch_ups) == (3, 0)
    # A rebuild empties the change log: nothing to catch up from.
    await writer.rebuild(_one(docs[:150]))
    await compare(engine, queries, indexed)
    assert (indexed.index_loads, indexed.index_catch_ups) == (4, 0)
    # A new tutor whose id falls between existing ones cannot be appended in tutor-id order.
    gap = next(d.id + 1 for d in docs if d.id + 1 not in {e.id for e in docs})
    await writer.upsert([replace(docs[170], id=gap)])
    await compare(engine, queries, indexed)
    assert (indexed.index_loads, indexed.index_catch_ups) == (5, 0)
    await writer.upsert([replace(docs[171], id=max(d.id for d in docs) + 1)])
    await compare(engine, queries, indexed)
    assert (indexed.index_loads, indexed.index_catch_ups) == (5, 1)


async def test_searches_during_concurrent_writes_each_describe_one_generation(
    engine: AsyncEngine,
) -> None:
    """A writer deletes, restores and changes tutors while two processes search: every answer
    from a facet index has exactly the total and instrument counts of the generation it names."""
    docs = {d.id: d for d in documents(demo_tutors(300), seed=12)}
    await PostgresBackend(engine).rebuild(_one(list(docs.values())))
    writer = PostgresBackend(engine)
    expected = {await _generation(engine): _expected(docs)}
    readers = [_indexed(engine), _indexed(engine)]
    everyone, day = SearchQuery(), buckets.window_day(NOW)
    hours = buckets.bucket_hours("UTC", NOW)
    seen: list[tuple[str | None, int, dict[str, int]]] = []
    done = False

    async def write() -> None:
        nonlocal done
        rng = random.Random(13)
        live, gone = sorted(docs), list[int]()
        pool = list(docs.values())
        for _ in range(60):
            action = rng.random()
            if action < 0.3 and len(live) > 292:  # tombstones stay under 5 %
                victim = live.pop(rng.randrange(len(live)))
                gone.append(victim)
                del docs[victim]
                await writer.delete([victim])
            elif action < 0.5 and gone:
                back = gone.pop()
                docs[back] = next(d for d in pool if d.id == back)
                live.append(back)
                await writer.upsert([docs[back]])
            else:
                target = rng.choice(live)
                docs[target] = replace(rng.choice(pool), id=target)
                await writer.upsert([docs[target]])
            # One writer: the generation now current is this write's.
            expected[await _generation(engine)] = _expected(docs)
            await asyncio.sleep(0)
        done = True

    async def read(backend: PostgresBackend) -> None:
        while not done:
            rows = await backend._search_indexed(everyone, hours, day)
            if rows is not None:
                seen.append((rows.generation, rows.total, rows.facets["instrument"]))
            await asyncio.sleep(0)  # an answer without a statement must not starve the writer

    # Each reader holds its index before the first write. Loaded after a delete, an index
    # lacks that tutor, and their return (an id below the largest) needs the full reload this
    # test forbids: whether that happened depended on scheduling.
    for backend in readers:
        assert await backend._search_indexed(everyone, hours, day) is not None
    await asyncio.gather(write(), read(readers[0]), read(readers[0]), read(readers[1]))
    assert len(seen) > 60
    for generation, total, instruments in seen:
        assert generation in expected
        assert (total, instruments) == expected[generation]
    for reader in readers:
        assert reader.index_loads == 1 and reader.index_catch_ups > 10
    assert await compare(engine, searches(40, seed=14), readers[0]) > 20


async def test_an_erased_tutor_leaves_every_facet_index_at_once(engine: AsyncEngine) -> None:
    docs = list(documents(demo_tutors(60), seed=15))
    await PostgresBackend(engine).rebuild(_one(docs))
    indexed = _indexed(engine)
    assert (await indexed.search(SearchQuery())).total == 60
    rule = next(r for r in privacy_rules.RULES if r.table == "search_documents")
    async with engine.begin() as conn:
        for statement in rule.erase:
            await conn.execute(text(statement), {"uid": docs[5].id})
    assert (await indexed.search(SearchQuery())).total == 59
    assert (indexed.index_loads, indexed.index_catch_ups) == (1, 1)
    await compare(engine, searches(20, seed=16), indexed)


def _expected(docs: dict[int, TutorDocument]) -> tuple[int, dict[str, int]]:
    counts = Counter(i for d in docs.values() for i in d.instruments)
    return len(docs), dict(counts)


async def _one(docs: Sequence[TutorDocument]) -> AsyncIterator[Sequence[TutorDocument]]:
    yield docs


async def _batches(
    docs: Sequence[TutorDocument], size: int
) -> AsyncIterator[Sequence[TutorDocument]]:
    for start in range(0, len(docs), size):
        yield docs[start : start + size]


@pytest.mark.parametrize("changes", [3, 400])  # placed by binary search; sorted again
def test_a_patched_index_equals_one_built_from_the_same_rows(changes: int) -> None:
    """Without a database: patches (updates, deletes, revivals, appended tutors) give the same
    bitmaps and sort orders as an index built from scratch from the resulting rows."""
    from search import facet_index as fi

    rng = np.random.default_rng(changes)
    value_sets = {i: tuple(f"v{j}" for j in range(i % 4, i % 4 + 1 + i % 3)) for i in range(12)}

    def columns(ids: Any, generation: str) -> fi.Columns:
        n = len(ids)
        ties = [0.5, 1.0, float("nan")]  # ties and NULLs on every key
        return fi.Columns(
            generation=generation,
            tutor_id=np.asarray(ids, dtype=np.int64),
            sets={f: rng.integers(0, 12, n) for f in fi.SET_COLUMNS},
            # next_free is never NULL (NaN) but +inf, as the index reads it
            floats={
                c: rng.choice([0.5, 1.0, np.inf] if c == "next_free" else ties, n)
                for c in fi.FLOAT_COLUMNS
            },
            ints={c: rng.integers(0, 3, n) for c in fi.INT_COLUMNS},
            seq=int(generation),
        )

    def rows_by_id(index: fi.FacetIndex, at: Any) -> dict[int, Any]:
        return {int(index.tutor_ids[r]): r for r in at}

    ids = np.arange(1, 3001) * 2
    index = fi.FacetIndex(columns(ids, "1"), value_sets)
    live = {int(i): None for i in ids}
    current = {
        int(t): (index, r) for t, r in zip(index.tutor_ids.tolist(), range(index.size), strict=True)
    }
    for step in range(2, 6):
        changed = rng.choice(sorted(live), changes, replace=False).tolist()
        gone, updated = changed[: changes // 3], changed[changes // 3 :]
        added = [max(index.tutor_ids.tolist()) + 1 + i for i in range(changes // 5 + 1)]
        new_rows = columns(updated + added, str(step))
        patched = index.patched(gone + updated + added, new_rows, {})
        assert patched is not None and patched.seq == step
        for t in gone:
            live.pop(t)
            current.pop(t)
        for i, t in enumerate(updated + added):
            live[t] = None
            current[t] = (new_rows, i)
        index = patched
    # The same rows, built at once.
    final = sorted(current)

    def column(get: Any) -> Any:
        out = []
        for t in final:
            source, r = current[t]
            out.append(get(source, r))
        return np.asarray(out)

    def value(kind: str, name: str) -> Any:
        def get(source: Any, r: int) -> Any:
            if isinstance(source, fi.FacetIndex):
                return getattr(source, f"_{kind}")[name][r]
            return getattr(source, kind)[name][r]

        return column(get)

    fresh = fi.FacetIndex(
        fi.Columns(
            generation="x",
            tutor_id=np.asarray(final, dtype=np.int64),
            sets={f: value("sets", f) for f in fi.SET_COLUMNS},
            floats={c: value("floats", c) for c in fi.FLOAT_COLUMNS},
            ints={c: value("ints", c) for c in fi.INT_COLUMNS},
        ),
        value_sets,
    )
    assert sorted(index.tutor_ids[fi.rows_of(index.everyone)].tolist()) == final
    for facet in fi.SET_COLUMNS:
        assert {
            v: sorted(index.tutor_ids[fi.rows_of(b)].tolist())
            for v, b in index.values[facet].items()
        } == {
            v: sorted(fresh.tutor_ids[fi.rows_of(b)].tolist())
            for v, b in fresh.values[facet].items()
        }
    for sort in Sort:
        if sort is Sort.DISTANCE:
            continue
        assert index.tutor_ids[index._order(sort)].tolist() == (
            fresh.tutor_ids[fresh._order(sort)].tolist()
        ), sort
    # Groups: the same ties among live rows.
    live_rows = fi.rows_of(index.everyone).astype(np.int64)
    for name in ("quality_group", "soonest_group"):
        ours = getattr(index, name)[live_rows]
        theirs = getattr(fresh, name)[np.searchsorted(fresh.tutor_ids, index.tutor_ids[live_rows])]
        assert (np.argsort(ours, kind="stable") == np.argsort(theirs, kind="stable")).all()
        assert ((ours[:, None] == ours[None, :]) == (theirs[:, None] == theirs[None, :])).all()
