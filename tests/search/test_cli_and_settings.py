from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from marketplace import db
from marketplace.cli import main
from marketplace.settings import ConfigError, Settings
from search.factory import build_search_backend
from search.postgres_backend import PostgresBackend
from search.query import SearchQuery
from tests.search.factories import CAST, HIDDEN, add_tutors


def test_duet_search_reindex_rebuilds_the_index(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def add() -> None:
        engine = db.create_engine(database_url, pool_size=1)
        try:
            await add_tutors(db.create_session_factory(engine), [*CAST, *HIDDEN])
        finally:
            await engine.dispose()

    async def total() -> int:
        engine = db.create_engine(database_url, pool_size=1)
        try:
            return (await PostgresBackend(engine).search(SearchQuery())).total
        finally:
            await engine.dispose()

    asyncio.run(add())
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DUET_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("MEILI_URL", raising=False)
    assert main(["search", "reindex"]) == 0
    out = capsys.readouterr().out
    assert "Rebuilding the search index" in out and "10/10" in out
    assert "10 tutors are searchable" in out
    assert asyncio.run(total()) == 10


def test_meilisearch_settings() -> None:
    assert Settings.from_env({}).search.url is None
    with pytest.raises(ConfigError, match="MEILI_API_KEY"):
        Settings.from_env({"MEILI_URL": "http://127.0.0.1:7700"})
    settings = Settings.from_env({"MEILI_URL": "http://meili:7700/", "MEILI_API_KEY": "k"})
    assert (settings.search.url, settings.search.api_key) == ("http://meili:7700", "k")


def test_postgres_is_the_default_backend(database_url: str) -> None:
    engine = db.create_engine(database_url, pool_size=1)
    assert isinstance(build_search_backend(Settings(), engine), PostgresBackend)
    asyncio.run(engine.dispose())
