"""Shared fixtures: one real PostgreSQL per test session, a fresh app per test.

The database is the embedded server (started once, in a temporary folder) unless
TEST_DATABASE_URL names another. Every test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace import db, migrate
from marketplace.app import build_queue, create_app
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue, build_broker
from tests.helpers import run_async

TEST_DB = "duet_test"
# A fixed Ed25519 seed for certificate signatures in tests (never used anywhere else).
TEST_SIGNING_KEY = "dGVzdC1zaWduaW5nLWtleS0zMi1ieXRlcy1sb25nISE="


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        url = external.replace("postgresql://", "postgresql+asyncpg://", 1)
        base, _, _ = url.rpartition("/")
        admin = _plain_dsn(url)
        asyncio.run(_recreate(admin, TEST_DB))
        url = f"{base}/{TEST_DB}"
        migrate.upgrade(url)
        yield url
        return
    from marketplace.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="duet-test-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pgdata", fast_unsafe=True)
        server.start()
        try:
            server.ensure_database(TEST_DB)
            url = server.url(TEST_DB)
            migrate.upgrade(url)
            yield url
        finally:
            server.stop()


async def _recreate(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "database_url" not in request.fixturenames:
        return
    url = request.getfixturevalue("database_url")
    run_async(_truncate(_plain_dsn(url)))


async def _truncate(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{row["tablename"]}"' for row in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    base = Settings.from_env({"DUET_VAR_DIR": str(tmp_path / "var")})
    return replace(
        base,
        database=replace(base.database, url=database_url, pool_size=5),
        web=replace(base.web, secret_key="test-secret-key-" + "x" * 32),
        courses=replace(base.courses, signing_key=TEST_SIGNING_KEY),
    )


@pytest.fixture
def queue(settings: Settings) -> DramatiqQueue:
    return build_queue(settings, build_broker(None))


@pytest.fixture
def client(settings: Settings, queue: DramatiqQueue) -> Iterator[TestClient[Any]]:
    app = create_app(settings, queue=queue)
    with TestClient(app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


def run_jobs(queue: DramatiqQueue) -> None:
    """Run every queued job to completion on a real dramatiq worker (stub broker)."""
    broker = queue.broker
    assert isinstance(broker, StubBroker)
    worker = Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        for name in queue.queue_names():
            broker.join(name, fail_fast=True, timeout=60_000)
        worker.join()
    finally:
        worker.stop()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.create_engine(database_url, pool_size=5)
    try:
        yield db.create_session_factory(engine)
    finally:
        await engine.dispose()
