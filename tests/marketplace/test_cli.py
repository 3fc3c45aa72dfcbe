from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.accounts.models import User
from marketplace.cli import main
from marketplace.errors import ValidationFailed


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
