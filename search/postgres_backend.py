"""The PostgreSQL search backend: the embedded default, used when no MEILI_URL is set.

Full text with ``unaccent`` (through the IMMUTABLE ``duet_unaccent`` wrapper), typo tolerance
with ``pg_trgm`` and vocabulary corrections (``search.textmatch``), radius filters and distance
order with ``earthdistance``. Exact disjunctive facet counts come from an in-process bitmap index
of the current index generation (``search.facet_index``), or, while that index is being
refreshed, from SQL (``search.pg_sql``); both give the same answers.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
import msgspec
from sqlalchemy import BigInteger, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from search import buckets, pg_sql
from search.backends import SearchHit, SearchResult, SearchUnavailable, complete_facets
from search.documents import TutorDocument
from search.query import ALL_FACETS, AVAILABILITY, FACETS, SearchQuery, Sort

if TYPE_CHECKING:
    # numpy and pyroaring load with the first search, not with every process that builds the
    # app (a worker never searches).
    from pyroaring import BitMap

    from search.facet_index import Columns, FacetIndex

# SET LOCAL: these hold for this search only, never for the pooled connection afterwards.
_READ_SETTINGS = (
    "BEGIN READ ONLY;"
    # The index is small and hot: random reads cost about what sequential ones do, so the
    # planner should use the GIN/GiST indexes even for broad matches.
    " SET LOCAL random_page_cost = 1.1;"
    # JIT compilation takes longer than any of these statements runs.
    " SET LOCAL jit = off;"
    # Plan with the real values: a generic plan cannot tell "violin" from "voice".
    " SET LOCAL plan_cache_mode = force_custom_plan;"
    " SET LOCAL work_mem = '32MB';"
    " SET LOCAL statement_timeout = '5s'"
)
# Every search condition has an index. The planner cannot see that a sequential scan must
# unpack each row's TOASTed text vector, and would pick one for broad text matches.
_NO_SEQSCAN = "; SET LOCAL enable_seqscan = off"
# With a radius, or up to this many matches, the nearest-first page is ordered by PostgreSQL
# among the few matches the facet index finds near enough; beyond, with no radius, by the GiST
# index's own nearest-first scan.
_NEAREST_BY_ID = 20_000
_EXTENSIONS = ("pg_trgm", "unaccent", "cube", "earthdistance")
_DELETE = text("DELETE FROM search_documents WHERE tutor_id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(BigInteger))
)


@dataclass(frozen=True)
class _Rows:
    """What one search statement returned."""

    hits: list[SearchHit]
    total: int
    facets: dict[str, dict[str, int]]
    generation: str | None


@dataclass(frozen=True)
class _Spread:
    """Availability counts over the whole index for one zone and day, as of ``generation``."""

    generation: str | None
    counts: dict[str, int]


@dataclass(frozen=True)
class _GlobalCounts:
    """Facet counts and total over the whole index, as of ``generation``."""

    generation: str | None
    total: int
    facets: dict[str, dict[str, int]]


class _Stale(Exception):
    """A statement saw another generation than the facet index: the index is out of date."""


class PostgresBackend:
    name = "postgres"

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        result_cache_size: int = 256,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        facet_index: bool = True,
        index_refresh_s: float | None = None,
        incremental: bool = True,
        catch_up_limit: float = 0.05,
    ) -> None:
        self._engine = engine
        self._now = now
        # Searches are single statements: autocommit saves the BEGIN/ROLLBACK round trips.
        self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._global: _GlobalCounts | None = None
        self._spreads: OrderedDict[tuple[str, datetime], _Spread] = OrderedDict()
        # Popular searches repeat (the page's first load, "piano", "guitar in London"); a
        # result is reused while the index generation is unchanged, so it is always exact.
        # The key holds the day too: availability buckets are read with that day's offsets.
        self._results: OrderedDict[tuple[SearchQuery, datetime], _Rows] = OrderedDict()
        self._result_cache_size = result_cache_size
        # The in-process facet index (see search.facet_index), one generation at a time. When
        # a write makes it stale, searches use the SQL path until the next reload, at most one
        # per ``index_refresh_s``. A reload reads every row, so under a stream of writes it
        # must not run on every search: by default the gap is a second, or ten times what the
        # last reload took, so reloading costs a process at most a tenth of its time.
        self._use_index = facet_index
        self._index: FacetIndex | None = None
        self._index_stale = False
        self._index_loaded_at = -float("inf")
        self._index_refresh_s = index_refresh_s
        self._index_reload_took = 0.0
        self._index_lock = asyncio.Lock()
        # A stale index first catches up from the change log: it reads only the rows written
        # since its generation and patches a copy of itself. A full reload is the fallback when
        # more than ``catch_up_limit`` of the rows changed (or are tombstones), or the log no
        # longer reaches back to the index's generation (a rebuild, or too many writes since).
        self._incremental = incremental
        self._catch_up_limit = catch_up_limit
        self._needs_full_load = False
        self.index_loads = 0  # full reloads, for tests and the benchmark
        self.index_catch_ups = 0
        self.index_catch_up_s = 0.0
        self.sql_answers = 0  # searches answered by the SQL path
        # Per generation: the rows of text words and places, and the buckets per viewer's zone.
        self._id_sets: OrderedDict[tuple[str | None, str, tuple[Any, ...]], BitMap] = OrderedDict()
        self._bucket_rows: OrderedDict[tuple[Any, ...], dict[str, BitMap]] = OrderedDict()

    # ------------------------------------------------------------------ writing

    async def configure(self) -> None:
        """The schema comes from the migrations; check they ran, so failures are clear."""
        await self.health()

    async def upsert(self, documents: Sequence[TutorDocument]) -> None:
        if not documents:
            return
        async with _available(), self._engine.begin() as conn:
            await conn.execute(
                pg_sql.BUMP_GENERATION, {"ids": [d.id for d in documents], "rebuild": False}
            )
            await conn.execute(pg_sql.UPSERT, [pg_sql.row_params(d) for d in documents])

    async def delete(self, tutor_ids: Sequence[int]) -> None:
        if not tutor_ids:
            return
        async with _available(), self._engine.begin() as conn:
            await conn.execute(pg_sql.BUMP_GENERATION, {"ids": list(tutor_ids), "rebuild": False})
            await conn.execute(_DELETE, {"ids": list(tutor_ids)})

    async def rebuild(self, batches: AsyncIterable[Sequence[TutorDocument]]) -> int:
        """Delete every row and insert the new ones in ONE transaction.

        MVCC makes this the atomic swap: until the commit, every concurrent search reads the
        old rows from its snapshot; from the commit on, only the new ones. Nobody ever sees an
        empty or half-built index. DELETE rather than TRUNCATE, because TRUNCATE would lock
        readers out for the whole rebuild and is not MVCC-safe. Index writers queue behind
        the generation row lock taken first, and apply their changes on top afterwards.
        """
        count = 0
        async with _available():
            async with self._engine.begin() as conn:
                await conn.execute(pg_sql.BUMP_GENERATION, {"ids": [], "rebuild": True})
                await conn.execute(text("DELETE FROM search_documents"))
                async for batch in batches:
                    if batch:
                        await conn.execute(pg_sql.UPSERT, [pg_sql.row_params(d) for d in batch])
                        count += len(batch)
            # Fresh statistics (and no dead rows) so the planner picks the right indexes.
            async with self._reader.connect() as conn:
                await conn.execute(text("VACUUM (ANALYZE) search_documents"))
        return count

    # ------------------------------------------------------------------ reading

    async def search(self, query: SearchQuery) -> SearchResult:
        started = time.perf_counter()
        now = self._now()
        key = (query, buckets.window_day(now))
        rows = await self._cached(key)
        if rows is None:
            hours = buckets.bucket_hours(query.time_zone, now)
            rows = await self._search_indexed(query, hours, key[1])
            if rows is None:
                self.sql_answers += 1
                rows = await self._search(query, pg_sql.plan(query, hours), hours, key[1])
            self._remember(key, rows)
        return SearchResult(
            hits=rows.hits,
            total=rows.total,
            facets=complete_facets(query, rows.facets),
            backend=self.name,
            took_ms=round((time.perf_counter() - started) * 1000),
            page=query.page,
            per_page=query.per_page,
        )

    async def _cached(self, key: tuple[SearchQuery, datetime]) -> _Rows | None:
        rows = self._results.get(key)
        if rows is None:
            return None
        current = await self._fetch(pg_sql.CURRENT_GENERATION, [], None)
        if rows.generation is None or current[0][0] != rows.generation:
            self._results.pop(key, None)
            return None
        self._results.move_to_end(key)
        return rows

    def _remember(self, key: tuple[SearchQuery, datetime], rows: _Rows) -> None:
        if self._result_cache_size <= 0 or rows.generation is None:
            return
        self._results[key] = rows
        if len(self._results) > self._result_cache_size:
            self._results.popitem(last=False)

    async def _search(
        self, query: SearchQuery, plan: pg_sql.Plan, hours: buckets.BucketHours, day: datetime
    ) -> _Rows:
        # Facets whose other filters are all empty count the whole index: those come from a
        # cache, trusted only when the statement saw the same index generation. Availability
        # over the whole index is cached the same way, per viewer's zone and day.
        unfiltered = not plan.other_conditions
        cacheable = {f for f in FACETS if unfiltered and set(plan.facet_conditions) <= {f}}
        total_cacheable = unfiltered and not plan.facet_conditions
        spread_key = (query.time_zone, day)
        spread_cacheable = unfiltered and set(plan.facet_conditions) <= {AVAILABILITY}
        for _attempt in range(2):
            cached = self._global
            if cacheable and cached is None:
                cached = await self._refresh()
            use = cached if cacheable else None
            spread = self._spreads.get(spread_key) if spread_cacheable else None
            if spread_cacheable and spread is None:
                spread = await self._refresh_spread(spread_key, hours)
            skip = (cacheable if use is not None else set()) | (
                {AVAILABILITY} if spread is not None else set()
            )
            facets = tuple(f for f in ALL_FACETS if f not in skip)
            with_total = not (total_cacheable and use is not None)
            rows = await self._run(query, plan, facets, with_total)
            fresh_global = use is None or rows.generation == use.generation
            fresh_spread = spread is None or rows.generation == spread.generation
            if fresh_global and fresh_spread:
                counts = dict(rows.facets)
                if use is not None:
                    counts.update({f: use.facets.get(f, {}) for f in cacheable})
                if spread is not None:
                    counts[AVAILABILITY] = spread.counts
                total = rows.total if with_total or use is None else use.total
                return _Rows(rows.hits, total, counts, rows.generation)
            if not fresh_global:
                await self._refresh()
            if not fresh_spread:
                await self._refresh_spread(spread_key, hours)
        # The index keeps changing under us: count everything in the one statement.
        return await self._run(query, plan, ALL_FACETS, True)

    # ------------------------------------------------------------------ the facet index

    async def _search_indexed(
        self, query: SearchQuery, hours: buckets.BucketHours, day: datetime
    ) -> _Rows | None:
        """The search answered from the facet index, or None when it is stale (or off)."""
        for _attempt in range(2):
            index = await self._current_index()
            if index is None:
                return None
            try:
                return await self._answer(index, query, hours, day)
            except _Stale:
                if self._index is index:
                    self._index_stale = True
        return None

    async def _answer(
        self, index: FacetIndex, query: SearchQuery, hours: buckets.BucketHours, day: datetime
    ) -> _Rows:
        from pyroaring import BitMap

        filters = {
            facet: index.chosen(facet, query.selected(facet))
            for facet in FACETS
            if query.selected(facet)
        }
        bucket_rows = self._buckets(index, hours, query.time_zone, day)
        if query.availability:
            filters[AVAILABILITY] = BitMap.union(
                BitMap(), *(bucket_rows[slug] for slug in query.availability)
            )
        others = [await self._ids(index, c) for c in pg_sql.id_conditions(query)]
        if (numeric := index.numeric(query)) is not None:
            others.append(numeric)
        counts = index.count(filters, BitMap.intersection(*others) if others else None, bucket_rows)
        # Distances are always measured by PostgreSQL, with the SQL path's own expression.
        if query.sort is not Sort.DISTANCE:
            hits = await self._documents(index, query, index.page(query, counts.matches))
        elif query.radius_km is not None or len(counts.matches) <= _NEAREST_BY_ID:
            ids = index.nearest_candidates(query, counts.matches)
            hits = await self._page_of(index, pg_sql.nearest(ids, query), None)
        else:
            # Nearly everyone by distance: the GiST index's nearest-first scan, as in SQL.
            found = await self._run(query, pg_sql.plan(query, hours), (), False)
            if found.generation != index.generation:
                raise _Stale
            hits = found.hits
        return _Rows(hits, counts.total, counts.facets, index.generation)

    async def _current_index(self) -> FacetIndex | None:
        if not self._use_index:
            return None
        if self._index is not None and not self._index_stale:
            return self._index
        if self._incremental and not self._needs_full_load and self._index is not None:
            async with self._index_lock:
                index = self._index
                if not self._index_stale:
                    return index  # another search caught up while this one waited
                started = time.perf_counter()
                caught = await self._catch_up(index)
                if caught is not None:
                    if caught is not index:
                        self.index_catch_ups += 1
                        self.index_catch_up_s += time.perf_counter() - started
                    self._index, self._index_stale = caught, False
                    return caught
                self._needs_full_load = True
        gap = self._index_refresh_s
        if gap is None:
            gap = max(1.0, 10 * self._index_reload_took)
        if time.monotonic() - self._index_loaded_at < gap:
            return None
        async with self._index_lock:
            if self._index is None or self._index_stale:
                self._index_loaded_at = started = time.monotonic()
                self._index = await self._load_index()
                self._index_reload_took = time.monotonic() - started
                self._index_stale = self._needs_full_load = False
                self.index_loads += 1
                self._id_sets.clear()
                self._bucket_rows.clear()
        return self._index

    async def _catch_up(self, index: FacetIndex) -> FacetIndex | None:
        """``index`` brought to the current generation from the rows written since its own,
        read in one snapshot; None when only a full load can (see ``__init__``)."""
        if index.seq is None or index.generation is None:
            return None
        limit = max(1, int(self._catch_up_limit * index.size))
        [row] = await self._fetch(pg_sql.INDEX_CHANGES, [index.seq, index.generation, limit], None)
        generation, seq, connected, _changed, ids, *blobs = row
        if generation == index.generation:
            return index
        if not connected or ids is None:
            return None
        columns = self._columns(generation, seq, blobs)
        known = index.value_set_ids
        wanted = {int(i) for a in columns.sets.values() for i in a.tolist()} - known
        value_sets = {
            set_id: tuple(vals)
            for set_id, vals in await self._fetch(pg_sql.VALUE_SETS_BY_ID, [list(wanted)], None)
        }
        patched = index.patched(ids, columns, value_sets)
        if patched is None or patched.tombstones > limit:
            return None
        return patched

    async def _load_index(self) -> FacetIndex:
        from search import facet_index

        [row] = await self._fetch(pg_sql.INDEX_LOAD, [], _READ_SETTINGS)
        generation, seq, *blobs = row
        value_sets = {
            set_id: tuple(vals) for set_id, vals in await self._fetch(pg_sql.VALUE_SETS, [], None)
        }
        return facet_index.FacetIndex(self._columns(generation, seq, blobs), value_sets)

    @staticmethod
    def _columns(generation: str | None, seq: int | None, blobs: Sequence[Any]) -> Columns:
        """``pg_sql.INDEX_COLUMNS`` as read (one binary string per column) → ``Columns``."""
        import numpy as np

        from search import facet_index

        arrays: dict[str, Any] = {}
        for (name, (_expr, kind)), blob in zip(pg_sql.INDEX_COLUMNS.items(), blobs, strict=True):
            dtype = {"int8": ">i8", "int4": ">i4", "float8": ">f8"}[kind]
            values = np.frombuffer(blob or b"", dtype=dtype)
            arrays[name] = values.astype(np.float64 if kind == "float8" else np.int64)
        return facet_index.Columns(
            generation=generation,
            tutor_id=arrays["tutor_id"],
            sets={facet: arrays[facet_index.SET_COLUMNS[facet]] for facet in FACETS},
            floats={name: arrays[name] for name in facet_index.FLOAT_COLUMNS},
            ints={name: arrays[name] for name in facet_index.INT_COLUMNS},
            seq=seq,
        )

    def _buckets(
        self, index: FacetIndex, hours: buckets.BucketHours, zone: str, day: datetime
    ) -> dict[str, BitMap]:
        # A constant offset is shared by every zone on it; otherwise the zone's own day.
        key = (
            (index.generation, hours.offset_index)
            if hours.offset_index is not None
            else (index.generation, zone, day)
        )
        found = self._bucket_rows.get(key)
        if found is None:
            found = self._bucket_rows[key] = index.bucket_rows(hours)
            if len(self._bucket_rows) > 64:
                self._bucket_rows.popitem(last=False)
        return found

    async def _ids(self, index: FacetIndex, condition: pg_sql.IdCondition) -> BitMap:
        """The rows matching ``condition`` (read from SQL, kept for this generation)."""
        import numpy as np

        from search import facet_index

        key = (index.generation, condition.sql, condition.params)
        if condition.cacheable and (found := self._id_sets.get(key)) is not None:
            self._id_sets.move_to_end(key)
            return found
        [(generation, blob)] = await self._fetch(
            condition.statement, list(condition.params), _READ_SETTINGS + _NO_SEQSCAN
        )
        if generation != index.generation:
            raise _Stale
        ids = np.frombuffer(blob or b"", dtype=">i8").astype(np.int64)
        rows = np.searchsorted(index.tutor_ids, ids)
        found = facet_index.bitmap(rows)
        if condition.cacheable:
            self._id_sets[key] = found
            if len(self._id_sets) > 1024:
                self._id_sets.popitem(last=False)
        return found

    async def _documents(
        self, index: FacetIndex, query: SearchQuery, tutor_ids: list[int]
    ) -> list[SearchHit]:
        """The documents of one page, in the order of ``tutor_ids``."""
        return await self._page_of(index, pg_sql.documents(tutor_ids, query), tutor_ids)

    async def _page_of(
        self, index: FacetIndex, statement: tuple[str, list[Any]], order: list[int] | None
    ) -> list[SearchHit]:
        """Run a page statement (generation, ids, documents, metres), checked to be of the
        index's generation; hits in ``order`` when given, else as the statement ordered them."""
        sql, params = statement
        [(generation, ids, docs, metres)] = await self._fetch(sql, params, None)
        ids, docs, metres = ids or [], docs or [], metres or []
        if generation != index.generation or (order is not None and len(ids) != len(order)):
            raise _Stale
        found = {
            t: SearchHit(_decode(doc), None if m is None else m / 1000.0)
            for t, doc, m in zip(ids, docs, metres, strict=True)
        }
        return [found[t] for t in (ids if order is None else order)]

    async def _refresh_spread(
        self, key: tuple[str, datetime], hours: buckets.BucketHours
    ) -> _Spread:
        sql, params = pg_sql.bucket_counts(hours)
        counts: dict[str, int] = {}
        generation = None
        for kind, _facet, value, n, _doc, _distance in await self._fetch(
            sql, params, _READ_SETTINGS
        ):
            if kind == pg_sql.KIND_FACET:
                counts[value] = n
            else:
                generation = value
        spread = _Spread(generation=generation, counts=counts)
        self._spreads[key] = spread
        self._spreads.move_to_end(key)
        if len(self._spreads) > 64:
            self._spreads.popitem(last=False)
        return spread

    async def _run(
        self, query: SearchQuery, plan: pg_sql.Plan, facets: tuple[str, ...], with_total: bool
    ) -> _Rows:
        sql, params = pg_sql.statement(query, plan, facets, with_total)
        hits: list[tuple[int, SearchHit]] = []
        facet_counts: dict[str, dict[str, int]] = {}
        total = 0
        generation = None
        rows = await self._fetch(sql, params, _READ_SETTINGS + _NO_SEQSCAN)
        for kind, facet, value, n, document, distance in rows:
            if kind == pg_sql.KIND_HIT:
                km = None if distance is None else distance / 1000.0
                hits.append((n, SearchHit(document=_decode(document), distance_km=km)))
            elif kind == pg_sql.KIND_FACET:
                facet_counts.setdefault(facet, {})[value] = n
            elif kind == pg_sql.KIND_TOTAL:
                total = n
            else:
                generation = value
        hits.sort(key=lambda item: item[0])
        return _Rows([h for _, h in hits], total, facet_counts, generation)

    async def _refresh(self) -> _GlobalCounts:
        facets: dict[str, dict[str, int]] = {}
        total = 0
        generation = None
        for kind, facet, value, n in await self._fetch(pg_sql.GLOBAL_COUNTS, [], _READ_SETTINGS):
            if kind == pg_sql.KIND_FACET:
                facets.setdefault(facet, {})[value] = n
            elif kind == pg_sql.KIND_TOTAL:
                total = n
            else:
                generation = value
        self._global = _GlobalCounts(generation=generation, total=total, facets=facets)
        return self._global

    async def _fetch(self, sql: str, params: list[Any], settings: str | None) -> list[Any]:
        """Run one read statement, in a transaction with ``settings`` when given.

        Straight on the driver: this is the hot path, and SQLAlchemy's per-statement
        compilation would cost more than many of the queries themselves.
        """
        async with _available(), self._reader.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            if settings is None:
                plain: list[Any] = await raw.fetch(sql, *params)
                return plain
            await raw.execute(settings)
            try:
                rows: list[Any] = await raw.fetch(sql, *params)
                await raw.execute("COMMIT")
            except BaseException:
                # Never hand a connection still inside our transaction back to the pool.
                await conn.invalidate()
                raise
            return rows

    async def health(self) -> str:
        async with _available(), self._reader.connect() as conn:
            found = await conn.scalar(
                text("SELECT count(*) FROM pg_extension WHERE extname = ANY(:names)").bindparams(
                    bindparam("names", type_=ARRAY(Text))
                ),
                {"names": list(_EXTENSIONS)},
            )
            ready = await conn.scalar(
                text(
                    "SELECT to_regclass('search_documents') IS NOT NULL "
                    "AND to_regprocedure('duet_unaccent(text)') IS NOT NULL"
                )
            )
        if found != len(_EXTENSIONS) or not ready:
            raise RuntimeError(
                "the search schema is missing: run `duet db upgrade` (needs the "
                + ", ".join(_EXTENSIONS)
                + " extensions)"
            )
        return self.name

    async def aclose(self) -> None:
        """Nothing to release: the engine belongs to the app."""


@asynccontextmanager
async def _available() -> AsyncIterator[None]:
    """Connection failures become ``SearchUnavailable`` (503); real bugs stay errors."""
    try:
        yield
    except (
        OSError,
        TimeoutError,
        OperationalError,
        InterfaceError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.QueryCanceledError,
    ) as exc:
        raise SearchUnavailable() from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise SearchUnavailable() from exc
        raise


def _decode(document: Any) -> dict[str, Any]:
    """asyncpg hands jsonb over as text."""
    decoded: dict[str, Any] = (
        msgspec.json.decode(document) if isinstance(document, str) else document
    )
    return decoded
