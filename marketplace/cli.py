"""The ``duet`` command: run everything locally, or one part of it in production."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from marketplace.observability.logs import configure_logging
from marketplace.settings import ConfigError, Settings
from marketplace.wording import plural

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

logger = logging.getLogger("duet")
CHILD_STOP_TIMEOUT = 15.0
DEMO_TUTORS = 200  # seeded by the first `duet run`


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        obs = settings.observability
        configure_logging(obs.log_format, obs.log_level, role=args.role)
        result: int = args.handler(settings, args)
        return result
    except ConfigError as exc:
        print(f"duet: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="duet", description="Duet, a marketplace for music lessons."
    )
    parser.set_defaults(role="cli")
    sub = parser.add_subparsers(required=True, metavar="command")

    run = sub.add_parser(
        "run", help="everything on the embedded default: db, redis, web, worker, media"
    )
    _add_listen(run)
    run.add_argument(
        "--media",
        type=int,
        default=os.cpu_count() or 1,
        help="media processes for lesson rooms (default: one per core; 0 keeps rooms in the "
        "web process)",
    )
    run.set_defaults(handler=cmd_run, role="run")

    web = sub.add_parser("web", help="the web server (needs DATABASE_URL; REDIS_URL for jobs)")
    _add_listen(web)
    # `duet run` starts the web server while the embedded services are still starting and hands
    # it their addresses on stdin, so importing the app overlaps their start.
    web.add_argument("--environment-from-stdin", action="store_true", help=argparse.SUPPRESS)
    web.set_defaults(handler=cmd_web, role="web")

    worker = sub.add_parser("worker", help="the dramatiq worker (needs DATABASE_URL and REDIS_URL)")
    worker.add_argument("--threads", type=int, default=4)
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="also serve this host's job metrics at http://ADDRESS:PORT/metrics, no token "
        "(for a worker on a host without a web process)",
    )
    worker.add_argument("--metrics-address", default="127.0.0.1")
    worker.set_defaults(handler=cmd_worker, role="worker")

    media = sub.add_parser(
        "media", help="a media process holding lesson rooms (needs DATABASE_URL and REDIS_URL)"
    )
    media.add_argument(
        "--capacity", type=int, default=0, help="most rooms it holds (default MEDIA_ROOM_CAPACITY)"
    )
    media.set_defaults(handler=cmd_media, role="media")

    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(required=True, metavar="action")
    upgrade = db_sub.add_parser("upgrade", help="apply migrations up to the newest")
    upgrade.set_defaults(handler=cmd_db_upgrade)

    seed = sub.add_parser("seed-demo", help="create demo tutors, students and an admin")
    seed.add_argument("--tutors", type=int, default=200)
    seed.set_defaults(handler=cmd_seed_demo)

    admin = sub.add_parser("create-admin", help="create an admin (or make an account one)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Administrator")
    admin.add_argument(
        "--password-env",
        default="DUET_ADMIN_PASSWORD",
        help="environment variable holding the password (prompted for when unset)",
    )
    admin.set_defaults(handler=cmd_create_admin)

    data = sub.add_parser("data", help="personal data requests that reach an operator")
    data_sub = data.add_subparsers(required=True, metavar="action")
    export = data_sub.add_parser("export", help="write everything Duet holds about an account")
    export.add_argument("--email", required=True)
    export.add_argument("--out", required=True, help="the ZIP file to write")
    export.set_defaults(handler=cmd_data_export)
    erase = data_sub.add_parser("erase", help="delete an account and erase its personal data")
    erase.add_argument("--email", required=True)
    erase.set_defaults(handler=cmd_data_erase)

    search = sub.add_parser("search", help="search index commands")
    search_sub = search.add_subparsers(required=True, metavar="action")
    reindex = search_sub.add_parser("reindex", help="rebuild the search index and swap it in")
    reindex.set_defaults(handler=cmd_search_reindex)

    backup = sub.add_parser(
        "backup", help="write the database and media folders to one archive (works while running)"
    )
    backup.add_argument(
        "--output", "-o", type=Path, default=Path("."), help="archive file or folder (default: .)"
    )
    _add_pg_bin(backup)
    backup.set_defaults(handler=cmd_backup)

    restore = sub.add_parser(
        "restore", help="restore an archive into an empty var folder or database"
    )
    restore.add_argument("archive", type=Path)
    restore.add_argument(
        "--force", action="store_true", help="replace a database and media that are not empty"
    )
    restore.add_argument(
        "--check", action="store_true", help="only verify the archive and say what it holds"
    )
    _add_pg_bin(restore)
    restore.set_defaults(handler=cmd_restore)
    return parser


def _add_pg_bin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pg-bin",
        type=Path,
        default=None,
        help="folder with pg_dump/pg_restore of the server's major version (looked up otherwise)",
    )


def _add_listen(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)


# ----------------------------------------------------------------- embedded services


@contextmanager
def embedded_services(
    settings: Settings, *, redis: bool, exclusive: bool = False
) -> Iterator[Settings]:
    """Start what the settings leave unconfigured; yield settings pointing at it; stop it.

    A ``duet run`` already serving the var folder keeps its PostgreSQL: a command joins it
    (starting a second server on the folder would stop the first under the running Duet), and
    an ``exclusive`` one (another ``duet run``) is refused."""
    from marketplace.embedded import (
        HOST,
        PG_SUPERUSER,
        EmbeddedPostgres,
        EmbeddedRedis,
        serving_postgres_port,
        stop_all,
    )

    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    running = None
    if settings.database.url is None:
        running = serving_postgres_port(settings.var_dir.resolve() / "postgres")
    if running is not None and exclusive:
        raise ConfigError(
            f"Duet is already running on {settings.var_dir} (its PostgreSQL is on port "
            f"{running}). Stop it first, or give this one another DUET_VAR_DIR."
        )
    try:
        if running is not None:
            step("Using the PostgreSQL of the Duet running on this folder")
            url = f"postgresql+asyncpg://{PG_SUPERUSER}@{HOST}:{running}/duet"
            settings = replace(settings, database=replace(settings.database, url=url))
        elif settings.database.url is None:
            step("Starting embedded PostgreSQL")
            pg = EmbeddedPostgres(settings.var_dir.resolve() / "postgres")
            started.append(pg)
            pg.start()
            pg.ensure_database("duet")
            settings = replace(settings, database=replace(settings.database, url=pg.url("duet")))
        if redis and settings.broker.redis_url is None:
            step("Starting embedded Redis")
            rd = EmbeddedRedis(settings.var_dir.resolve() / "redis")
            started.append(rd)
            rd.start()
            settings = replace(settings, broker=replace(settings.broker, redis_url=rd.url()))
        yield settings
    finally:
        if started:
            step("Stopping embedded services")
        stop_all(*started)


def step(message: str) -> None:
    print(f"• {message}…", flush=True)


def progress_bar(label: str) -> ProgressBar:
    return ProgressBar(label)


class ProgressBar:
    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        end = "\n" if done >= total else ""
        print(
            f"\r  {self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
            end=end,
            flush=True,
        )


# ----------------------------------------------------------------- commands


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from marketplace import migrate

    with embedded_services(settings, redis=False) as live:
        step("Applying database migrations")
        assert live.database.url
        migrate.upgrade(live.database.url)
    return 0


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from marketplace import migrate

    with embedded_services(settings, redis=False) as live:
        assert live.database.url
        migrate.upgrade(live.database.url)
        asyncio.run(_seed(live, args.tutors))
    return 0


async def _seed(settings: Settings, tutors: int, *, media: bool = True) -> None:
    """The demo data; ``media=False`` leaves the portraits and recordings to
    ``_fill_demo_media`` (``duet run`` draws them after the web server answers)."""
    from marketplace import db
    from marketplace.app import demo_extras
    from marketplace.seed.load import seed_demo

    assert settings.database.url
    engine = db.create_engine(settings.database.url, pool_size=2)
    try:
        step(f"Seeding demo data ({plural(tutors, 'tutor')})")
        result = await seed_demo(
            db.create_session_factory(engine),
            settings.marketplace.currency,
            tutor_count=tutors,
            progress=progress_bar("tutors"),
            extras=demo_extras(settings),
        )
        if media:
            await _seed_demo_media(settings, db.create_session_factory(engine), tutors)
        # The seed writes profiles directly, without events: index them all at once.
        await _reindex(settings, engine)
    finally:
        await engine.dispose()
    print(
        f"  created {plural(result.created_tutors, 'tutor')}, "
        f"{plural(result.created_students, 'student')}"
        f"{', the admin' if result.created_admin else ''}."
    )
    print("  Demo logins (local demo data only):")
    for role, email, password in result.logins:
        print(f"    {role:8} {email:45} {password}")
    for note in result.notes:
        print(f"  {note}")


async def _seed_demo_media(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tutors: int,
    *,
    announce: bool = True,
    cancelled: Callable[[], bool] = lambda: False,
) -> int:
    """Portraits and recordings for the demo tutors without them; how many files were added.
    ``announce=False``: say something only when there was something to add."""
    from marketplace.media import LocalMediaStorage
    from marketplace.seed.demo_data import demo_tutors
    from marketplace.seed.demo_media import seed_media

    if announce:
        step("Drawing demo portraits and recording demo samples (cached after the first run)")
    started = time.monotonic()
    media = await seed_media(
        sessions,
        LocalMediaStorage(settings.media.root),
        settings.var_dir.resolve() / "cache" / "demo-media",
        [t.email for t in demo_tutors(tutors)],
        progress=progress_bar("tutors") if announce else None,
        cancelled=cancelled,
    )
    added = media.photos + media.recordings
    if announce or added:
        print(
            f"  {media.photos} photos and {media.recordings} recordings in "
            f"{time.monotonic() - started:.1f} s ({media.cached} of them from the cache).",
            flush=True,
        )
    return added


async def _fill_demo_media(
    settings: Settings, tutors: int, *, announce: bool, cancelled: Callable[[], bool]
) -> None:
    """``duet run``, once the web server answers: the demo media the data lacks (all of it on
    the first run; what an interrupted first run left), then the search index again, since
    its documents carry the photos."""
    from marketplace import db

    assert settings.database.url
    engine = db.create_engine(settings.database.url, pool_size=2)
    try:
        sessions = db.create_session_factory(engine)
        added = await _seed_demo_media(
            settings, sessions, tutors, announce=announce, cancelled=cancelled
        )
        if added and not cancelled():
            await _reindex(settings, engine)
    except Exception:
        # Duet runs on without them; the next `duet run` draws what is still missing.
        logger.exception("the demo portraits and recordings could not be made")
    finally:
        await engine.dispose()


async def _refresh_demo(settings: Settings) -> None:
    """Every ``duet run`` on existing data: renew time-bound demo data (the demo lesson)."""
    from marketplace import db
    from marketplace.app import demo_extras
    from marketplace.seed.load import run_extras

    assert settings.database.url
    engine = db.create_engine(settings.database.url, pool_size=1)
    try:
        notes = await run_extras(db.create_session_factory(engine), demo_extras())
    finally:
        await engine.dispose()
    for note in notes:
        print(f"  {note}")


def cmd_search_reindex(settings: Settings, args: argparse.Namespace) -> int:
    from marketplace import db

    async def reindex(live: Settings) -> None:
        assert live.database.url
        engine = db.create_engine(live.database.url, pool_size=2)
        try:
            await _reindex(live, engine)
        finally:
            await engine.dispose()

    with embedded_services(settings, redis=False) as live:
        asyncio.run(reindex(live))
    return 0


async def _reindex(settings: Settings, engine: AsyncEngine) -> None:
    from marketplace import db
    from marketplace.app import search_signals
    from marketplace.media import LocalMediaStorage
    from search.factory import build_search_backend
    from search.service import reindex_all

    backend = build_search_backend(settings, engine)
    try:
        step("Rebuilding the search index")
        await backend.configure()
        count = await reindex_all(
            db.create_session_factory(engine),
            backend,
            LocalMediaStorage(settings.media.root).url,
            progress=progress_bar("tutors"),
            signals=search_signals,
        )
    finally:
        await backend.aclose()
    print(f"  {plural(count, 'tutor')} {'is' if count == 1 else 'are'} searchable.")


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from marketplace.backup import BackupError, create_backup

    try:
        path, manifest = create_backup(settings, args.output, pg_bin=args.pg_bin, report=step)
    except (BackupError, RuntimeError) as exc:
        print(f"duet: backup failed: {exc}", file=sys.stderr)
        return 1
    size = path.stat().st_size
    print(f"  {path}: {size / 1e6:.1f} MB, {plural(len(manifest.files) - 1, 'media file')}.")
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from marketplace.backup import (
        BackupError,
        check_revision,
        describe,
        read_manifest,
        restore_backup,
        verify,
    )

    try:
        if args.check:
            manifest = read_manifest(args.archive)
            check_revision(manifest)
            verify(args.archive, manifest)
            print(f"  {describe(manifest)} Checksums match.")
            return 0
        manifest = restore_backup(
            settings, args.archive, force=args.force, pg_bin=args.pg_bin, report=step
        )
    except (BackupError, RuntimeError) as exc:
        print(f"duet: restore refused: {exc}", file=sys.stderr)
        return 1
    print(f"  Restored: {describe(manifest)}")
    return 0


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> int:
    password = os.environ.get(args.password_env) or getpass.getpass("Password for the admin: ")
    with embedded_services(settings, redis=False) as live:
        asyncio.run(_create_admin(live, args.email, password, args.name))
    print(f"{args.email} is an admin.")
    return 0


async def _create_admin(settings: Settings, email: str, password: str, name: str) -> None:
    from marketplace import db
    from marketplace.accounts.service import ensure_admin

    assert settings.database.url
    engine = db.create_engine(settings.database.url, pool_size=1)
    try:
        async with db.create_session_factory(engine)() as session, session.begin():
            await ensure_admin(session, email=email, password=password, full_name=name)
    finally:
        await engine.dispose()


def cmd_data_export(settings: Settings, args: argparse.Namespace) -> int:
    from marketplace.errors import DomainError

    with embedded_services(settings, redis=False) as live:
        try:
            size = asyncio.run(_data_export(live, args.email, Path(args.out).resolve()))
        except DomainError as exc:
            print(exc.message, file=sys.stderr)
            return 1
    print(f"Wrote {args.out} ({size} bytes).")
    return 0


async def _data_export(settings: Settings, email: str, out: Path) -> int:
    from marketplace import db
    from marketplace.privacy.export import build_zip
    from marketplace.privacy.files import Stores

    engine = db.create_engine(settings.database.url or "", pool_size=1)
    try:
        async with db.create_session_factory(engine)() as session, session.begin():
            user_id = await _user_id(session, email)
            return await build_zip(session, Stores.from_settings(settings), user_id, out)
    finally:
        await engine.dispose()


def cmd_data_erase(settings: Settings, args: argparse.Namespace) -> int:
    from marketplace.errors import DomainError

    with embedded_services(settings, redis=False) as live:
        try:
            files = asyncio.run(_data_erase(live, args.email))
        except DomainError as exc:
            print(exc.message, file=sys.stderr)
            return 1
    print(f"Erased the account; {files} files deleted.")
    return 0


async def _data_erase(settings: Settings, email: str) -> int:
    """The same steps as the user's own deletion and its job, recorded as the operator's."""
    from marketplace import db
    from marketplace.accounts.models import User
    from marketplace.app import register_deletion_checks
    from marketplace.privacy import erasure, service
    from marketplace.privacy.files import Stores
    from marketplace.privacy.models import AccountDeletion

    register_deletion_checks()
    engine = db.create_engine(settings.database.url or "", pool_size=1)
    try:
        sessions = db.create_session_factory(engine)
        async with sessions() as session, session.begin():
            user = await session.get(User, await _user_id(session, email), with_for_update=True)
            assert user is not None
            user_id = user.id
            if await session.get(AccountDeletion, user_id) is None:
                await service.confirm_deletion(session, user, actor_role="operator", actor_id=None)
        async with sessions() as session, session.begin():
            await erasure.erase_account(session, user_id)
        async with sessions() as session, session.begin():
            deletion = await session.get(AccountDeletion, user_id, with_for_update=True)
            assert deletion is not None
            count = erasure.delete_pending_files(
                Stores.from_settings(settings), deletion.pending_files
            )
            deletion.pending_files = []
        return count
    finally:
        await engine.dispose()


async def _user_id(session: Any, email: str) -> int:
    from sqlalchemy import select

    from marketplace.accounts.models import User
    from marketplace.errors import NotFound

    found = await session.scalar(select(User.id).where(User.email == email.strip().lower()))
    if found is None:
        raise NotFound(f"No account has the e-mail address {email}.")
    return int(found)


def metrics_dir(settings: Settings) -> Path:
    """Where this host's processes keep their metric files (``PROMETHEUS_MULTIPROC_DIR``)."""
    return settings.observability.metrics_dir or settings.var_dir.resolve() / "metrics"


def _join_metrics_dir(settings: Settings) -> None:
    """Before prometheus-client is imported: it reads the variable once, at import. A directory
    that cannot be made is no reason not to serve: this process then counts for itself."""
    from marketplace.observability.metrics import MULTIPROC_ENV, prepare_multiprocess_dir

    try:
        path = prepare_multiprocess_dir(metrics_dir(settings), clean=False)
    except OSError as exc:
        os.environ.pop(MULTIPROC_ENV, None)
        logger.warning(
            "metrics directory %s cannot be used (%s): this process's metrics only; "
            "set PROMETHEUS_MULTIPROC_DIR to a writable directory",
            metrics_dir(settings),
            exc.strerror,
        )
        return
    os.environ[MULTIPROC_ENV] = str(path)


def cmd_web(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from marketplace.app import create_app
    from marketplace.heap import freeze_startup_heap

    if args.environment_from_stdin:
        line = sys.stdin.readline()  # one JSON object of variables; nothing: the run gave up
        if not line:
            return 0
        os.environ.update(json.loads(line))
        settings = Settings.from_env()
    if settings.database.url is None:
        raise ConfigError(
            "DATABASE_URL is not set. Set it, or use `duet run` for the embedded default."
        )
    _join_metrics_dir(settings)

    app = create_app(settings)
    freeze_startup_heap()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        # X-Forwarded-* are read by the app, from TRUSTED_PROXIES only (marketplace/web/proxies.py).
        proxy_headers=False,
        # Logging is configured already (marketplace/observability/logs.py): uvicorn's records,
        # the access log included, go through the same handler, with the request id.
        log_config=None,
        access_log=True,
        # Live messages are small JSON frames: compressing them costs more CPU (and a deflate
        # context per open socket) than it saves.
        ws_per_message_deflate=False,
    )
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    import dramatiq

    from marketplace.app import build_queue, periodic_tasks, startup_tasks
    from marketplace.observability import tracing

    if settings.database.url is None or settings.broker.redis_url is None:
        raise ConfigError("The worker needs DATABASE_URL and REDIS_URL (or use `duet run`).")
    settings = settings.with_embedded_secrets()
    _join_metrics_dir(settings)
    tracing.configure_tracing(settings.observability, "worker")
    queue = build_queue(settings)
    if args.metrics_port:
        _serve_worker_metrics(args.metrics_address, args.metrics_port)
    worker = dramatiq.Worker(queue.broker, queues=queue.queue_names(), worker_threads=args.threads)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    for task in startup_tasks():
        queue.enqueue(task)
    logger.info("worker started on queues %s", ", ".join(sorted(queue.queue_names())))
    # A small ticker for periodic tasks (timed booking transitions, reminders); with several
    # workers each enqueues them, which is fine because they are idempotent.
    due = {name: 0.0 for name, _ in periodic_tasks()}
    while not stop.wait(1.0):
        for name, every in periodic_tasks():
            if time.monotonic() >= due[name]:
                queue.enqueue(name)
                due[name] = time.monotonic() + every
    logger.info("worker stopping")
    worker.stop(timeout=int(CHILD_STOP_TIMEOUT * 1000))
    queue.broker.close()
    tracing.shutdown_tracing()
    return 0


def cmd_media(settings: Settings, args: argparse.Namespace) -> int:
    if settings.database.url is None or settings.broker.redis_url is None:
        raise ConfigError("A media process needs DATABASE_URL and REDIS_URL (or use `duet run`).")
    capacity = args.capacity or settings.video.media_capacity
    if not 1 <= capacity <= 1000:
        raise ConfigError("--capacity must be between 1 and 1000 rooms.")
    settings = settings.with_embedded_secrets()
    _join_metrics_dir(settings)
    from marketplace.observability import tracing

    tracing.configure_tracing(settings.observability, "media")
    asyncio.run(_serve_media(settings, capacity))
    tracing.shutdown_tracing()
    return 0


async def _serve_media(settings: Settings, capacity: int) -> None:
    from redis.asyncio import Redis

    from marketplace.app import media_services, room_registry
    from marketplace.heap import freeze_startup_heap
    from scheduling.lifecycle import BookingTransitioned
    from video.directory import new_process_id
    from video.media_server import MediaServer

    assert settings.broker.redis_url is not None
    services = media_services(settings)
    registry = room_registry(services)
    services.events.subscribe(BookingTransitioned, registry.on_booking_transitioned)
    redis = Redis.from_url(settings.broker.redis_url)
    server = MediaServer(services, registry, redis, new_process_id(), capacity)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    # Rooms are what this process is for: load their stack (aiortc, PyAV) now, which the first
    # room would do anyway, so that it is frozen with the rest. After registering, so that the
    # directory lists the process a second sooner.
    import video.room  # noqa: F401

    freeze_startup_heap()
    try:
        await stop.wait()
    finally:
        logger.info("media process %s stopping", server.id)
        await server.stop()
        await redis.aclose()
        await services.engine.dispose()


def _serve_worker_metrics(address: str, port: int) -> None:
    """prometheus-client's own exporter thread, reading every process's files in the metrics
    directory. No token: keep the address private (the default is loopback)."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=address, registry=registry)
    logger.info("worker metrics at http://%s:%d/metrics", address, port)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """The embedded default: everything in one command; Ctrl-C stops all of it.

    The web server starts first, while PostgreSQL and Redis start: it imports the app
    meanwhile and gets their addresses on stdin once the schema is known to be current (and,
    on the first run, the demo data is in). On existing data the demo refresh runs while the
    web server gets ready, and the worker starts once the web server answers, so the children
    do not share the cores while the first page is being made ready."""
    from marketplace import migrate

    started_at = time.monotonic()
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    # Decided before the embedded URLs are filled in: this is the embedded default, so the
    # CSRF secret and the certificate signing key may come from var/. The children get them
    # through their environment.
    settings = settings.with_embedded_secrets()
    # This command starts every process that writes metrics: their files start afresh.
    from marketplace.observability.metrics import MULTIPROC_ENV, prepare_multiprocess_dir

    metrics_files = prepare_multiprocess_dir(metrics_dir(settings), clean=True)
    env = {
        **os.environ,
        MULTIPROC_ENV: str(metrics_files),
        "DUET_VAR_DIR": str(settings.var_dir),
        "SECRET_KEY": settings.web.secret_key,
        "CERTIFICATE_SIGNING_KEY": settings.courses.signing_key,
    }
    if args.media > 0:
        env["ROOM_PLACEMENT"] = "media"
    web_command = [
        sys.executable, "-m", "marketplace.cli", "web", "--environment-from-stdin",
        "--host", args.host, "--port", str(args.port),
    ]  # fmt: skip
    web = _spawn("web", web_command, env, stdin=subprocess.PIPE)
    children = [web]  # in start order; stopped in reverse
    exit_code = 0
    try:
        with embedded_services(settings, redis=True, exclusive=True) as live:
            assert live.database.url and live.broker.redis_url
            if stopping.is_set():
                return 130
            step("Applying database migrations")
            state = asyncio.run(_database_state(live.database.url))
            if state is not None and state.revisions == migrate.script_heads():
                print("  the schema is up to date.", flush=True)
                empty = state.empty
            else:
                migrate.upgrade(live.database.url)
                empty = asyncio.run(_is_empty(live))
            services = {"DATABASE_URL": live.database.url, "REDIS_URL": live.broker.redis_url}
            env.update(services)
            if empty:
                asyncio.run(_seed(live, DEMO_TUTORS, media=False))
                _hand_environment(web, services)
                _wait_ready(args.host, args.port, children, stopping)
                answered = time.monotonic()
            else:
                _hand_environment(web, services)
                # The demo refresh (another core) while the web server gets ready.
                refresh = _Background(lambda: asyncio.run(_refresh_demo(live)))
                _wait_ready(args.host, args.port, children, stopping)
                answered = time.monotonic()
                refresh.result()
            if not stopping.is_set() and web.poll() is None:
                worker_command = [sys.executable, "-m", "marketplace.cli", "worker"]
                children.insert(0, _spawn("worker", worker_command, env))
                media_command = [sys.executable, "-m", "marketplace.cli", "media"]
                for number in range(args.media):
                    children.insert(0, _spawn(f"media {number + 1}", media_command, env))
                took = answered - started_at
                print(
                    f"\n  Duet is running at http://{args.host}:{args.port}/ "
                    f"(ready in {took:.1f} s). Press Ctrl-C to stop.\n",
                    flush=True,
                )
            # The demo media after the first page: drawing it takes most of a first start.
            media = _Background(
                lambda: asyncio.run(
                    _fill_demo_media(live, DEMO_TUTORS, announce=empty, cancelled=stopping.is_set)
                )
            )
            while not stopping.wait(0.5):
                if any(child.poll() is not None for child in children):
                    logger.error("a Duet process exited unexpectedly; stopping everything")
                    exit_code = 1
                    stopping.set()
                    break
            media.result()  # stops after the batch it is drawing
            step("Stopping web server, worker and media processes")
            _stop_children(reversed(children))
    finally:
        if web.stdin is not None and not web.stdin.closed:
            web.stdin.close()  # a web server still waiting for addresses exits on this
        _stop_children(reversed(children))  # anything left after an error
    return exit_code


class _Background:
    """Runs ``work`` in a thread; ``result()`` waits and re-raises what it raised."""

    def __init__(self, work: Callable[[], object]) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], object]) -> None:
        try:
            work()
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def _hand_environment(web: subprocess.Popen[bytes], variables: dict[str, str]) -> None:
    """The addresses the waiting web server needs, as one JSON line on its stdin."""
    assert web.stdin is not None
    try:
        web.stdin.write(json.dumps(variables).encode() + b"\n")
        web.stdin.close()
    except BrokenPipeError:
        pass  # it has exited; the supervisor notices and stops


@dataclass(frozen=True)
class _DatabaseState:
    revisions: frozenset[str]  # the schema's applied Alembic heads
    empty: bool  # no users yet: the demo data is to be seeded


async def _database_state(database_url: str) -> _DatabaseState | None:
    """Applied revisions and whether there are users, in one short connection; None when that
    cannot be told this way (then Alembic decides, as it always may)."""
    import asyncpg  # type: ignore[import-untyped]

    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, ValueError, asyncpg.PostgresError):
        return None
    try:
        if await conn.fetchval("SELECT to_regclass('alembic_version') IS NULL"):
            return None
        rows = await conn.fetch("SELECT version_num FROM alembic_version")
        empty = not await conn.fetchval("SELECT EXISTS (SELECT FROM users)")
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    return _DatabaseState(frozenset(str(row[0]) for row in rows), bool(empty))


async def _is_empty(settings: Settings) -> bool:
    from sqlalchemy import func, select

    from marketplace import db
    from marketplace.accounts.models import User

    assert settings.database.url
    engine = db.create_engine(settings.database.url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(User)) or 0) == 0
    finally:
        await engine.dispose()


def _spawn(
    name: str, command: list[str], env: dict[str, str], stdin: int | None = None
) -> subprocess.Popen[bytes]:
    # Own session: a terminal Ctrl-C reaches only us, and we stop children in order.
    return subprocess.Popen(
        command, env=env, stdin=stdin, start_new_session=True, preexec_fn=_die_with_parent
    )


def _die_with_parent() -> None:
    """On Linux, ask the kernel to stop the child if this supervisor is killed outright."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_ready(
    host: str, port: int, children: list[subprocess.Popen[bytes]], stopping: threading.Event
) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not stopping.is_set():
        if any(child.poll() is not None for child in children):
            return
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)


def _stop_children(
    children: Iterator[subprocess.Popen[bytes]] | list[subprocess.Popen[bytes]],
) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(CHILD_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


if __name__ == "__main__":
    sys.exit(main())
