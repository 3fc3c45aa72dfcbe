"""What a start costs: the web app and the worker's tasks load without the media stack, and
``duet run`` tells an up-to-date schema (and whether there is data) without Alembic."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace import migrate
from marketplace.accounts.models import User
from marketplace.cli import _database_state

ROOT = Path(__file__).resolve().parents[2]
# Only lessons that need them load these: a lesson room (aiortc, PyAV), a recording's mix
# (numpy), a certificate or the demo course (fpdf and its fonts), an uploaded PDF (pypdf), and
# Twilio when it is configured.
HEAVY = ["aiortc", "aioice", "av", "numpy", "fpdf", "fontTools", "pypdf", "segno", "twilio"]

PROBE = """
import json, sys
from marketplace.app import build_queue, create_app, task_specs
from marketplace.settings import Settings

settings = Settings.from_env({
    "DUET_VAR_DIR": sys.argv[1],
    "DATABASE_URL": "postgresql+asyncpg://duet@127.0.0.1:9/duet",
    "SECRET_KEY": "a-test-secret-key-" + "x" * 32,
    "CERTIFICATE_SIGNING_KEY": sys.argv[2],
})
task_specs()
create_app(settings)
print(json.dumps(sorted(sys.modules)))
"""


def test_the_web_app_and_the_worker_tasks_load_without_the_media_stack(tmp_path: Path) -> None:
    from tests.conftest import TEST_SIGNING_KEY

    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "var"), TEST_SIGNING_KEY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "marketplace.app" in loaded and "video.registry" in loaded
    assert [name for name in HEAVY if name in loaded] == []


def test_script_heads_are_alembics_heads() -> None:
    config = migrate.alembic_config("postgresql+asyncpg://unused@127.0.0.1:9/unused")
    assert migrate.script_heads() == frozenset(ScriptDirectory.from_config(config).get_heads())


def test_script_heads_follow_merges_and_branches(tmp_path: Path) -> None:
    files = {
        "a.py": 'revision = "a"\ndown_revision = None\n',
        "b.py": 'revision: str = "b"\ndown_revision: str | None = "a"\n',
        "c.py": 'revision = "c"\ndown_revision = "a"\n',
        "d.py": 'revision = "d"\ndown_revision = ("b", "c")\n',
        "e.py": 'revision = "e"\ndown_revision = "d"\n',
        "f.py": 'revision = "f"\ndown_revision = "d"\n',
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    assert migrate.script_heads(tmp_path) == {"e", "f"}


async def test_database_state_tells_the_applied_head_and_whether_there_are_users(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    state = await _database_state(database_url)
    assert state is not None
    assert state.revisions == migrate.script_heads()
    assert state.empty
    async with sessions() as session, session.begin():
        session.add(User(email="someone@example.com", full_name="Someone", password_hash="x"))
    state = await _database_state(database_url)
    assert state is not None and not state.empty


@pytest.mark.parametrize("kind", ["unreachable", "unmigrated"])
def test_database_state_leaves_it_to_alembic_when_it_cannot_tell(
    database_url: str, kind: str
) -> None:
    base = database_url.rsplit("/", 1)[0]
    if kind == "unreachable":
        url = "postgresql+asyncpg://duet@127.0.0.1:9/duet"
    else:
        plain = base.replace("postgresql+asyncpg://", "postgresql://", 1)
        asyncio.run(_recreate(f"{plain}/postgres", "duet_unmigrated"))
        url = f"{base}/duet_unmigrated"
    assert asyncio.run(_database_state(url)) is None


async def _recreate(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()


async def test_the_pools_check_takes_one_round_trip_and_fails_on_a_dead_connection(
    database_url: str,
) -> None:
    from marketplace.db import _ping_in_one_trip, create_engine

    class Recorder:
        """The driver connection, with a list of what was sent through ``execute``."""

        def __init__(self, driver: Any) -> None:
            self.driver = driver
            self.sent: list[str] = []

        async def execute(self, query: str, *args: Any) -> str:
            self.sent.append(query)
            result: str = await self.driver.execute(query, *args)
            return result

    @dataclass
    class Adapted:
        driver_connection: Recorder

    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            recorder = Recorder(raw.driver_connection)
            assert await conn.run_sync(lambda _: _ping_in_one_trip(Adapted(recorder)))
            assert recorder.sent == ["SELECT 1"]  # one statement, no BEGIN or ROLLBACK around it
            assert not raw.driver_connection.is_in_transaction()
            await raw.driver_connection.close()
            assert not await conn.run_sync(lambda _: _ping_in_one_trip(raw.dbapi_connection))
            await conn.invalidate()
        async with engine.connect() as conn:  # the pool lends a working connection again
            assert await conn.scalar(text("SELECT 41 + 1")) == 42
    finally:
        await engine.dispose()
