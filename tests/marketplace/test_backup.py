"""``duet backup`` and ``duet restore``: the same data after losing the var folder; refusals."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from litestar.testing import TestClient

from marketplace import db, migrate
from marketplace.app import create_app, demo_extras
from marketplace.backup import BackupError, create_backup, find_tool, read_manifest, restore_backup
from marketplace.cli import main
from marketplace.embedded import EmbeddedPostgres
from marketplace.seed.load import seed_demo
from marketplace.settings import Settings
from tests.conftest import TEST_SIGNING_KEY, _create_database
from tests.helpers import run_async


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Every table's row count and a checksum of all its rows (sorted text form)."""
    conn = await asyncpg.connect(_plain(url))
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        found: dict[str, tuple[int, str]] = {}
        for table in tables:
            # Table names come from the catalog.
            query = (
                "SELECT count(*) AS n, md5(coalesce(string_agg(t::text, E'\\n' "  # noqa: S608
                f"ORDER BY t::text), '')) AS sum FROM \"{table}\" t"
            )
            row = await conn.fetchrow(query)
            assert row is not None
            found[table] = (int(row["n"]), str(row["sum"]))
        return found
    finally:
        await conn.close()


def _files(*roots: Path) -> dict[str, str]:
    return {
        f"{root.name}/{path.relative_to(root)}": hashlib.sha256(path.read_bytes()).hexdigest()
        for root in roots
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _put(root: Path, key: str, data: bytes) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not tmp_path: pytest resets its base to 0700, which the embedded server's user needs to
    # traverse (see tests/conftest.py).
    with tempfile.TemporaryDirectory(prefix="duet-backup-test-") as name:
        os.chmod(name, 0o755)  # noqa: S103 (the server's own user reads below it)
        yield Path(name)


# ------------------------------------------------------------------ the embedded default


def test_backup_delete_var_restore_gives_the_same_working_duet(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    var = workdir / "var"
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name in ("MEDIA_ROOT", "PRIVATE_MEDIA_ROOT", "RECORDINGS_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DUET_VAR_DIR", str(var))
    assert main(["seed-demo", "--tutors", "2"]) == 0
    # What the demo does not make: an attachment, a recording, the generated keys.
    _put(var / "private-media", "attachments/ab/note.pdf", b"%PDF-1.4 attachment")
    _put(var / "recordings", "12/room.webm", b"\x1aE\xdf\xa3 a recording")
    (var / "secret_key").write_text("k" * 64)
    (var / "certificate_signing_key").write_text(TEST_SIGNING_KEY)
    media_before = _files(var / "media", var / "private-media", var / "recordings")
    assert any(key.startswith("media/photos/") for key in media_before)
    assert any(key.startswith("media/course-media/") for key in media_before)
    # Backed up while "Duet runs": the command joins the running server instead of starting
    # a second one on the same folder (which would stop the first), and leaves it running.
    with EmbeddedPostgres(var / "postgres") as running:
        rows_before = run_async(_fingerprint(running.url("duet")))
        assert rows_before["users"][0] >= 8 and rows_before["bookings"][0] > 0
        pid = running.pid
        assert main(["backup", "--output", str(workdir)]) == 0
        assert running.pid == pid is not None
        assert run_async(_fingerprint(running.url("duet"))) == rows_before
        [archive] = workdir.glob("duet-backup-*.tar")
        capsys.readouterr()
        assert main(["restore", "--force", str(archive)]) == 1  # never under a running Duet
        assert "stop `duet run`" in capsys.readouterr().err
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    manifest = read_manifest(archive)
    assert manifest.schema_revision == _head()
    assert manifest.postgres_major >= 14 and manifest.embedded
    assert {"database.dump", "var/certificate_signing_key"} <= {f.name for f in manifest.files}

    shutil.rmtree(var)
    capsys.readouterr()
    assert main(["restore", str(archive)]) == 0
    assert "Restored" in capsys.readouterr().out

    assert _with_server(var, _fingerprint) == rows_before
    assert _files(var / "media", var / "private-media", var / "recordings") == media_before
    assert (var / "certificate_signing_key").read_text() == TEST_SIGNING_KEY
    assert stat.S_IMODE((var / "secret_key").stat().st_mode) == 0o600

    # A working Duet: log in as a demo student and fetch a tutor's photo from the restored media.
    photo = next(key for key in media_before if key.startswith("media/photos/"))
    _with_server(var, lambda url: _serve(url, var, photo.removeprefix("media/")))

    # Restoring again over what is now there is refused, and --force replaces it.
    assert main(["restore", str(archive)]) == 1
    assert "not empty" in capsys.readouterr().err
    _put(var / "media", "photos/zz/stray.webp", b"not in the backup")
    assert main(["restore", "--force", str(archive)]) == 0
    assert _files(var / "media", var / "private-media", var / "recordings") == media_before
    assert _with_server(var, _fingerprint) == rows_before


def _with_server(var: Path, use: Any) -> Any:
    with EmbeddedPostgres(var / "postgres") as server:
        url = server.url("duet")
        result = use(url)
        return run_async(result) if hasattr(result, "__await__") else result


async def _serve(url: str, var: Path, photo_key: str) -> None:
    base = Settings.from_env({"DUET_VAR_DIR": str(var), "DATABASE_URL": url})
    settings = replace(
        base,
        web=replace(base.web, secret_key="restored-secret-" + "x" * 32),
        courses=replace(base.courses, signing_key=TEST_SIGNING_KEY),
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as client:
        login = client.post(
            "/api/v1/auth/login",
            json={"email": "student1@demo.duet.example", "password": "play-it-again"},
        )
        assert login.status_code == 200, login.text
        assert client.get(f"/media/{photo_key}").status_code == 200
        assert client.get("/tutors").status_code == 200


# ------------------------------------------------------------------ DATABASE_URL


@pytest.fixture
def server_admin_url(database_url: str) -> str:
    return f"{database_url.rpartition('/')[0]}/postgres"


def _url_settings(url: str, root: Path) -> Settings:
    base = Settings.from_env({"DUET_VAR_DIR": str(root / "var"), "DATABASE_URL": url})
    return replace(
        base,
        media=replace(base.media, root=root / "media"),
        messaging=replace(base.messaging, private_root=root / "private-media"),
        video=replace(base.video, recordings_root=root / "recordings"),
    )


async def _seed_small(settings: Settings) -> None:
    assert settings.database.url
    engine = db.create_engine(settings.database.url, pool_size=2)
    try:
        await seed_demo(
            db.create_session_factory(engine),
            "EUR",
            tutor_count=2,
            extras=demo_extras(settings),
        )
    finally:
        await engine.dispose()


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _head() -> str:
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://unused"))
    head = script.get_current_head()
    assert head
    return head


def _previous_revision() -> str:
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://unused"))
    down = script.get_revision(_head()).down_revision
    assert isinstance(down, str)
    return down


@pytest.fixture(scope="module")
def seeded(database_url: str) -> Iterator[tuple[str, Path]]:
    """Once per module: a migrated database with demo data and its media, to copy from."""
    admin = f"{database_url.rpartition('/')[0]}/postgres"
    name = f"duet_bk_tpl_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    with tempfile.TemporaryDirectory(prefix="duet-backup-seed-") as folder:
        settings = _url_settings(_create_database(admin, name), Path(folder))
        assert settings.database.url
        migrate.upgrade(settings.database.url)
        run_async(_seed_small(settings))
        _put(settings.messaging.private_root, "attachments/cd/score.pdf", b"%PDF-1.4 score")
        yield name, Path(folder)
    run_async(_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def databases(
    server_admin_url: str, seeded: tuple[str, Path], workdir: Path
) -> Iterator[tuple[Settings, Settings]]:
    """A source database with demo data and media (a copy of ``seeded``), and an empty one."""
    template, media = seeded
    suffix = os.environ.get("PYTEST_XDIST_WORKER", "main")
    names = (f"duet_bk_src_{suffix}", f"duet_bk_dst_{suffix}")
    shutil.copytree(media, workdir / "source")
    source = _url_settings(
        _create_database(server_admin_url, names[0], template), workdir / "source"
    )
    target = _url_settings(_create_database(server_admin_url, names[1]), workdir / "restored")
    yield source, target
    for name in names:
        run_async(_execute(server_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_an_older_backup_is_restored_into_an_empty_database_and_upgraded(
    databases: tuple[Settings, Settings], workdir: Path
) -> None:
    source, target = databases
    assert source.database.url and target.database.url
    # Make the source one revision old: a backup taken before the last migration.
    command.downgrade(migrate.alembic_config(source.database.url), _previous_revision())
    before = run_async(_fingerprint(source.database.url))
    archive, manifest = create_backup(source, workdir / "old.tar", report=lambda _: None)
    assert manifest.schema_revision == _previous_revision()

    restore_backup(target, archive, report=lambda _: None)
    after = run_async(_fingerprint(target.database.url))
    assert after["alembic_version"] != before["alembic_version"]  # upgraded to head
    shared = set(before) - {"alembic_version"}
    assert {t: after[t] for t in shared} == {t: before[t] for t in shared}
    assert _files(
        target.media.root, target.messaging.private_root
    ) == _files(source.media.root, source.messaging.private_root)  # fmt: skip
    migrate.check(target.database.url)  # the schema is exactly this code's


def test_a_backup_from_a_newer_schema_is_refused(
    databases: tuple[Settings, Settings], workdir: Path
) -> None:
    source, target = databases
    assert source.database.url and target.database.url
    run_async(_execute(source.database.url, "UPDATE alembic_version SET version_num = '9999'"))
    archive, _ = create_backup(source, workdir / "new.tar", report=lambda _: None)
    with pytest.raises(BackupError, match="newer than this Duet knows") as refused:
        restore_backup(target, archive, report=lambda _: None)
    assert "9999" in str(refused.value) and _head() in str(refused.value)
    assert run_async(_fingerprint(target.database.url)) == {}
    assert not target.media.root.exists()


def test_a_damaged_archive_is_refused_before_anything_is_written(
    databases: tuple[Settings, Settings], workdir: Path
) -> None:
    source, target = databases
    assert target.database.url
    archive, _ = create_backup(source, workdir / "good.tar", report=lambda _: None)
    with tarfile.open(archive) as tar:
        offset = tar.getmember("database.dump").offset_data
    damaged = workdir / "damaged.tar"
    data = bytearray(archive.read_bytes())
    data[offset + 100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=r"database\.dump .*does not match its checksum"):
        restore_backup(target, damaged, report=lambda _: None)

    truncated = workdir / "truncated.tar"
    truncated.write_bytes(archive.read_bytes()[: offset + 1000])
    with pytest.raises(BackupError, match=r"(no manifest|damaged|not a readable)"):
        restore_backup(target, truncated, report=lambda _: None)
    assert main(["restore", "--check", str(damaged)]) == 1
    assert run_async(_fingerprint(target.database.url)) == {}
    assert not target.media.root.exists()


def test_a_non_empty_database_is_refused_unless_forced(
    databases: tuple[Settings, Settings], workdir: Path
) -> None:
    source, _ = databases
    assert source.database.url
    archive, _ = create_backup(source, workdir / "b.tar", report=lambda _: None)
    before = run_async(_fingerprint(source.database.url))
    # The source itself is the non-empty target.
    with pytest.raises(BackupError, match="not empty: the database"):
        restore_backup(source, archive, report=lambda _: None)
    run_async(_execute(source.database.url, "DELETE FROM reviews"))
    restore_backup(source, archive, force=True, report=lambda _: None)
    assert run_async(_fingerprint(source.database.url)) == before


def test_client_tools_of_another_major_version_are_refused(workdir: Path) -> None:
    fake = workdir / "bin"
    fake.mkdir()
    tool = fake / "pg_dump"
    tool.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 12.22'\n")
    tool.chmod(0o755)
    with pytest.raises(BackupError) as refused:
        find_tool("pg_dump", 17, [fake])
    message = str(refused.value)
    assert "PostgreSQL 17" in message and "is PostgreSQL 12" in message
    assert "postgresql-client-17" in message and "--pg-bin" in message
    assert find_tool("pg_dump", 12, [fake]) == tool
