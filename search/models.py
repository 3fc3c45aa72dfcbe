"""The PostgreSQL search index: one denormalised row per public tutor.

The row is derived data, rebuilt from profiles at any time, so it has no foreign key to
``tutor_profiles`` (like a Meilisearch index, it is maintained by jobs, not by the database).
``document`` is what a hit returns; the typed columns exist only to filter, sort and count.
``search_vector`` and ``search_text`` are written by ``search.pg_sql`` through ``duet_unaccent``,
an IMMUTABLE wrapper created by the migration (``unaccent`` itself is only STABLE).

The migration also keeps rows narrow (``toast_tuple_target``): the document and the full-text
vector live in TOAST, so scanning thousands of candidates reads few pages.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base


class SearchDocument(Base):
    __tablename__ = "search_documents"
    __table_args__ = (
        Index("ix_search_documents_instruments", "instruments", postgresql_using="gin"),
        Index("ix_search_documents_levels", "levels", postgresql_using="gin"),
        Index("ix_search_documents_genres", "genres", postgresql_using="gin"),
        Index("ix_search_documents_languages", "languages", postgresql_using="gin"),
        Index("ix_search_documents_formats", "formats", postgresql_using="gin"),
        Index("ix_search_documents_search_vector", "search_vector", postgresql_using="gin"),
        Index(
            "ix_search_documents_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
        # Radius filters (earth_box @> ...) and nearest-first ordering (<->) use this index.
        Index("ix_search_documents_earth", text("ll_to_earth(lat, lon)"), postgresql_using="gist"),
        Index("ix_search_documents_price", "price_per_hour_minor", "tutor_id"),
        Index("ix_search_documents_next_free", "next_free_at", "tutor_id"),
    )

    # Fixed-width columns first: PostgreSQL decodes a row left to right, so counting and
    # sorting thousands of candidates never has to step over the arrays and texts.
    tutor_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # Each facet's values as the id of a ``search_value_sets`` row: counting groups by these
    # integers, several times cheaper than unnesting or grouping text arrays row by row.
    instrument_set: Mapped[int] = mapped_column(Integer)
    genre_set: Mapped[int] = mapped_column(Integer)
    language_set: Mapped[int] = mapped_column(Integer)
    level_set: Mapped[int] = mapped_column(Integer)
    format_set: Mapped[int] = mapped_column(Integer)
    price_per_hour_minor: Mapped[int | None] = mapped_column(Integer)
    min_price_minor: Mapped[int | None] = mapped_column(Integer)
    review_count: Mapped[int] = mapped_column(Integer, server_default="0")
    rating: Mapped[float | None] = mapped_column(Float)
    ranking_score: Mapped[float | None] = mapped_column(Float)
    next_free_at: Mapped[datetime | None]
    # The half-hours with an open slot start in the next 14 days (search.buckets), as twelve
    # 56-bit words: the availability filter and its counts are a few integer ANDs per row.
    free_w0: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_w1: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_w2: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_w3: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_w4: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_w5: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_w6: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_w7: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_w8: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_w9: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_w10: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_w11: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Their buckets precomputed at every UTC offset (search.buckets.offset_words).
    free_o0: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_o1: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_o2: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_o3: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_o4: Mapped[int] = mapped_column(BigInteger, server_default="0")
    free_o5: Mapped[int] = mapped_column(BigInteger, server_default="0")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    indexed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    currency: Mapped[str] = mapped_column(String(3))
    # Facet values, filtered with the GIN indexes (``&&``).
    instruments: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    genres: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    languages: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    levels: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    formats: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    search_text: Mapped[str] = mapped_column(Text, server_default="")
    search_vector: Mapped[str] = mapped_column(TSVECTOR)
    document: Mapped[dict[str, object]] = mapped_column(JSONB)


# Btrees in the exact sort orders (see search.pg_sql), so an unfiltered browse reads one page.
Index(
    "ix_search_documents_quality",
    SearchDocument.ranking_score.desc().nulls_last(),
    SearchDocument.rating.desc().nulls_last(),
    SearchDocument.review_count.desc(),
    SearchDocument.tutor_id,
)
Index(
    "ix_search_documents_price_desc",
    SearchDocument.price_per_hour_minor.desc().nulls_last(),
    SearchDocument.tutor_id,
)
Index(
    "ix_search_documents_rating",
    SearchDocument.rating.desc().nulls_last(),
    SearchDocument.review_count.desc(),
    SearchDocument.tutor_id,
)


class SearchValueSet(Base):
    """Every distinct set of values a facet has taken (sorted), numbered once and never
    renumbered. ``duet_value_set(facet, values)`` (from the migration) finds or adds one."""

    __tablename__ = "search_value_sets"
    __table_args__ = (UniqueConstraint("facet", "vals", name="uq_search_value_sets_facet_vals"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    facet: Mapped[str] = mapped_column(String(16))
    vals: Mapped[list[str]] = mapped_column(ARRAY(Text))


class SearchIndexState(Base):
    """One row, rewritten by every write to the index in the same transaction.

    ``generation`` changes with each write, so a reader that sees the same generation in its
    snapshot knows a cached facet distribution is still exact. A UUID rather than a counter: a
    truncated or restored table must never reissue an old value. Writers lock this row first,
    which also orders index writes behind a running rebuild.
    """

    __tablename__ = "search_index_state"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    generation: Mapped[uuid.UUID] = mapped_column(Uuid, server_default=func.gen_random_uuid())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Counts the writes; with ``search_index_changes`` it lets a reader catch up from its own
    # generation by reading only the rows written since.
    seq: Mapped[int] = mapped_column(BigInteger, server_default="0")


class SearchIndexChange(Base):
    """Which tutors each write to the index changed (upserted or deleted), numbered by
    ``search_index_state.seq`` and tagged with the generation that write made.

    A facet index of generation G at ``seq`` s catches up by reading the tutors of every entry
    after s, provided the entry (s, G) is still here: a rebuild empties the log, writes keep only
    the most recent entries, and a restored table cannot hold a generation issued after it.
    """

    __tablename__ = "search_index_changes"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    generation: Mapped[uuid.UUID] = mapped_column(Uuid)
    tutor_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))


class SearchFreshness(Base):
    """When each indexed tutor's document was built, and when time alone makes it stale.

    Kept in PostgreSQL whichever backend serves searches. ``built_at`` is when the last build
    started reading (so an event older than that is already reflected and its job may skip);
    ``refresh_at`` is the document's next free slot, after which the periodic job rebuilds it.
    """

    __tablename__ = "search_freshness"
    __table_args__ = (Index("ix_search_freshness_refresh_at", "refresh_at"),)

    tutor_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    built_at: Mapped[datetime]
    refresh_at: Mapped[datetime | None]


class SearchDailyCount(Base):
    """How many searches were started each day (``search.counts``), for the admin dashboard's
    search-to-booking conversion. Nothing about who searched or for what.

    A few rows per day (``shard``, picked at random per search) so concurrent searches seldom
    wait for the same row lock; a day's count is the sum of its shards.
    """

    __tablename__ = "search_daily_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    searches: Mapped[int] = mapped_column(BigInteger, server_default="0")
