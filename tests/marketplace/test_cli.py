from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from marketplace.accounts.models import User
from marketplace.cli import embedded_services, main
from marketplace.embedded import EmbeddedPostgres, serving_postgres_port
from marketplace.errors import ValidationFailed
from marketplace.settings import ConfigError, Settings
from tests.helpers import run_async


def test_create_admin_and_upgrade_against_a_configured_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DUET_ADMIN_PASSWORD", "an admin secret 42")
    assert main(["db", "upgrade"]) == 0
    assert main(["create-admin", "--email", "Boss@Example.com", "--name", "Boss"]) == 0
    assert "boss@example.com is an admin" in capsys.readouterr().out.lower()


async def test_create_admin_refuses_a_weak_password(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await _create(database_url)
    assert "password" in refused.value.fields
    async with sessions() as session:
        assert await session.scalar(select(User).where(User.email == "weak@example.com")) is None


async def _create(url: str) -> None:
    from marketplace import db
    from marketplace.accounts.service import ensure_admin

    engine = db.create_engine(url, pool_size=1)
    try:
        async with db.create_session_factory(engine)() as session, session.begin():
            await ensure_admin(session, email="weak@example.com", password="short", full_name="W")
    finally:
        await engine.dispose()


def test_web_refuses_to_start_without_database_or_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["web"]) == 2
    assert "DATABASE_URL is not set" in capsys.readouterr().err
    monkeypatch.setenv("DATABASE_URL", "postgresql://duet@127.0.0.1:1/duet")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert main(["web"]) == 2
    assert "SECRET_KEY" in capsys.readouterr().err


def test_commands_join_a_running_duets_postgres_and_a_second_run_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `duet db upgrade`, `seed-demo`, `data`... beside a running `duet run` used to start a
    # second server on its folder, which stopped the first under the running Duet.
    var = tmp_path / "var"
    monkeypatch.setenv("DUET_VAR_DIR", str(var))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings.from_env({"DUET_VAR_DIR": str(var)})
    with EmbeddedPostgres(var / "postgres", fast_unsafe=True) as running:
        pid = running.pid
        assert pid is not None
        with embedded_services(settings, redis=False) as live:
            assert live.database.url == running.url("duet")
        assert main(["db", "upgrade"]) == 0
        assert running.pid == pid and psutil.pid_exists(pid)
        assert run_async(_tables(running.url("duet"))) > 10  # migrated on the running server
        with (
            pytest.raises(ConfigError, match="already running"),
            embedded_services(settings, redis=True, exclusive=True),
        ):
            pytest.fail("a second `duet run` on the folder must not start")
        assert psutil.pid_exists(pid)
    assert serving_postgres_port(var / "postgres") is None  # stopped: nothing to join


async def _tables(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
            return int(found or 0)
    finally:
        await engine.dispose()
