"""Search benchmark: the PostgreSQL backend at 10,000 and 100,000 tutors.

    .venv/bin/python bench/search.py                 # both sizes, direct and through the API
    .venv/bin/python bench/search.py --sizes 10000 --seconds 5
    .venv/bin/python bench/search.py --sizes 100000 --writes 20 --writes-only --seconds 20

Tutors come from the deterministic demo generator (real cities, instruments and genres that
fit the place, local price levels), with coordinates spread over each metro area. They are
loaded with the backend's own atomic rebuild into a throwaway embedded PostgreSQL in a
temporary folder (never the system PostgreSQL). A fixed mix of queries (typo text, facets, geo
radius with distance sort, combined filters, browsing) then runs directly against the backend
and through the HTTP API (uvicorn on 127.0.0.1, an httpx client), each for a bounded count and
time, and the p50/p95/p99 latency and queries per second are printed. ``--writes N`` also runs
the varied mix while a writer changes N tutors a second, with full index reloads only and then
catching up from the change log, and prints both and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.server_env import bench_secrets, wait_healthy
from marketplace import db, migrate, places
from marketplace.profiles.models import LessonPrice, TutorInstrument, TutorProfile
from marketplace.seed.demo_data import DemoTutor, demo_tutors
from scheduling import slots
from scheduling.availability import Window, rules_from_windows
from scheduling.demo import PATTERNS, WEEKDAYS, clock
from search.availability import summarise
from search.documents import TutorDocument, build_document
from search.postgres_backend import PostgresBackend
from search.query import build_query

SEED = 7
METRO_RADIUS_KM = 20.0
LOAD_BATCH = 2000


# ------------------------------------------------------------------ data


def documents(count: int, seed: int = SEED) -> Iterator[TutorDocument]:
    """``count`` documents built by the real ``build_document`` from demo profiles, with free
    time from scheduling's slot computation over the demo weekly hours (in the city's zone)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    for tutor_id, demo in enumerate(demo_tutors(count, seed=seed), start=1):
        profile = _profile(tutor_id, demo, rng)
        free = summarise(_calendar(tutor_id, demo, rng), 60, now)
        yield build_document(profile, lambda key: f"/media/{key}", free=free)


def _calendar(tutor_id: int, demo: DemoTutor, rng: random.Random) -> slots.Calendar:
    """Weekly hours like the demo's, a few lessons already booked."""
    weekday_windows, weekend_windows = rng.choice(PATTERNS)
    days = [d for d in WEEKDAYS if rng.random() > 0.2] or ["WE"]
    weekend = ["SA"] if weekend_windows and rng.random() > 0.3 else []
    windows = [
        Window(day, clock(start), clock(end))
        for day_list, spans in ((days, weekday_windows), (weekend, weekend_windows))
        for day in day_list
        for start, end in spans
    ]
    rules = rules_from_windows(tutor_id, windows, demo.time_zone)
    return slots.Calendar(
        time_zone=demo.time_zone,
        weekly=[
            slots.WeeklyRule(r.rrule, r.dtstart, r.time_zone, r.duration_minutes) for r in rules
        ],
        rules=slots.Rules(min_notice=rng.choice((120, 720, 1440)), max_per_day=4),
    )


def _profile(tutor_id: int, demo: DemoTutor, rng: random.Random) -> TutorProfile:
    city = places.get_city(demo.city_geoname_id)
    assert city is not None
    # Spread tutors over the metro area: uniform over a disc, not all on the city centre.
    distance = METRO_RADIUS_KM * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    lat = city.latitude + distance / 111.2 * math.cos(bearing)
    lng = city.longitude + distance / (111.2 * math.cos(math.radians(city.latitude))) * math.sin(
        bearing
    )
    return TutorProfile(
        user_id=tutor_id,
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
        latitude=lat,
        longitude=lng,
        currency="EUR",
        photo_key=f"photos/{tutor_id % 97:02d}/bench{tutor_id}" if tutor_id % 3 else None,
        instruments=[
            TutorInstrument(instrument=slug, levels=list(levels), position=i)
            for i, (slug, levels) in enumerate(demo.instruments)
        ],
        prices=[LessonPrice(duration_minutes=d, price_minor=p) for d, p in demo.prices],
    )


async def _batches(docs: Sequence[TutorDocument]) -> AsyncIterator[Sequence[TutorDocument]]:
    for start in range(0, len(docs), LOAD_BATCH):
        yield docs[start : start + LOAD_BATCH]


# ------------------------------------------------------------------ the query mix


def _city(name: str, country: str) -> int:
    city = places.find_city(name, country)
    assert city is not None, name
    return city.geoname_id


def query_mix() -> list[tuple[str, dict[str, Any]]]:
    """A fixed mix, as students search: (kind, API parameters)."""
    london, paris, berlin = _city("London", "GB"), _city("Paris", "FR"), _city("Berlin", "DE")
    lisbon, porto, nyc = _city("Lisbon", "PT"), _city("Porto", "PT"), _city("New York", "US")
    sao_paulo, mumbai = _city("São Paulo", "BR"), _city("Mumbai", "IN")
    madrid, tokyo = _city("Madrid", "ES"), _city("Tokyo", "JP")
    return [
        # typo text
        ("text", {"q": "vilon"}),
        ("text", {"q": "gitar"}),
        ("text", {"q": "paino lessons"}),
        ("text", {"q": "jaz"}),
        ("text", {"q": "drums"}),
        ("text", {"q": "singing"}),
        ("text", {"q": "saxofone"}),
        ("text", {"q": "trumpt"}),
        # facets
        ("facets", {"instrument": ["piano"]}),
        ("facets", {"instrument": ["violin"], "level": ["beginner"]}),
        ("facets", {"genre": ["jazz"], "language": ["en"]}),
        ("facets", {"instrument": ["acoustic-guitar", "electric-guitar"], "format": ["online"]}),
        ("facets", {"language": ["pt"], "format": ["in_person"]}),
        ("facets", {"genre": ["classical"], "level": ["advanced"]}),
        ("facets", {"instrument": ["voice"], "genre": ["pop"]}),
        ("facets", {"format": ["student_home"], "instrument": ["drums"]}),
        # geo radius, nearest first
        ("geo", {"near": london, "radius_km": 10, "sort": "distance"}),
        ("geo", {"near": paris, "radius_km": 25, "sort": "distance"}),
        ("geo", {"near": berlin, "radius_km": 50, "sort": "distance"}),
        ("geo", {"near": lisbon, "radius_km": 15, "sort": "distance"}),
        ("geo", {"near": nyc, "radius_km": 25, "sort": "distance"}),
        ("geo", {"near": mumbai, "radius_km": 30, "sort": "distance"}),
        ("geo", {"lat": 41.15, "lng": -8.61, "radius_km": 5, "sort": "distance"}),
        ("geo", {"near": tokyo, "radius_km": 100, "sort": "distance"}),
        # combined
        ("combined", {"q": "jazz piano", "near": london, "radius_km": 30, "price_max": 6000,
                      "sort": "price_asc"}),
        ("combined", {"q": "fado", "near": lisbon, "radius_km": 25}),
        ("combined", {"instrument": ["violin"], "near": berlin, "radius_km": 50,
                      "language": ["de"], "sort": "distance"}),
        ("combined", {"q": "guitar", "format": ["online"], "price_max": 4000}),
        ("combined", {"genre": ["latin"], "near": sao_paulo, "radius_km": 25,
                      "level": ["beginner"]}),
        ("combined", {"q": "flamenco", "near": madrid, "radius_km": 20, "sort": "distance"}),
        ("combined", {"instrument": ["piano"], "language": ["fr"], "price_min": 3000,
                      "price_max": 7000, "sort": "price_desc"}),
        ("combined", {"q": "vilon", "near": porto, "radius_km": 50, "format": ["in_person"]}),
        # browsing
        ("browse", {}),
        ("browse", {"page": 3}),
        ("browse", {"sort": "price_asc"}),
        ("browse", {"near": paris, "sort": "distance"}),
    ]  # fmt: skip


def with_availability(mix: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The same mix with a bucket in the viewer's zone added to every search (rotating
    through buckets and zones), and the soonest-free order on the browsing ones."""
    zones = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata")
    buckets_ = ("weekday_evening", "weekday_morning", "weekend_afternoon", "weekday_afternoon")
    out = []
    for i, (kind, params) in enumerate(mix):
        extra: dict[str, Any] = {"availability": [buckets_[i % 4]], "tz": zones[i % 4 - 1]}
        if kind == "browse" and "sort" not in params:
            extra["sort"] = "soonest"
        out.append((kind, {**params, **extra}))
    return out


def varied_mix(count: int, seed: int = SEED) -> list[tuple[str, dict[str, Any]]]:
    """``count`` distinct searches drawn from the same kinds, so few of them repeat (a cache
    cannot help): random instruments, genres, languages, cities, radii and prices."""
    from marketplace.seed.demo_data import _resolved_cities

    rng = random.Random(seed)
    cities = [city.geoname_id for _, city in _resolved_cities()]
    instruments = [
        "piano",
        "acoustic-guitar",
        "electric-guitar",
        "violin",
        "voice",
        "drums",
        "cello",
        "saxophone",
        "flute",
        "bass-guitar",
        "trumpet",
        "ukulele",
    ]
    genres = ["jazz", "classical", "rock", "pop", "folk", "blues", "latin", "fado", "soul"]
    languages = ["en", "es", "pt", "fr", "de", "it"]
    words = [
        "vilon",
        "gitar",
        "paino",
        "jaz",
        "drums",
        "singing",
        "saxofone",
        "trumpt",
        "flamenco",
        "blues guitar",
        "classical piano",
        "fado",
        "jazz piano",
        "ukulele",
    ]
    out: list[tuple[str, dict[str, Any]]] = []
    while len(out) < count:
        kind = rng.choice(["text", "facets", "geo", "combined", "browse"])
        params: dict[str, Any] = {}
        if kind in ("text", "combined"):
            params["q"] = rng.choice(words)
        if kind in ("facets", "combined") or rng.random() < 0.2:
            params["instrument"] = rng.sample(instruments, rng.choice([1, 1, 2]))
            if rng.random() < 0.5:
                params["genre"] = [rng.choice(genres)]
            if rng.random() < 0.4:
                params["language"] = [rng.choice(languages)]
        if kind in ("geo", "combined"):
            params["near"] = rng.choice(cities)
            params["radius_km"] = rng.choice([5, 10, 25, 50, 100])
            params["sort"] = rng.choice(["distance", "relevance", "price_asc"])
        if kind == "browse":
            params["page"] = rng.randint(1, 30)
            params["sort"] = rng.choice(["relevance", "price_asc", "price_desc", "rating"])
        if rng.random() < 0.3:
            params["price_max"] = rng.choice([3000, 4000, 5000, 6000, 8000])
        out.append((kind, params))
    return out


# ------------------------------------------------------------------ measuring


@dataclass
class Run:
    label: str
    latencies_ms: list[float]
    elapsed_s: float
    by_kind: dict[str, list[float]]

    def percentile(self, values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    def report(self) -> str:
        lat = self.latencies_ms
        line = (
            f"  {self.label:<28} n={len(lat):>5}  p50={self.percentile(lat, 50):6.1f} ms  "
            f"p95={self.percentile(lat, 95):6.1f} ms  p99={self.percentile(lat, 99):6.1f} ms  "
            f"{len(lat) / self.elapsed_s:7.1f} q/s"
        )
        kinds = "  ".join(
            f"{kind} p50={self.percentile(v, 50):.1f}/p95={self.percentile(v, 95):.1f}"
            for kind, v in self.by_kind.items()
        )
        return f"{line}\n    by kind (ms): {kinds}"

    def ratio(self, baseline: Run, what: str) -> str:
        """This run's latencies against ``baseline``'s, measured in the same process."""
        ours, theirs = self.latencies_ms, baseline.latencies_ms
        parts = [
            f"p{p}={self.percentile(ours, p) / self.percentile(theirs, p):.2f}x"
            for p in (50, 95, 99)
        ]
        name = "the same mix with SQL counts" if what == "sql" else "the fixed mix"
        return f"    against {name}: {'  '.join(parts)}"


async def run_direct(
    label: str,
    backend: PostgresBackend,
    mix: list[tuple[str, dict[str, Any]]],
    seconds: float,
    limit: int,
    warm_up: bool = True,
) -> Run:
    queries = [(kind, build_query(**params)) for kind, params in mix]
    for _, query in queries[: len(queries) if warm_up else 10]:  # connections, plans, caches
        await backend.search(query)
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {}
    started = time.perf_counter()
    while len(latencies) < limit and time.perf_counter() - started < seconds:
        for kind, query in queries:
            # The bounds hold inside a pass too: the varied mix is thousands of searches.
            if len(latencies) >= limit or time.perf_counter() - started >= seconds:
                break
            t0 = time.perf_counter()
            await backend.search(query)
            ms = (time.perf_counter() - t0) * 1000
            latencies.append(ms)
            by_kind.setdefault(kind, []).append(ms)
    return Run(label, latencies, time.perf_counter() - started, by_kind)


async def run_api(
    label: str,
    base_url: str,
    mix: list[tuple[str, dict[str, Any]]],
    seconds: float,
    limit: int,
    concurrency: int,
) -> Run:
    import httpx

    path = "/api/v1/tutors/search?"
    urls = [(kind, path + urlencode(params, doseq=True)) for kind, params in mix]
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        for _, url in urls[:40]:  # warm-up: connections, plans, the whole-index counts
            response = await client.get(url)
            assert response.status_code in (200, 422), response.text
        started = time.perf_counter()
        deadline = started + seconds

        async def worker(offset: int) -> None:
            i = offset
            while len(latencies) < limit and time.perf_counter() < deadline:
                kind, url = urls[i % len(urls)]
                i += 1
                t0 = time.perf_counter()
                response = await client.get(url)
                ms = (time.perf_counter() - t0) * 1000
                # 422 only for a random page past the end of a narrow search
                assert response.status_code in (200, 422), response.text
                latencies.append(ms)
                by_kind.setdefault(kind, []).append(ms)

        await asyncio.gather(*(worker(n * 7) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Run(f"{label}, {concurrency} clients", latencies, elapsed, by_kind)


# ------------------------------------------------------------------ the server under test


def serve(port: int, facet_index: bool) -> None:
    """``--serve``: the real app under uvicorn, in its own process (its own core and GIL);
    without the facet index when asked, to measure the SQL counts in the same run."""
    import functools

    import uvicorn

    import search.factory
    from marketplace.app import create_app
    from marketplace.settings import Settings

    if not facet_index:
        search.factory.PostgresBackend = functools.partial(  # type: ignore[misc]
            PostgresBackend, facet_index=False
        )

    app = create_app(Settings.from_env())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _start_server(
    database_url: str, var_dir: Path, facet_index: bool
) -> tuple[subprocess.Popen[bytes], str]:
    from marketplace.embedded import free_port

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DUET_VAR_DIR": str(var_dir),
        **bench_secrets(),
        "DATABASE_POOL_SIZE": "20",
    }
    env.pop("REDIS_URL", None)
    env.pop("MEILI_URL", None)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)]
        + ([] if facet_index else ["--sql-counts"]),
        env=env,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, [server], within=60)
    except RuntimeError:
        server.kill()
        raise
    return server, base_url


# ------------------------------------------------------------------ main


async def bench_size(
    url: str, docs: Sequence[TutorDocument], args: argparse.Namespace, var_dir: Path
) -> None:
    engine = db.create_engine(url, pool_size=4)
    mix, varied = query_mix(), varied_mix(args.varied)
    bucketed = with_availability(mix)
    try:
        t0 = time.perf_counter()
        await PostgresBackend(engine).rebuild(_batches(docs))
        print(f"  loaded with one atomic rebuild in {time.perf_counter() - t0:.1f} s")
        if args.writes:
            await bench_writes(engine, docs, varied, args)
        if args.writes_only:
            return
        # The counts and pages from SQL alone ("SQL counts"), as before the facet index, are
        # measured in the same run as the default backend, so the ratios hold on a loaded
        # machine. The facet index loads on the first search (the warm-up).
        sql = PostgresBackend(engine, result_cache_size=0, facet_index=False)
        cold = PostgresBackend(engine, result_cache_size=0)
        t0 = time.perf_counter()
        await cold.search(build_query())
        print(f"  facet index loaded in {time.perf_counter() - t0:.2f} s (first search)")
        warm = PostgresBackend(engine)
        runs = [
            ("direct, fixed mix, SQL counts, no result cache", sql, mix, True, None),
            ("direct, fixed mix, no result cache", cold, mix, True, "sql"),
            ("direct, fixed mix + availability bucket, no result cache", cold, bucketed, True,
             "fixed"),
            ("direct, fixed mix, result cache", warm, mix, True, None),
            ("direct, varied mix, SQL counts, no result cache", sql, varied, False, None),
            ("direct, varied mix, no result cache", cold, varied, False, "sql"),
        ]  # fmt: skip
        previous: dict[str, Run] = {}
        for label, backend, queries, warm_up, against in runs:
            run = await run_direct(label, backend, queries, args.seconds, args.limit, warm_up)
            print(run.report())
            if against is not None and against in previous:
                print(run.ratio(previous[against], against))
            previous["sql" if backend is sql else "fixed"] = run
    finally:
        await engine.dispose()
    if args.skip_api:
        return
    for facet_index in (False, True):
        server, base_url = _start_server(url, var_dir, facet_index)
        what = "" if facet_index else ", SQL counts"
        try:
            for label, queries in (("HTTP API, fixed mix", mix), ("HTTP API, varied mix", varied)):
                run = await run_api(
                    label + what, base_url, queries, args.seconds, args.limit, args.concurrency
                )
                print(run.report())
        finally:
            server.terminate()
            server.wait(15)


async def bench_writes(
    engine: AsyncEngine,
    docs: Sequence[TutorDocument],
    mix: list[tuple[str, dict[str, Any]]],
    args: argparse.Namespace,
) -> None:
    """The varied mix while a writer changes ``args.writes`` tutors a second (new free time
    and ratings, as bookings and reviews do): first with full reloads only (the behaviour
    before the change log), then catching up from the log, in the same run."""
    print(f"  with {args.writes} index writes/s:")
    full = await _write_phase(engine, docs, mix, args, "full reloads", incremental=False)
    ours = await _write_phase(engine, docs, mix, args, "catch-up from the log", incremental=True)
    p95 = ours.percentile(ours.latencies_ms, 95) / full.percentile(full.latencies_ms, 95)
    rate = (len(ours.latencies_ms) / ours.elapsed_s) / (len(full.latencies_ms) / full.elapsed_s)
    print(f"    catch-up against full reloads: p95 {p95:.2f}x  q/s {rate:.2f}x")


async def _write_phase(
    engine: AsyncEngine,
    docs: Sequence[TutorDocument],
    mix: list[tuple[str, dict[str, Any]]],
    args: argparse.Namespace,
    label: str,
    incremental: bool,
) -> Run:
    backend = PostgresBackend(engine, result_cache_size=0, incremental=incremental)
    await backend.search(build_query())  # the first full load
    writer, rng = PostgresBackend(engine), random.Random(SEED)
    stop = asyncio.Event()
    written = 0

    async def write() -> None:
        nonlocal written
        gap = 1.0 / args.writes
        next_at = time.perf_counter()
        while not stop.is_set():
            doc = rng.choice(docs)
            changed = replace(
                doc,
                rating=rng.choice([4.0, 4.5, 5.0]),
                review_count=doc.review_count + 1,
                next_free_at=datetime.now(UTC) + timedelta(hours=rng.randint(1, 300)),
            )
            await writer.upsert([changed])
            written += 1
            next_at += gap
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    task = asyncio.create_task(write())
    try:
        run = await run_direct(
            f"varied mix, {label}", backend, mix, args.seconds, args.limit, warm_up=False
        )
    finally:
        stop.set()
        await task
    print(run.report())
    took = backend.index_catch_up_s / max(1, backend.index_catch_ups) * 1000
    print(
        f"    {written} writes; {backend.index_loads} full loads, "
        f"{backend.index_catch_ups} catch-ups ({took:.1f} ms each), "
        f"{backend.sql_answers} of {len(run.latencies_ms)} searches (+ the warm-up) answered by SQL"
    )
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated tutor counts")
    parser.add_argument("--seconds", type=float, default=15.0, help="time bound per phase")
    parser.add_argument("--limit", type=int, default=5000, help="query bound per phase")
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP clients at once")
    parser.add_argument("--varied", type=int, default=5000, help="distinct varied searches")
    parser.add_argument("--skip-api", action="store_true", help="only the direct measurements")
    parser.add_argument(
        "--writes", type=int, default=0, help="also search while a writer changes N tutors/s"
    )
    parser.add_argument("--writes-only", action="store_true", help="only the --writes phase")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sql-counts", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, facet_index=not args.sql_counts)
        return 0
    from marketplace.embedded import EmbeddedPostgres

    sizes = [int(n) for n in args.sizes.split(",")]
    t0 = time.perf_counter()
    docs = list(documents(max(sizes)))
    print(f"generated {len(docs)} tutor documents in {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory(prefix="duet-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pgdata", fast_unsafe=True)
        server.start()
        try:
            server.ensure_database("bench")
            url = server.url("bench")
            migrate.upgrade(url)
            for size in sizes:
                print(f"\n{size:,} tutors")
                asyncio.run(bench_size(url, docs[:size], args, Path(tmp) / "var"))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
