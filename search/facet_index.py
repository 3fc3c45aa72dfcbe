"""An in-process facet index for the PostgreSQL backend, as of one index generation.

Counting facets in SQL reads every row a broad search matches ("singing" matches a third of
100,000 tutors). Here, as in Meilisearch, each facet value owns a compressed bitmap (roaring,
via ``pyroaring``) of the rows that have it, so a disjunctive count is one bitmap intersection
whatever the number of matches, and the page of hits is the first rows of the matching bitmap
in a precomputed order. Rows are numbered 0..n-1 in ``tutor_id`` order.

The index is a snapshot: ``generation`` is ``search_index_state.generation`` as of the statement
that read it. The backend uses it only while every statement of a search sees that same
generation, so counts, totals and hits are exactly what the SQL path would return.
"""

from __future__ import annotations

import array
import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pyroaring import BitMap

from search import buckets, textmatch
from search.query import AVAILABILITY, FACETS, SearchQuery, Sort

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

# facet → the value-set id column of search_documents (see pg_sql.FACET_COLUMNS)
SET_COLUMNS = {
    "instrument": "instrument_set",
    "genre": "genre_set",
    "language": "language_set",
    "level": "level_set",
    "format": "format_set",
}
FLOAT_COLUMNS = ("price", "rating", "ranking_score", "next_free", "lat", "lon")
# Metres of earthdistance's sphere (earth() = 6378168 m), as the SQL distance uses.
_DIAMETER_M = 12756336.0
INT_COLUMNS = ("review_count", *(f"free_o{i}" for i in range(buckets.OFFSET_WORDS)))
INT_COLUMNS += tuple(f"free_w{i}" for i in range(buckets.WORDS))
# Up to this many changed rows are placed into the sort orders one by one; more, and sorting
# everything again is quicker.
_REPLACE_MAX = 256


def bitmap(rows: npt.NDArray[np.integer]) -> BitMap:
    """Row numbers → a bitmap, through a buffer rather than one Python int at a time."""
    return BitMap(array.array("I", np.asarray(rows, dtype=np.uint32).tobytes()))


def rows_of(bm: BitMap) -> npt.NDArray[np.uint32]:
    return np.frombuffer(bm.to_array(), dtype=np.uint32)


@dataclass(frozen=True)
class Columns:
    """What the index is built from, one array per column, one element per row (any order)."""

    generation: str | None
    tutor_id: Ints
    sets: Mapping[str, Ints]  # facet → value-set id per row
    floats: Mapping[str, Floats]  # FLOAT_COLUMNS; NaN for NULL (next_free: +inf)
    ints: Mapping[str, Ints]  # INT_COLUMNS
    seq: int | None = None  # search_index_state.seq of ``generation``


@dataclass(frozen=True)
class Counts:
    total: int
    facets: dict[str, dict[str, int]]
    matches: BitMap


class FacetIndex:
    """Bitmaps per facet value, the sort orders and the free-time words of every row.

    ``patched`` derives the index of a later generation from the rows that changed since this
    one. The index itself is never modified, so a search holding it stays on one generation.
    A deleted tutor keeps its row as a tombstone (in no bitmap, NULL in every column) so row
    numbers, and so every untouched bitmap, stay valid; a new tutor is appended (tutor ids grow).
    """

    def __init__(self, columns: Columns, value_sets: Mapping[int, Sequence[str]]) -> None:
        order = np.argsort(columns.tutor_id, kind="stable")
        self.generation = columns.generation
        self.seq = columns.seq
        self.tutor_ids: Ints = columns.tutor_id[order]
        self.size = len(order)
        self.alive = np.ones(self.size, dtype=bool)
        self.everyone = BitMap(range(self.size))
        self._value_sets = dict(value_sets)
        self._sets = {facet: columns.sets[facet][order] for facet in FACETS}
        self.values: dict[str, dict[str, BitMap]] = {
            facet: _value_bitmaps(self._sets[facet], value_sets) for facet in FACETS
        }
        self._floats = {name: columns.floats[name][order] for name in FLOAT_COLUMNS}
        self._ints = {name: columns.ints[name][order] for name in INT_COLUMNS}
        self._derive()

    def _derive(self, before: FacetIndex | None = None, changed: Ints | None = None) -> None:
        """The views and sort orders of the columns. From scratch, each order is a sort; from
        ``before`` with the ``changed`` rows, the other rows keep their relative order, so
        each changed row is only placed anew by a binary search (a few rows: far cheaper)."""
        floats, ints = self._floats, self._ints
        self.price, self.rating = floats["price"], floats["rating"]
        self.lat, self.lon = floats["lat"], floats["lon"]
        self.offset_words = [ints[f"free_o{i}"] for i in range(buckets.OFFSET_WORDS)]
        self.free_words = [ints[f"free_w{i}"] for i in range(buckets.WORDS)]
        row = np.arange(self.size, dtype=np.int64)
        # ranking_score DESC NULLS LAST, rating DESC NULLS LAST, review_count DESC (as SQL):
        # negated with NULL as +inf, ascending.
        quality = (
            np.nan_to_num(-floats["ranking_score"], nan=np.inf),
            np.nan_to_num(-floats["rating"], nan=np.inf),
            -ints["review_count"].astype(np.float64),
        )
        price = self.price
        incremental = before is not None and changed is not None and len(changed) <= _REPLACE_MAX

        def ordered(name: str, *keys: Floats | Ints) -> Ints:
            # Rows sorted by ``keys`` (most significant first; the last decides every tie).
            if incremental:
                assert before is not None and changed is not None
                return _reinsert(before._sorted[name], changed, keys)
            return np.lexsort(tuple(reversed(keys)))

        self._sorted: dict[str, Ints] = {}
        self._sorted["quality"] = ordered("quality", *quality, row)
        self.quality_rank = _inverse(self._sorted["quality"])  # ties broken by tutor_id (row)
        self.quality_group = _runs(self._sorted["quality"], *quality)  # equal quality, equal
        self._sorted["price_asc"] = ordered("price_asc", np.nan_to_num(price, nan=np.inf), row)
        self.price_asc_rank = _inverse(self._sorted["price_asc"])
        self._sorted["price_desc"] = ordered("price_desc", np.nan_to_num(-price, nan=np.inf), row)
        self.price_desc_rank = _inverse(self._sorted["price_desc"])
        # next_free_at ASC NULLS LAST, then quality: the soonest order when no word ranks. The
        # quality ranks changed, but not the relative order of the unchanged rows.
        self._sorted["soonest"] = ordered("soonest", floats["next_free"], self.quality_rank)
        self.soonest_rank = _inverse(self._sorted["soonest"])
        self.soonest_group = _runs(self._sorted["soonest"], floats["next_free"])
        self._orders: dict[Sort, Ints] = {}
        self._named: dict[tuple[tuple[str, ...], tuple[str, ...]], npt.NDArray[np.bool_]] = {}

    @property
    def value_set_ids(self) -> set[int]:
        return set(self._value_sets)

    @property
    def tombstones(self) -> int:
        return self.size - len(self.everyone)

    def patched(
        self, changed: Sequence[int], rows: Columns, value_sets: Mapping[int, Sequence[str]]
    ) -> FacetIndex | None:
        """The index of generation ``rows.generation``: this one with the tutors in ``changed``
        replaced by ``rows`` (their current columns; a changed tutor absent from ``rows`` was
        deleted). ``value_sets``: any value set ``rows`` uses that this index does not know.
        None when the change cannot keep rows in tutor-id order (a new tutor with an id below
        the largest): then only a full load gives the new generation."""
        ids = np.unique(np.asarray(changed, dtype=np.int64))
        order = np.argsort(rows.tutor_id, kind="stable")
        present = rows.tutor_id[order]
        pos = np.minimum(np.searchsorted(self.tutor_ids, ids), max(self.size - 1, 0))
        known = (self.tutor_ids[pos] == ids) if self.size else np.zeros(len(ids), dtype=bool)
        added = np.setdiff1d(present, ids[known])  # new tutors (a new one deleted again: none)
        if len(added) and self.size and added[0] <= self.tutor_ids[-1]:
            return None
        new = object.__new__(FacetIndex)
        new.generation, new.seq = rows.generation, rows.seq
        new.tutor_ids = np.concatenate((self.tutor_ids, added))
        new.size = len(new.tutor_ids)
        grow = len(added)
        new.alive = np.concatenate((self.alive, np.zeros(grow, dtype=bool)))
        new._value_sets = {**self._value_sets, **value_sets}
        new._sets = {f: np.concatenate((a, np.full(grow, -1))) for f, a in self._sets.items()}
        new._floats = {
            n: np.concatenate((a, _dead_floats(n, grow))) for n, a in self._floats.items()
        }
        new._ints = {
            n: np.concatenate((a, np.zeros(grow, np.int64))) for n, a in self._ints.items()
        }
        new.values = {facet: dict(bitmaps) for facet, bitmaps in self.values.items()}
        copied: set[tuple[str, str]] = set()

        def bitmap_of(facet: str, value: str) -> BitMap:
            # Copy on first write: the old index's bitmaps stay as they were.
            if (facet, value) not in copied:
                copied.add((facet, value))
                old = new.values[facet].get(value)
                new.values[facet][value] = BitMap() if old is None else old.copy()
            return new.values[facet][value]

        touched = np.searchsorted(new.tutor_ids, np.union1d(ids[known], added))
        for facet, column in new._sets.items():
            for r, set_id in zip(touched.tolist(), column[touched].tolist(), strict=True):
                for value in new._value_sets.get(set_id, ()):
                    bitmap_of(facet, value).discard(r)
        everyone = self.everyone.copy()
        everyone.difference_update(bitmap(touched))
        new.alive[touched] = False
        for facet in new._sets:
            new._sets[facet][touched] = -1
        for name in new._floats:
            new._floats[name][touched] = _dead_floats(name, 1)[0]
        for name in new._ints:
            new._ints[name][touched] = 0
        at = np.searchsorted(new.tutor_ids, present)
        new.alive[at] = True
        everyone.update(bitmap(at))
        for facet in FACETS:
            column = rows.sets[facet][order]
            new._sets[facet][at] = column
            for r, set_id in zip(at.tolist(), column.tolist(), strict=True):
                for value in new._value_sets.get(set_id, ()):
                    bitmap_of(facet, value).add(r)
        for name in FLOAT_COLUMNS:
            new._floats[name][at] = rows.floats[name][order]
        for name in INT_COLUMNS:
            new._ints[name][at] = rows.ints[name][order]
        new.everyone = everyone
        for facet, value in copied:
            if not new.values[facet][value]:
                del new.values[facet][value]
        new._derive(self, np.union1d(touched, at))
        return new

    # ------------------------------------------------------------------ filters

    def chosen(self, facet: str, values: Sequence[str]) -> BitMap:
        """Rows having any of ``values`` (the values of one facet combine with OR)."""
        return BitMap.union(BitMap(), *(self.values[facet].get(v, BitMap()) for v in values))

    def numeric(self, query: SearchQuery) -> BitMap | None:
        """Rows passing the price and rating filters (NULL passes none, as in SQL)."""
        keep: npt.NDArray[np.bool_] | None = None
        tests = (
            (self.price, query.price_min, np.greater_equal),
            (self.price, query.price_max, np.less_equal),
            (self.rating, query.rating_min, np.greater_equal),
        )
        for column, bound, compare in tests:
            if bound is None:
                continue
            passing = compare(column, float(bound))  # NaN compares False
            keep = passing if keep is None else keep & passing
        return None if keep is None else bitmap(np.flatnonzero(keep))

    def bucket_rows(self, hours: buckets.BucketHours) -> dict[str, BitMap]:
        """Each availability bucket (in the viewer's zone) → the rows with a free half-hour in
        it: the precomputed bits at a constant offset, else the half-hour words."""
        out: dict[str, BitMap] = {}
        if hours.offset_index is not None:
            word, shift = divmod(hours.offset_index, buckets.PER_WORD)
            bits = (self.offset_words[word] >> (6 * shift)) & buckets.ALL_BUCKETS_MASK
            for i, bucket in enumerate(buckets.BUCKETS):
                out[bucket.slug] = bitmap(np.flatnonzero(bits & (1 << i)))
            return out
        for bucket in buckets.BUCKETS:
            meets = np.zeros(self.size, dtype=bool)
            for column, mask in zip(self.free_words, hours.words([bucket.slug]), strict=True):
                if mask:
                    meets |= (column & np.int64(mask)) != 0
            out[bucket.slug] = bitmap(np.flatnonzero(meets))
        return out

    # ------------------------------------------------------------------ counting

    def count(
        self,
        filters: Mapping[str, BitMap],
        others: BitMap | None,
        bucket_rows: Mapping[str, BitMap],
    ) -> Counts:
        """Disjunctive counts: a chosen facet counts the rows passing every OTHER filter; the
        others, and the total, count the rows passing every filter. ``filters``: facet (or
        availability) → rows passing its own filter; ``others``: rows passing the rest."""
        base = self.everyone if others is None else others
        everything = BitMap.intersection(base, *filters.values()) if filters else base
        facets: dict[str, dict[str, int]] = {}
        for facet in (*FACETS, AVAILABILITY):
            if facet in filters:
                rest = [rows for f, rows in filters.items() if f != facet]
                scope = BitMap.intersection(base, *rest) if rest else base
            else:
                scope = everything
            values = bucket_rows if facet == AVAILABILITY else self.values[facet]
            counts = {v: scope.intersection_cardinality(rows) for v, rows in values.items()}
            facets[facet] = {v: n for v, n in counts.items() if n}
        return Counts(total=len(everything), facets=facets, matches=everything)

    # ------------------------------------------------------------------ ordering

    def page(self, query: SearchQuery, matches: BitMap) -> list[int]:
        """The tutor ids of ``query``'s page, in the SQL order of ``query.sort`` (not distance:
        that needs the place, and stays in SQL)."""
        start, stop = query.offset, query.offset + query.per_page
        if start >= len(matches):
            return []
        words = self._relevance(query)
        if not words and len(matches) == len(self.everyone):
            # Everyone, no word to rank by: the precomputed order is the answer.
            chosen = self._order(query.sort)[start:stop]
        else:
            rows = rows_of(matches).astype(np.int64)
            key = self._key(query.sort, rows, [w[rows] for w in words])
            if stop < len(rows):
                keep = np.argpartition(key, stop - 1)[:stop]
                rows, key = rows[keep], key[keep]
            chosen = rows[np.argsort(key, kind="stable")][start:stop]
        return [int(t) for t in self.tutor_ids[chosen]]

    def nearest_candidates(self, query: SearchQuery, matches: BitMap) -> list[int]:
        """Tutor ids among which PostgreSQL's exact nearest-first order finds ``query``'s page:
        every match whose distance, computed here, is within a hair of the page's last one.
        Float results here and in SQL differ by far less than that margin, so the candidates
        always hold the true first ``offset + per_page`` rows."""
        assert query.location is not None
        rows = rows_of(matches).astype(np.int64)
        stop = query.offset + query.per_page
        if stop < len(rows):
            lat, lon = np.radians(self.lat[rows]), np.radians(self.lon[rows])
            lat0, lon0 = np.radians(query.location.lat), np.radians(query.location.lng)
            a = (
                np.sin((lat - lat0) / 2) ** 2
                + np.cos(lat0) * np.cos(lat) * np.sin((lon - lon0) / 2) ** 2
            )
            metres = np.nan_to_num(_DIAMETER_M * np.arcsin(np.minimum(1.0, np.sqrt(a))), nan=np.inf)
            last = np.partition(metres, stop - 1)[stop - 1]
            rows = rows[metres <= last * (1 + 1e-9) + 1e-3]
        return [int(t) for t in self.tutor_ids[rows]]

    def _order(self, sort: Sort) -> Ints:
        """Every row in ``sort``'s order, when no word ranks (the inverse of its ranks)."""
        if (found := self._orders.get(sort)) is None:
            rank = self._key(sort, np.arange(self.size, dtype=np.int64), [])
            order = np.argsort(rank, kind="stable")
            found = self._orders[sort] = order[self.alive[order]]
        return found

    def _key(self, sort: Sort, rows: Ints, words: list[npt.NDArray[np.bool_]]) -> Ints:
        """One int64 per row whose order is the SQL ORDER BY (every key ends with tutor_id).
        ``words``: per word that names something, whether each row teaches it."""
        n = np.int64(self.size)
        most = np.int64(len(words))
        # SQL orders by "relevance DESC" only when a word names something; without such words
        # this is zero for every row, which orders the same as leaving it out.
        less_relevant = most - sum((w.astype(np.int64) for w in words), np.int64(0))
        match sort:
            case Sort.PRICE_ASC:
                return self.price_asc_rank[rows]
            case Sort.PRICE_DESC:
                return self.price_desc_rank[rows]
            case Sort.RATING if words:
                return (self.quality_group[rows] * (most + 1) + less_relevant) * n + rows
            case Sort.SOONEST if words:
                group = self.soonest_group[rows] * (most + 1) + less_relevant
                return group * n + self.quality_rank[rows]
            case Sort.SOONEST:
                return self.soonest_rank[rows]
            case _:
                # Relevance; and rating without words, where it is the same order.
                return less_relevant * n + self.quality_rank[rows]

    def _relevance(self, query: SearchQuery) -> list[npt.NDArray[np.bool_]]:
        """Per text word naming instruments or genres: every row, does it teach one of them."""
        out = []
        for word in textmatch.words(query.q):
            meaning = textmatch.meaning(word)
            if not (meaning.instruments or meaning.genres):
                continue
            key = (tuple(sorted(meaning.instruments)), tuple(sorted(meaning.genres)))
            if (dense := self._named.get(key)) is None:
                named = BitMap.union(
                    self.chosen("instrument", meaning.instruments),
                    self.chosen("genre", meaning.genres),
                )
                dense = np.zeros(self.size, dtype=bool)
                dense[rows_of(named)] = True
                if len(self._named) < 256:
                    self._named[key] = dense
            out.append(dense)
        return out


def _value_bitmaps(sets: Ints, value_sets: Mapping[int, Sequence[str]]) -> dict[str, BitMap]:
    """One bitmap per value, from each row's value-set id: rows grouped by set, then each set's
    rows added to the bitmap of every value in it."""
    if not len(sets):
        return {}
    ids, inverse = np.unique(sets, return_inverse=True)
    by_set = np.argsort(inverse, kind="stable")
    groups = np.split(by_set, np.cumsum(np.bincount(inverse, minlength=len(ids)))[:-1])
    members: dict[str, list[npt.NDArray[np.int64]]] = {}
    for set_id, rows in zip(ids.tolist(), groups, strict=True):
        for value in value_sets.get(set_id, ()):
            members.setdefault(value, []).append(rows)
    return {v: bitmap(np.sort(np.concatenate(parts))) for v, parts in members.items()}


def _dead_floats(name: str, n: int) -> Floats:
    """A tombstone's value in float column ``name``: NULL (next_free: never)."""
    return np.full(n, np.inf if name == "next_free" else np.nan)


def _inverse(order: Ints) -> Ints:
    """Each row's position in ``order``."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank


def _runs(order: Ints, *keys: Floats) -> Ints:
    """Each row's group: the position in ``order`` (sorted by ``keys`` first) where its run of
    equal keys starts. Rows with equal keys share it, and groups order as the keys do."""
    if not len(order):
        return np.zeros(0, dtype=np.int64)
    stacked = np.stack([k[order] for k in keys])
    starts = np.concatenate(([True], np.any(stacked[:, 1:] != stacked[:, :-1], axis=0)))
    first = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    groups = np.empty(len(order), dtype=np.int64)
    groups[order] = first
    return groups


def _reinsert(order: Ints, changed: Ints, keys: Sequence[Floats | Ints]) -> Ints:
    """``order`` (sorted rows, maybe fewer than now) with the ``changed`` rows taken out and
    put back where their current ``keys`` sort them, each found by binary search."""
    size = len(keys[0])
    moving = np.zeros(size, dtype=bool)
    moving[changed] = True
    keep = order[~moving[order]]

    def key(r: int) -> tuple[float, ...]:
        return tuple(float(k[r]) for k in keys)

    rows = sorted((int(r) for r in changed), key=key)
    at = [bisect.bisect_left(_Keyed(keep, key), key(r)) for r in rows]
    return np.insert(keep, at, np.asarray(rows, dtype=np.int64))


class _Keyed:
    """A read-only sequence of the sort keys of ``rows``, for ``bisect``."""

    def __init__(self, rows: Ints, key: Callable[[int], tuple[float, ...]]) -> None:
        self._rows, self._key = rows, key

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> tuple[float, ...]:
        return self._key(int(self._rows[i]))
