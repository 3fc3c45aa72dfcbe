"""SQL for the PostgreSQL backend: the document row, and a search as one statement.

Statements are assembled from fixed fragments written here; every value a user sends is a
bound parameter (``Plan.bind``), never text in the SQL.

On the SQL path a search is ONE statement: the page of hits, the facet counts, the total and
the index generation come back as rows told apart by ``kind``. One round trip, and one snapshot,
so hits, total and counts always describe the same index, even while a rebuild commits.

The facet index (``search.facet_index``) reads through the statements at the end of this module:
every row's columns in one aggregate, the ids matching a text word or a place, and a page by id;
each also returns the generation, so the backend can tell when the index is stale.

How the SQL path stays fast: rows are narrow (the document and text vector live in TOAST);
every part is driven by an index; facet counts group rows by an integer value-set id and expand
only the few distinct sets into values; and counts over the whole index are cached per
generation.
"""

# ruff: noqa: S608 - see the module docstring: only our own fragments are formatted in.
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Integer, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from marketplace import places, vocab
from search import buckets, textmatch
from search.documents import TutorDocument
from search.query import AVAILABILITY, SearchQuery, Sort

# facet → (array column filtered with GIN, value-set id column counted)
FACET_COLUMNS = {
    "instrument": ("instruments", "instrument_set"),
    "genre": ("genres", "genre_set"),
    "language": ("languages", "language_set"),
    "level": ("levels", "level_set"),
    "format": ("formats", "format_set"),
}
KIND_HIT, KIND_FACET, KIND_TOTAL, KIND_GENERATION = 0, 1, 2, 3
# The free half-hours (search.buckets) as bigint words, and their buckets at every offset.
FREE_WORDS = [f"free_w{i}" for i in range(buckets.WORDS)]
OFFSET_WORDS = [f"free_o{i}" for i in range(buckets.OFFSET_WORDS)]
# In the counting queries, each row's buckets as bits (bit i: buckets.BUCKETS[i]).
BUCKET_BITS = "abits"

_PLAIN = ["tutor_id", "document", "instruments", "levels", "genres", "languages", "formats"]
_PLAIN += ["currency", "price_per_hour_minor", "min_price_minor", "rating", "review_count"]
_PLAIN += ["ranking_score", "next_free_at", "lat", "lon", *FREE_WORDS, *OFFSET_WORDS]
_DERIVED = ["instrument_set", "level_set", "genre_set", "language_set", "format_set"]
_DERIVED += ["search_vector", "search_text", "indexed_at"]
# ``simple`` text search (no stemming): tutors write in many languages.
UPSERT = text(
    f"""
    INSERT INTO search_documents ({", ".join(_PLAIN + _DERIVED)})
    VALUES (
        {", ".join(":" + c for c in _PLAIN)},
        duet_value_set('instrument', CAST(:instruments AS text[])),
        duet_value_set('level', CAST(:levels AS text[])),
        duet_value_set('genre', CAST(:genres AS text[])),
        duet_value_set('language', CAST(:languages AS text[])),
        duet_value_set('format', CAST(:formats AS text[])),
        to_tsvector('simple', duet_unaccent(:all_text)),
        duet_unaccent(lower(:search_text)),
        now()
    )
    ON CONFLICT (tutor_id) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _PLAIN[1:] + _DERIVED)}
    """
).bindparams(
    bindparam("document", type_=JSONB),
    *(bindparam(array, type_=ARRAY(Text)) for array, _ in FACET_COLUMNS.values()),
    bindparam("next_free_at", type_=DateTime(timezone=True)),
    *(bindparam(name, type_=Float) for name in ("rating", "ranking_score", "lat", "lon")),
    *(bindparam(name, type_=Integer) for name in ("price_per_hour_minor", "min_price_minor")),
    *(bindparam(name, type_=BigInteger) for name in (*FREE_WORDS, *OFFSET_WORDS)),
)

# Taking this row lock first serialises index writers (and queues them behind a rebuild), so
# writes commit in ``seq`` order: a snapshot that sees seq s sees every change logged up to s.
# Each write logs the tutors it changed under its new seq and generation; a rebuild empties the
# log (everything changed) and writes keep only the last CHANGE_LOG_KEEP entries.
CHANGE_LOG_KEEP = 1000
BUMP_GENERATION = text(
    "WITH s AS (INSERT INTO search_index_state (id, generation, updated_at, seq) "
    "VALUES (1, gen_random_uuid(), now(), 1) "
    "ON CONFLICT (id) DO UPDATE SET generation = gen_random_uuid(), updated_at = now(), "
    "seq = search_index_state.seq + 1 RETURNING generation, seq), "
    "logged AS (INSERT INTO search_index_changes (seq, generation, tutor_ids) "
    "SELECT seq, generation, :ids FROM s), "
    "pruned AS (DELETE FROM search_index_changes c USING s "
    "WHERE :rebuild OR c.seq <= s.seq - :keep) "
    "SELECT seq FROM s"
).bindparams(
    bindparam("ids", type_=ARRAY(BigInteger)),
    bindparam("rebuild", type_=Boolean),
    bindparam("keep", value=CHANGE_LOG_KEEP, type_=BigInteger),
)
_GENERATION = "(SELECT generation::text FROM search_index_state WHERE id = 1)"
CURRENT_GENERATION = f"SELECT {_GENERATION}"
_SEQ = "(SELECT seq FROM search_index_state WHERE id = 1)"


def row_params(doc: TutorDocument) -> dict[str, Any]:
    """The ``UPSERT`` parameters for one document."""
    terms = [vocab.instrument(slug) for slug in doc.instruments]
    terms += [vocab.genre(slug) for slug in doc.genres]
    names = [t.name for t in terms if t]
    synonyms = [s for t in terms if t for s in t.synonyms]
    languages = [vocab.language_name(code) or code for code in doc.languages]
    country = (places.country_name(doc.country) or "") if doc.country else ""
    return {
        "tutor_id": doc.id,
        "document": doc.as_dict(),
        "instruments": sorted(doc.instruments),
        "levels": sorted(doc.levels),
        "genres": sorted(doc.genres),
        "languages": sorted(doc.languages),
        "formats": sorted(doc.format_choices),
        "currency": doc.currency,
        "price_per_hour_minor": doc.price_per_hour_minor,
        "min_price_minor": doc.lowest_price_minor,
        "rating": doc.rating,
        "review_count": doc.review_count,
        "ranking_score": doc.ranking_score,
        "next_free_at": doc.next_free_at,
        "lat": doc.geo.lat if doc.geo else None,
        "lon": doc.geo.lng if doc.geo else None,
        **dict(zip(FREE_WORDS, buckets.to_words(doc.free_half_hours), strict=True)),
        **dict(zip(OFFSET_WORDS, buckets.offset_words(doc.free_half_hours), strict=True)),
        "all_text": " ".join(
            [doc.name, *names, *synonyms, doc.headline, doc.city, country, *languages, doc.bio]
        ),
        # Trigram (typo) matching covers what the vocabulary cannot correct: names and places.
        "search_text": " ".join([doc.name, doc.city]),
    }


@dataclass
class Plan:
    """The conditions of one search and their (positional) parameters."""

    params: list[Any] = field(default_factory=list)
    facet_conditions: dict[str, str] = field(default_factory=dict)
    other_conditions: list[str] = field(default_factory=list)
    relevance: str | None = None  # higher is better; only when there is text
    led: bool = False  # text or a radius narrows the rows before the other filters apply
    origin: str | None = None  # ll_to_earth(...) of the query's location
    distance: str | None = None  # metres from the query's location, per row
    hours: buckets.BucketHours | None = None  # the viewer's buckets
    bucket_bits: str = "0"  # the row's buckets as bits (bound only when counted)

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    @property
    def filtered(self) -> bool:
        return bool(self.facet_conditions or self.other_conditions)


def plan(query: SearchQuery, hours: buckets.BucketHours) -> Plan:
    """Conditions for ``query``, with its availability buckets read as ``hours`` (the viewer's
    zone, today). With text, only the text and the place stay indexable: the planner cannot
    see that checking the TOASTed text vector row by row is slow, so text (GIN) or place
    (GiST) must lead and the other filters follow on the rows they find."""
    words = textmatch.words(query.q)
    led = bool(words)
    p = Plan(led=led or (query.location is not None and query.radius_km is not None), hours=hours)
    for facet, (array, _) in FACET_COLUMNS.items():
        if chosen := query.selected(facet):
            column = f"({array} || '{{}}'::text[])" if led else array
            p.facet_conditions[facet] = f"{column} && CAST({p.bind(list(chosen))} AS text[])"
    if query.availability:
        if hours.offset_index is None:
            p.facet_conditions[AVAILABILITY] = _meets(p, hours.words(query.availability))
        else:
            mask = hours.mask(query.availability)
            p.facet_conditions[AVAILABILITY] = f"({_at_offset(hours.offset_index)} & {mask}) <> 0"
    _text(p, words)
    _radius(p, query)
    price = "(price_per_hour_minor + 0)" if led else "price_per_hour_minor"
    if query.price_min is not None:
        p.other_conditions.append(f"{price} >= {p.bind(query.price_min)}")
    if query.price_max is not None:
        p.other_conditions.append(f"{price} <= {p.bind(query.price_max)}")
    if query.rating_min is not None:
        p.other_conditions.append(f"rating >= {p.bind(query.rating_min)}")
    _free_within(p, query)
    return p


def _at_offset(index: int) -> str:
    """The row's bucket bits precomputed for offset ``index`` (still shifted into place)."""
    word, shift = divmod(index, buckets.PER_WORD)
    return f"({OFFSET_WORDS[word]} >> {6 * shift})"


def _bucket_bits(p: Plan, hours: buckets.BucketHours) -> str:
    """The row's buckets in the viewer's zone as six bits: precomputed for a zone that keeps
    one offset all fortnight (a shift and an AND), else tested bucket by bucket."""
    if hours.offset_index is not None:
        return f"({_at_offset(hours.offset_index)} & {buckets.ALL_BUCKETS_MASK})"
    return " + ".join(
        f"({_meets(p, hours.words([bucket.slug]))})::int * {1 << i}"
        for i, bucket in enumerate(buckets.BUCKETS)
    )


def bucket_counts(hours: buckets.BucketHours) -> tuple[str, list[Any]]:
    """SQL and parameters for the availability counts over the whole index (read in
    ``hours``' zone), with the generation they describe: cached like ``GLOBAL_COUNTS``."""
    p = Plan()
    grouped = (
        f"SELECT {_bucket_bits(p, hours)} AS s, count(*) AS n FROM search_documents GROUP BY 1"
    )
    sql = (
        f"({_expand(AVAILABILITY, grouped)})\nUNION ALL\n"
        f"(SELECT {KIND_GENERATION}, NULL, {_GENERATION}, NULL, NULL, NULL)"
    )
    return sql, p.params


def _meets(p: Plan, words: tuple[int, ...]) -> str:
    """The row has a free half-hour among those set in ``words``: an AND per non-empty word.
    No index serves it; it runs on the rows the other conditions select, in nanoseconds."""
    pairs = zip(FREE_WORDS, words, strict=True)
    tests = [f"({column} & {p.bind(w)}::bigint)" for column, w in pairs if w]
    return f"({' | '.join(tests)}) <> 0" if tests else "FALSE"


def _haversine(lat: str, lng: str) -> str:
    """Great-circle metres from (lat, lng) on earthdistance's sphere (earth() = 6378168 m).

    Plain arithmetic: earth_distance() and ll_to_earth() are SQL functions PostgreSQL cannot
    inline, and calling them per candidate row costs tens of microseconds each.
    """
    return (
        f"(CASE WHEN lat IS NOT NULL AND lon IS NOT NULL THEN 12756336.0 * asin(least(1.0, sqrt("
        f"power(sin(radians(lat - {lat}) / 2), 2) + cos(radians({lat})) * cos(radians(lat)) "
        f"* power(sin(radians(lon - {lng}) / 2), 2)))) END)"
    )


def _text(p: Plan, words: list[textmatch.Word]) -> None:
    """Every word must match: exactly, as a prefix, through a vocabulary typo correction, or
    (for other words, e.g. names and cities) by trigram similarity."""
    relevance: list[str] = []
    for word in words:
        p.other_conditions.append(_word_condition(p, word))
        meaning = textmatch.meaning(word)
        # Ranking: a word naming an instrument or genre the tutor teaches counts most.
        named = []
        if meaning.instruments:
            named.append(f"instruments && CAST({p.bind(list(meaning.instruments))} AS text[])")
        if meaning.genres:
            named.append(f"genres && CAST({p.bind(list(meaning.genres))} AS text[])")
        if named:
            relevance.append(f"({' OR '.join(named)})::int")
    if relevance:
        p.relevance = " + ".join(relevance)


def _word_condition(p: Plan, word: textmatch.Word) -> str:
    lexemes = [_lexeme(word.text, word.prefix), *(_lexeme(a, False) for a in word.alternatives)]
    condition = f"search_vector @@ to_tsquery('simple', {p.bind(' | '.join(lexemes))})"
    meaning = textmatch.meaning(word)
    if len(word.text) >= 4 and not (word.alternatives or meaning.instruments or meaning.genres):
        # A word the vocabulary does not know (a name, a city): trigram similarity catches
        # its typos. Vocabulary words are covered by the corrections above, more cheaply.
        condition = f"{p.bind(word.text)} <% search_text OR {condition}"
    return f"({condition})"


def _radius(p: Plan, query: SearchQuery) -> None:
    """The place: the origin and per-row distance, and within the radius when there is one."""
    if query.location is None:
        return
    lat, lng = p.bind(query.location.lat), p.bind(query.location.lng)
    p.origin = f"ll_to_earth({lat}, {lng})"
    p.distance = _haversine(lat, lng)
    if query.radius_km is not None:
        metres = p.bind(query.radius_km * 1000.0)
        # The box finds candidates through the GiST index; the exact distance trims its
        # corners.
        p.other_conditions.append(
            f"earth_box({p.origin}, {metres}) @> ll_to_earth(lat, lon) AND {p.distance} <= {metres}"
        )


def _free_within(p: Plan, query: SearchQuery) -> None:
    if query.free_within_days is not None:
        days = p.bind(query.free_within_days)
        p.other_conditions.append(
            f"next_free_at <= now() + make_interval(days => CAST({days} AS integer))"
        )


# ---------------------------------------------------------------- the in-process facet index

_BINARY = {"int8": "int8send({})", "int4": "int4send({})", "float8": "float8send({})"}
# name → (SQL expression, binary type): every row's value, NULL as NaN (next_free: +inf).
INDEX_COLUMNS: dict[str, tuple[str, str]] = {
    "tutor_id": ("tutor_id", "int8"),
    **{name: (name, "int4") for name in (c for _, c in FACET_COLUMNS.values())},
    "price": ("coalesce(price_per_hour_minor::float8, 'NaN')", "float8"),
    "rating": ("coalesce(rating, 'NaN')", "float8"),
    "ranking_score": ("coalesce(ranking_score, 'NaN')", "float8"),
    "next_free": ("coalesce(extract(epoch FROM next_free_at)::float8, 'Infinity')", "float8"),
    "review_count": ("review_count::int8", "int8"),
    "lat": ("coalesce(lat, 'NaN')", "float8"),
    "lon": ("coalesce(lon, 'NaN')", "float8"),
    **{c: (c, "int8") for c in [*OFFSET_WORDS, *FREE_WORDS]},
}
# One row: each column of every document as one binary string (big-endian values, all in the
# same row order), and the generation they describe, in one snapshot.
INDEX_LOAD = (
    f"SELECT {_GENERATION}, {_SEQ}, "
    + ", ".join(
        f"(string_agg({_BINARY[kind].format(expr)}, ''::bytea))"
        for expr, kind in INDEX_COLUMNS.values()
    )
    + " FROM search_documents"
)
VALUE_SETS = "SELECT id, vals FROM search_value_sets"
VALUE_SETS_BY_ID = "SELECT id, vals FROM search_value_sets WHERE id = ANY($1::int4[])"
# Catching up from generation $2 at seq $1: in one snapshot, the current generation and seq,
# every tutor changed since (NULL when the log no longer reaches back to $1/$2, or when more
# than $3 changed), and those tutors' columns as INDEX_LOAD reads them (deleted ones absent).
INDEX_CHANGES = (
    "WITH since AS (SELECT 1 FROM search_index_changes"
    " WHERE seq = $1 AND generation::text = $2::text),"
    " changed AS (SELECT DISTINCT unnest(tutor_ids) AS id FROM search_index_changes"
    " WHERE seq > $1 AND EXISTS (SELECT FROM since)),"
    " counted AS (SELECT count(*) AS n FROM changed),"
    " picked AS (SELECT id FROM changed WHERE EXISTS (SELECT FROM since)"
    " AND (SELECT n FROM counted) <= $3)"
    f" SELECT {_GENERATION}, {_SEQ}, EXISTS (SELECT FROM since), (SELECT n FROM counted),"
    " (SELECT array_agg(id) FROM picked), "
    + ", ".join(
        f"(string_agg({_BINARY[kind].format(expr)}, ''::bytea))"
        for expr, kind in INDEX_COLUMNS.values()
    )
    + " FROM search_documents WHERE tutor_id IN (SELECT id FROM picked)"
)


def documents(tutor_ids: list[int], query: SearchQuery) -> tuple[str, list[Any]]:
    """The documents of one page (by tutor id) and the generation, in one snapshot; with the
    metres from the query's place (the same expression as the SQL path's) when it has one."""
    p = Plan()
    ids = p.bind(tutor_ids)
    distance = "NULL::float8"
    if query.location is not None:
        distance = _haversine(p.bind(query.location.lat), p.bind(query.location.lng))
    sql = (
        f"SELECT {_GENERATION}, d.ids, d.docs, d.distances FROM (SELECT array_agg(tutor_id) AS "
        f"ids, array_agg(document) AS docs, array_agg({distance}) AS distances "
        f"FROM search_documents WHERE tutor_id = ANY(CAST({ids} AS bigint[]))) d"
    )
    return sql, p.params


def nearest(tutor_ids: list[int], query: SearchQuery) -> tuple[str, list[Any]]:
    """``query``'s page among ``tutor_ids`` (the rows passing every filter), nearest first,
    ordered and measured as the SQL path does, and the generation, in one snapshot."""
    assert query.location is not None
    p = Plan()
    ids = p.bind(tutor_ids)
    distance = _haversine(p.bind(query.location.lat), p.bind(query.location.lng))
    limit, offset = p.bind(query.per_page), p.bind(query.offset)
    sql = f"""SELECT {_GENERATION}, array_agg(t.tutor_id ORDER BY t.n),
            array_agg(t.document ORDER BY t.n), array_agg(t.distance ORDER BY t.n)
        FROM (
            SELECT tutor_id, document, distance,
                   row_number() OVER (ORDER BY distance ASC NULLS LAST, tutor_id) AS n
            FROM (SELECT tutor_id, document, {distance} AS distance FROM search_documents
                  WHERE tutor_id = ANY(CAST({ids} AS bigint[]))) x
            ORDER BY distance ASC NULLS LAST, tutor_id LIMIT {limit} OFFSET {offset}
        ) t"""
    return sql, p.params


@dataclass(frozen=True)
class IdCondition:
    """A condition the facet index cannot evaluate itself (a text word, a radius, free within
    days): its rows are read from SQL as ids. ``cacheable`` when the answer depends on nothing
    but the index generation (not on the clock)."""

    sql: str
    params: tuple[Any, ...]
    cacheable: bool

    @property
    def statement(self) -> str:
        return (
            f"SELECT {_GENERATION}, (SELECT string_agg(int8send(tutor_id), ''::bytea) "
            f"FROM search_documents WHERE {self.sql})"
        )


def id_conditions(query: SearchQuery) -> list[IdCondition]:
    """The conditions of ``query`` read as id sets, one per word, place and time filter."""
    out = []
    for word in textmatch.words(query.q):
        p = Plan()
        out.append(IdCondition(_word_condition(p, word), tuple(p.params), True))
    if query.radius_km is not None:
        p = Plan()
        _radius(p, query)
        out.append(IdCondition(_all(p.other_conditions), tuple(p.params), True))
    if query.free_within_days is not None:
        p = Plan()
        _free_within(p, query)
        out.append(IdCondition(_all(p.other_conditions), tuple(p.params), False))
    return out


def _lexeme(word: str, prefix: bool) -> str:
    # Words are runs of letters and digits (textmatch), so quoting keeps to_tsquery literal.
    return f"'{word}'" + (":*" if prefix else "")


def _all(conditions: list[str]) -> str:
    return " AND ".join(f"({c})" for c in conditions) if conditions else "TRUE"


_QUALITY = ["ranking_score DESC NULLS LAST", "rating DESC NULLS LAST", "review_count DESC"]


def _order(query: SearchQuery, p: Plan, *, distance: str) -> list[str]:
    relevance = ["relevance DESC"] if p.relevance else []
    keys: list[str]
    match query.sort:
        case Sort.RELEVANCE:
            keys = [*relevance, *_QUALITY]
        case Sort.RATING:
            # The Bayesian score, so one five-star review does not beat two hundred 4.9s.
            keys = [*_QUALITY, *relevance]
        case Sort.PRICE_ASC:
            keys = ["price_per_hour_minor ASC NULLS LAST"]
        case Sort.PRICE_DESC:
            keys = ["price_per_hour_minor DESC NULLS LAST"]
        case Sort.DISTANCE:
            keys = [f"{distance} ASC NULLS LAST"]
        case Sort.SOONEST:
            keys = ["next_free_at ASC NULLS LAST", *relevance, *_QUALITY]
    return [*keys, "tutor_id"]


def statement(
    query: SearchQuery, plan: Plan, facets: tuple[str, ...], with_total: bool
) -> tuple[str, list[Any]]:
    """SQL and parameters for the page of hits, the counts for ``facets`` (each without its own
    filter) and, when asked, the total."""
    p = replace(plan, params=list(plan.params))
    if AVAILABILITY in facets and p.hours is not None:
        p.bucket_bits = _bucket_bits(p, p.hours)
    parts = [_hits(query, p), f"SELECT {KIND_GENERATION}, NULL, {_GENERATION}, NULL, NULL, NULL"]
    ctes = ""
    if facets or with_total:
        ctes, counts = _counts(p, facets, with_total)
        parts += counts
    return ctes + "\nUNION ALL\n".join(f"({part})" for part in parts), p.params


def _hits(query: SearchQuery, p: Plan) -> str:
    """The page: one ORDER BY ... LIMIT over the rows passing every filter. Without text the
    order matches a btree (or the GiST index, nearest first), so a broad filter reads just
    the rows it shows; a narrow one is sorted after the GIN lookups."""
    limit, offset = p.bind(query.per_page), p.bind(query.offset)
    conditions = [*p.other_conditions, *p.facet_conditions.values()]
    distance = p.distance or "NULL::float8"
    inner = _order(query, p, distance=distance)
    if query.sort is Sort.DISTANCE and p.origin is not None and not conditions:
        # Chord distance orders like great-circle distance, and the GiST index serves it.
        inner = [f"ll_to_earth(lat, lon) <-> {p.origin}", "tutor_id"]
    relevance = p.relevance or "0"
    return f"""SELECT {KIND_HIT} AS kind, NULL::text AS facet, NULL::text AS value,
               row_number() OVER (ORDER BY {", ".join(_order(query, p, distance="distance"))})
                   AS n,
               document, distance
        FROM (
            SELECT tutor_id, price_per_hour_minor, review_count, rating, ranking_score,
                   next_free_at, document, {relevance} AS relevance, {distance} AS distance
            FROM search_documents WHERE {_all(conditions)}
            ORDER BY {", ".join(inner)} LIMIT {limit} OFFSET {offset}
        ) top"""


def _counts(p: Plan, facets: tuple[str, ...], with_total: bool) -> tuple[str, list[str]]:
    """Disjunctive counts: a chosen facet counts the rows passing every OTHER filter; the other
    facets and the total count the rows passing every filter. Rows are grouped by the integer
    value-set id (GROUPING SETS: one hash table per facet, one scan), and only the few
    distinct sets are expanded into values. Availability groups by the row's bucket bits."""
    if p.led or set(p.facet_conditions) == {AVAILABILITY}:
        # The availability filter alone has no index to lead: read the rows once (as with
        # text) rather than once for its own counts and again for everyone else's.
        return _counts_in_one_pass(p, facets, with_total)
    parts = []
    for facet in facets:
        if facet in p.facet_conditions:
            # Facet filters alone: each chosen facet scans just the rows its others select.
            others = [c for g, c in p.facet_conditions.items() if g != facet]
            where = _all([*p.other_conditions, *others])
            column = p.bucket_bits if facet == AVAILABILITY else FACET_COLUMNS[facet][1]
            parts.append(
                _expand(
                    facet,
                    f"SELECT {column} AS s, count(*) AS n FROM search_documents "
                    f"WHERE {where} GROUP BY 1",
                )
            )
    shared = [f for f in facets if f not in p.facet_conditions]
    everything = [*p.other_conditions, *p.facet_conditions.values()]
    if not shared:
        if with_total:
            parts.append(
                f"SELECT {KIND_TOTAL}, NULL, NULL, count(*), NULL, NULL "
                f"FROM search_documents WHERE {_all(everything)}"
            )
        return "", parts
    source = f"FROM search_documents WHERE {_all(everything)}"
    if AVAILABILITY in shared:
        source = f"FROM (SELECT *, {p.bucket_bits} AS {BUCKET_BITS} {source}) r"
    cte, shared_parts = _grouped(source, shared, with_total, miss=None)
    return cte, parts + shared_parts


def _counts_in_one_pass(
    p: Plan, facets: tuple[str, ...], with_total: bool
) -> tuple[str, list[str]]:
    """Text or a radius already narrows the rows: read them once, with ``miss`` saying which
    chosen facet filter a row fails (a bit each); a facet counts the rows that miss nothing
    or only itself."""
    chosen = list(p.facet_conditions)
    bit = {f: 1 << i for i, f in enumerate(chosen)}
    miss = " + ".join(f"(NOT ({p.facet_conditions[f]}))::int * {bit[f]}" for f in chosen) or "0"
    candidates = list(p.other_conditions)
    if len(chosen) == 1 and chosen[0] not in facets:
        candidates.append(p.facet_conditions[chosen[0]])
    bits = f", {p.bucket_bits} AS {BUCKET_BITS}" if AVAILABILITY in facets else ""
    source = (
        f"FROM (SELECT *, {miss} AS miss{bits} FROM search_documents WHERE {_all(candidates)}) r"
    )
    return _grouped(source, list(facets), with_total, miss=bit)


def _group_column(facet: str) -> str:
    return BUCKET_BITS if facet == AVAILABILITY else FACET_COLUMNS[facet][1]


def _grouped(
    source: str, facets: list[str], with_total: bool, miss: dict[str, int] | None
) -> tuple[str, list[str]]:
    sets = [_group_column(f) for f in facets]
    keys = [*sets, "miss"] if miss is not None else sets
    extra = ", miss" if miss is not None else ""
    grouping = [f"({column}{extra})" for column in sets]
    if with_total:
        grouping.append(f"({extra.lstrip(', ')})")
    labels = ", ".join(sets) or "NULL::int"
    gs = f"GROUPING({', '.join(sets)})" if sets else "0"
    cte = f"""WITH counts AS (
        SELECT {gs} AS gs, {", ".join(keys) or labels}, count(*) AS n {source}
        GROUP BY GROUPING SETS ({", ".join(grouping)})
    )
    """
    full = (1 << len(sets)) - 1  # GROUPING() sets a bit for each column NOT grouped by
    parts = []
    if with_total:
        passing = " AND miss = 0" if miss is not None else ""
        parts.append(
            f"SELECT {KIND_TOTAL}, NULL, NULL, coalesce(sum(n), 0)::bigint, NULL, NULL "
            f"FROM counts WHERE gs = {full}{passing}"
        )
    for i, facet in enumerate(facets):
        only_this = full ^ (1 << (len(sets) - 1 - i))
        passing = ""
        if miss is not None:
            passing = f" AND miss IN (0, {miss[facet]})" if facet in miss else " AND miss = 0"
        parts.append(
            _expand(facet, f"SELECT {sets[i]} AS s, n FROM counts WHERE gs = {only_this}{passing}")
        )
    return cte, parts


# (bit, slug) of every bucket, to expand a row's bucket bits into bucket counts.
_BUCKET_VALUES = ", ".join(f"({1 << i}, '{b.slug}')" for i, b in enumerate(buckets.BUCKETS))


def _expand(facet: str, grouped: str) -> str:
    """(value-set id, count) rows → (value, count) rows for ``facet``; for availability,
    (bucket bits, count) rows → (bucket, count) rows."""
    if facet == AVAILABILITY:
        return f"""SELECT {KIND_FACET}, '{facet}', b.v, sum(g.n)::bigint, NULL, NULL
        FROM ({grouped}) g JOIN (VALUES {_BUCKET_VALUES}) AS b(bit, v) ON (g.s & b.bit) <> 0
        GROUP BY b.v"""
    return f"""SELECT {KIND_FACET}, '{facet}', v, sum(g.n)::bigint, NULL, NULL
        FROM ({grouped}) g JOIN search_value_sets vs ON vs.id = g.s
        CROSS JOIN LATERAL unnest(vs.vals) AS v GROUP BY v"""


GLOBAL_COUNTS = (
    "WITH c AS MATERIALIZED (SELECT instrument_set, genre_set, language_set, level_set, "
    "format_set FROM search_documents)\n"
    + "\nUNION ALL\n".join(
        [
            f"(SELECT {KIND_TOTAL}, NULL::text, NULL::text, count(*) FROM c)",
            f"(SELECT {KIND_GENERATION}, NULL, {_GENERATION}, NULL)",
            *(
                f"""(SELECT {KIND_FACET}, '{facet}', v, sum(g.n)::bigint
                FROM (SELECT {sets} AS s, count(*) AS n FROM c GROUP BY 1) g
                JOIN search_value_sets vs ON vs.id = g.s CROSS JOIN LATERAL unnest(vs.vals) AS v
                GROUP BY v)"""
                for facet, (_, sets) in FACET_COLUMNS.items()
            ),
        ]
    )
)
