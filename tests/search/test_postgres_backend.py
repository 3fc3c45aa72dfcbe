"""PostgreSQL backend specifics: failures, the facet cache, the pooled connections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from marketplace import db
from marketplace.profiles.models import TutorProfile
from search.backends import SearchUnavailable
from search.documents import build_document
from search.postgres_backend import PostgresBackend
from search.query import SearchQuery, build_query
from search.service import reindex_all
from tests.search.factories import CAST, MEDIA_URL, add_tutors


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url, pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_an_unreachable_database_is_search_unavailable() -> None:
    engine = db.create_engine("postgresql+asyncpg://duet@127.0.0.1:1/duet", pool_size=1)
    backend = PostgresBackend(engine)
    try:
        with pytest.raises(SearchUnavailable):
            await backend.search(SearchQuery())
        with pytest.raises(SearchUnavailable):
            await backend.health()
    finally:
        await engine.dispose()


async def test_cached_counts_follow_every_write(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    backend = PostgresBackend(engine)
    ids = await add_tutors(sessions, CAST)
    await reindex_all(sessions, backend, MEDIA_URL)
    before = await backend.search(SearchQuery())
    assert before.total == 10 and before.facets["instrument"]["violin"] == 2
    async with sessions() as session:
        profile = await session.get(TutorProfile, ids["Bruno Costa"])
        assert profile is not None
        doc = build_document(profile, MEDIA_URL)
    await backend.upsert([replace(doc, id=999_001, name="Bruno Twin")])
    after = await backend.search(SearchQuery())
    assert after.total == 11 and after.facets["instrument"]["piano"] == 3
    # Only the instrument filter is set, so its own counts come from the cache too.
    violin = await backend.search(build_query(instrument=["violin"]))
    assert violin.facets["instrument"]["piano"] == 3 and violin.total == 2
    await backend.delete([999_001, 123_456_789])
    again = await backend.search(SearchQuery())
    assert again.total == 10 and again.facets["instrument"]["piano"] == 2


async def test_a_failed_search_never_returns_its_connection_mid_transaction(
    engine: AsyncEngine,
) -> None:
    backend = PostgresBackend(engine)  # pool_size=1: the next search reuses the connection
    with pytest.raises(Exception, match="division by zero"):
        await backend._fetch("SELECT 1 / 0", [], "BEGIN READ ONLY")
    async with engine.connect() as conn:
        assert await conn.scalar(text("SHOW transaction_read_only")) == "off"
    assert (await backend.search(SearchQuery())).total == 0


async def test_health_names_the_backend(engine: AsyncEngine) -> None:
    assert await PostgresBackend(engine).health() == "postgres"
