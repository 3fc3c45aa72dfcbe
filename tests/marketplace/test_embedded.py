"""The embedded PostgreSQL and Redis: persistence across restarts and recovery from leftovers."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import psutil
import pytest
import redis

from marketplace.embedded import EmbeddedPostgres, EmbeddedRedis, free_port, stop_all

pytestmark = pytest.mark.slow

T = TypeVar("T")
SERVER_NAMES = {"postgres", "redis-server"}


def run(coro: Coroutine[Any, Any, T]) -> T:
    # A private loop: asyncio.run would also reset the thread's current loop, which the
    # session-scoped pytest-asyncio loop of other tests may rely on.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def dsn(server: EmbeddedPostgres) -> str:
    return server.url().replace("postgresql+asyncpg://", "postgresql://", 1)


async def execute(server: EmbeddedPostgres, *statements: str) -> None:
    conn = await asyncpg.connect(dsn(server))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def fetch_names(server: EmbeddedPostgres) -> list[str]:
    conn = await asyncpg.connect(dsn(server))
    try:
        return [row["name"] for row in await conn.fetch("SELECT name FROM pet ORDER BY name")]
    finally:
        await conn.close()


def server_children() -> list[psutil.Process]:
    """Servers started by this test process, except the suite's shared test database."""
    shared: set[int] = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if any("duet-test-pg-" in arg for arg in child.cmdline()):
                shared |= {child.pid, *(c.pid for c in child.children(recursive=True))}
        except psutil.NoSuchProcess:
            pass
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if (
                child.pid not in shared
                and child.name() in SERVER_NAMES
                and child.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def dead(proc: psutil.Process) -> bool:
    # Orphans are reparented; one still waiting for a reaper is as dead as it gets.
    try:
        return bool(proc.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not tmp_path: every pytest session resets /tmp/pytest-of-<user> to 0700, so a concurrent
    # session can take the o+x away from duet_postgres in the middle of initdb.
    with tempfile.TemporaryDirectory(prefix="duet-embedded-test-") as tmp:
        yield Path(tmp)


@pytest.fixture
def postgres(workdir: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(workdir / "var" / "postgres", fast_unsafe=True)
    try:
        yield server
    finally:
        server.stop()


def test_postgres_data_survives_restart(postgres: EmbeddedPostgres) -> None:
    postgres.start()
    assert postgres.url().startswith("postgresql+asyncpg://duet@127.0.0.1:")
    run(execute(postgres, "CREATE TABLE pet (name text)", "INSERT INTO pet VALUES ('rex')"))
    postgres.stop()
    assert postgres.pid is None

    postgres.start()
    assert run(fetch_names(postgres)) == ["rex"]
    postgres.stop()
    assert server_children() == []


def test_postgres_ensure_database_is_idempotent(postgres: EmbeddedPostgres) -> None:
    postgres.start()
    postgres.ensure_database("other db")
    postgres.ensure_database("other db")

    async def names() -> list[str]:
        conn = await asyncpg.connect(dsn(postgres))
        try:
            return [r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")]
        finally:
            await conn.close()

    assert {"duet", "other db"} <= set(run(names()))


def test_postgres_starts_over_stale_pid_file(postgres: EmbeddedPostgres) -> None:
    postgres.start()
    run(execute(postgres, "CREATE TABLE pet (name text)", "INSERT INTO pet VALUES ('rex')"))
    postgres.stop()
    pidfile = postgres.data_dir / "postmaster.pid"

    # A dead pid, as after a crash...
    dead = subprocess.Popen(["true"])
    dead.wait()
    pidfile.write_text(f"{dead.pid}\n{postgres.data_dir}\n0\n{postgres.port}\n\n127.0.0.1\n")
    postgres.start()
    assert run(fetch_names(postgres)) == ["rex"]
    postgres.stop()

    # ...and a live pid reused by some unrelated process.
    with subprocess.Popen(["sleep", "30"]) as unrelated:
        try:
            pidfile.write_text(f"{unrelated.pid}\n{postgres.data_dir}\n0\n{postgres.port}\n")
            postgres.start()
            assert run(fetch_names(postgres)) == ["rex"]
            assert unrelated.poll() is None
        finally:
            unrelated.kill()
    postgres.stop()
    assert server_children() == []


def test_postgres_replaces_a_leftover_server(postgres: EmbeddedPostgres) -> None:
    # The leftover stands for a postmaster that outlived its supervisor.
    leftover = EmbeddedPostgres(postgres.data_dir, fast_unsafe=True)
    leftover.start()
    try:
        run(execute(leftover, "CREATE TABLE pet (name text)", "INSERT INTO pet VALUES ('rex')"))
        old_pid = leftover.pid
        assert old_pid is not None

        postgres.start()
        assert leftover.pid is None
        assert postgres.pid not in (None, old_pid)
        assert run(fetch_names(postgres)) == ["rex"]
    finally:
        stop_all(leftover, postgres)
    assert server_children() == []


def test_postgres_start_failure_shows_log(workdir: Path) -> None:
    server = EmbeddedPostgres(workdir / "pg", fast_unsafe=True)
    server.start()
    server.stop()
    (server.data_dir / "postgresql.auto.conf").write_text("work_mem = 'nonsense'\n")
    with pytest.raises(RuntimeError, match="work_mem"):
        server.start()
    assert server.pid is None
    assert server_children() == []


def test_fixed_port_in_use_is_refused(workdir: Path) -> None:
    redis_server = EmbeddedRedis(workdir / "redis")
    redis_server.start()
    try:
        clash = EmbeddedPostgres(workdir / "pg", port=redis_server.port, fast_unsafe=True)
        with pytest.raises(RuntimeError, match="already in use"):
            clash.start()
    finally:
        redis_server.stop()


def test_redis_data_survives_restart(workdir: Path) -> None:
    server = EmbeddedRedis(workdir / "redis")
    with server:
        assert server.url(2) == f"redis://127.0.0.1:{server.port}/2"
        with redis.Redis.from_url(server.url()) as client:
            client.rpush("jobs", "send-mail")
    assert server.pid is None
    assert server_children() == []

    with server, redis.Redis.from_url(server.url()) as client:
        assert client.lrange("jobs", 0, -1) == [b"send-mail"]
    assert server_children() == []


def test_redis_replaces_a_leftover_server(workdir: Path) -> None:
    leftover = EmbeddedRedis(workdir / "redis")
    leftover.start()
    server = EmbeddedRedis(workdir / "redis")
    try:
        old_pid = leftover.pid
        with redis.Redis.from_url(leftover.url()) as client:
            client.rpush("jobs", "a")
        server.start()
        assert leftover.pid is None
        assert server.pid not in (None, old_pid)
        with redis.Redis.from_url(server.url()) as client:
            assert client.lrange("jobs", 0, -1) == [b"a"]  # SIGTERM flushed the AOF
    finally:
        stop_all(leftover, server)
    assert server_children() == []


def test_servers_die_with_their_supervisor(workdir: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from marketplace.embedded import EmbeddedPostgres, EmbeddedRedis\n"
        "pg = EmbeddedPostgres(Path(sys.argv[1]) / 'pg', fast_unsafe=True)\n"
        "pg.start()\n"
        "r = EmbeddedRedis(Path(sys.argv[1]) / 'redis')\n"
        "r.start()\n"
        "print(pg.pid, r.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(workdir)],
        stdout=subprocess.PIPE,
        text=True,
    ) as supervisor:
        assert supervisor.stdout is not None
        pids = [int(p) for p in supervisor.stdout.readline().split()]
        servers = [psutil.Process(pid) for pid in pids]
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait()
    deadline = time.monotonic() + 10
    while not all(map(dead, servers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(map(dead, servers))


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 < port < 65536
