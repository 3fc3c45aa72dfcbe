"""The composition root: the only module that wires every package together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from os import PathLike
from pathlib import Path
from typing import Any

import dramatiq
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import text

from marketplace import db
from marketplace.accounts.api import AuthController, MeController
from marketplace.accounts.pages import ROUTES as ACCOUNT_PAGES
from marketplace.events import EventBus
from marketplace.media import LocalMediaStorage
from marketplace.messaging import demo as messaging_demo
from marketplace.messaging import jobs as messaging_jobs
from marketplace.messaging.api import ROUTES as MESSAGING_API
from marketplace.messaging.pages import ROUTES as MESSAGING_PAGES
from marketplace.messaging.pages import header_counts
from marketplace.messaging.socket import messages_socket
from marketplace.notifications import jobs as notification_jobs
from marketplace.notifications.api import ROUTES as NOTIFICATION_ROUTES
from marketplace.profiles import jobs as profile_jobs
from marketplace.profiles.api import (
    AdminTutorController,
    PublicTutorController,
    StudentProfileController,
    TutorProfileController,
    VocabularyController,
)
from marketplace.profiles.pages import ROUTES as PROFILE_PAGES
from marketplace.ratelimit import Counter, MemoryCounter, RateLimiter, RedisCounter
from marketplace.realtime import Hub
from marketplace.reports.api import ROUTES as REPORT_ROUTES
from marketplace.seed.load import DemoExtra
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue, JobContext, TaskSpec, all_task_specs, build_broker
from marketplace.web import templating
from marketplace.web.access import CSRF_COOKIE, CSRF_HEADER, Access, AuthMiddleware, access_guard
from marketplace.web.errors import EXCEPTION_HANDLERS
from marketplace.web.health import healthz
from marketplace.web.services import Services
from scheduling import demo as scheduling_demo
from scheduling import jobs as scheduling_jobs
from scheduling import notices as scheduling_notices
from scheduling.api import ROUTES as SCHEDULING_API
from scheduling.messaging_facts import SchedulingBookingFacts
from scheduling.pages import ROUTES as SCHEDULING_PAGES
from search import api as search_api
from search import jobs as search_jobs
from search.factory import build_search_backend

PACKAGE_DIR = Path(__file__).parent
TEMPLATE_DIRS: list[Path | PathLike[Any] | str] = [
    PACKAGE_DIR / "templates",
    PACKAGE_DIR.parent / "scheduling" / "templates",
    search_api.TEMPLATES,
]
STATIC_DIR = PACKAGE_DIR / "static"


def task_specs() -> list[TaskSpec]:
    """Every background task of every package."""
    return all_task_specs(
        [
            profile_jobs.TASKS,
            notification_jobs.TASKS,
            messaging_jobs.TASKS,
            scheduling_jobs.TASKS,
            search_jobs.TASKS,
        ]
    )


def startup_tasks() -> list[str]:
    """Tasks each worker enqueues when it starts (sweeps for work whose job was lost)."""
    return [*profile_jobs.ON_WORKER_START]


def periodic_tasks() -> list[tuple[str, int]]:
    """(task, seconds between runs) that each worker enqueues on a timer; they are idempotent."""
    return [*scheduling_jobs.PERIODIC, *messaging_jobs.PERIODIC]


def demo_extras() -> list[DemoExtra]:
    """Demo data of higher packages, added by ``duet seed-demo`` after the kernel's."""
    return [scheduling_demo.seed_availability, messaging_demo.seed_conversation]


def wire_subscribers(events: EventBus, queue: DramatiqQueue) -> None:
    """Cross-package reactions to domain events (search indexing and others subscribe here)."""
    scheduling_notices.subscribe(events, queue)
    search_jobs.subscribe(events, queue)


def build_queue(settings: Settings, broker: dramatiq.Broker | None = None) -> DramatiqQueue:
    broker = broker or build_broker(settings.broker.redis_url)

    def context() -> JobContext:
        engine = db.create_engine(settings.database.url or "", pooled=False)
        events = EventBus()
        job_ctx = JobContext(
            settings=settings,
            engine=engine,
            sessions=db.create_session_factory(engine),
            storage=LocalMediaStorage(settings.media.root),
            events=events,
            queue=queue,
        )
        wire_subscribers(events, queue)
        return job_ctx

    queue = DramatiqQueue(broker, task_specs(), context_factory=context)
    return queue


def create_app(
    settings: Settings,
    *,
    queue: DramatiqQueue | None = None,
    counter: Counter | None = None,
) -> Litestar:
    database_url = settings.database.url
    if database_url is None:
        raise ValueError("create_app needs a database URL; the CLI starts the embedded one")
    settings = settings.with_embedded_secrets()
    engine = db.create_engine(
        database_url, pool_size=settings.database.pool_size, echo=settings.database.echo
    )
    # Posting a message is one statement: its own smaller pool, without the pre-ping.
    hot_engine = db.create_engine(
        database_url,
        pool_size=max(2, settings.database.pool_size // 2),
        echo=settings.database.echo,
        pre_ping=False,
    )
    queue = queue or build_queue(settings)
    redis = (
        # Bounded: a burst of requests waits for a connection rather than opening hundreds.
        Redis.from_pool(
            BlockingConnectionPool.from_url(
                settings.broker.redis_url, max_connections=32, timeout=5
            )
        )
        if settings.broker.redis_url
        else None
    )
    events = EventBus()
    wire_subscribers(events, queue)
    services = Services(
        settings=settings,
        engine=engine,
        sessions=db.create_session_factory(engine),
        events=events,
        queue=queue,
        storage=LocalMediaStorage(settings.media.root),
        limiter=RateLimiter(counter or (RedisCounter(redis) if redis else MemoryCounter())),
        private_storage=LocalMediaStorage(settings.messaging.private_root, url_prefix=""),
        hub=Hub(settings.broker.redis_url),
        # Messaging (kernel) asks scheduling about a pair's bookings through this port; see
        # "Messaging" in docs/architecture.md for why a provider and not an event.
        booking_facts=SchedulingBookingFacts(),
        hot_engine=hot_engine,
    )
    services.health_checks.update(_health_checks(services, queue.broker, redis))
    settings.media.root.mkdir(parents=True, exist_ok=True)
    settings.messaging.private_root.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await services.hub.start()
        try:
            yield
        finally:
            await services.hub.stop()
            await engine.dispose()
            await hot_engine.dispose()
            if redis is not None:
                await redis.aclose()

    route_handlers: Sequence[Any] = [
        healthz,
        AuthController,
        MeController,
        TutorProfileController,
        StudentProfileController,
        PublicTutorController,
        AdminTutorController,
        VocabularyController,
        *ACCOUNT_PAGES,
        *PROFILE_PAGES,
        *NOTIFICATION_ROUTES,
        *MESSAGING_API,
        *MESSAGING_PAGES,
        messages_socket,
        *REPORT_ROUTES,
        *SCHEDULING_API,
        *SCHEDULING_PAGES,
        search_api.router(build_search_backend(settings, engine)),
        create_static_files_router(
            path="/static",
            directories=[STATIC_DIR],
            opt={"access": Access.PUBLIC},
            include_in_schema=False,
        ),
        create_static_files_router(
            path="/media",
            directories=[settings.media.root],
            opt={"access": Access.PUBLIC},
            include_in_schema=False,
        ),
    ]
    app = Litestar(
        route_handlers=route_handlers,
        guards=[access_guard],
        middleware=[AuthMiddleware()],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=header_counts,
        csrf_config=CSRFConfig(
            secret=settings.web.secret_key,
            cookie_name=CSRF_COOKIE,
            header_name=CSRF_HEADER,
            cookie_secure=settings.web.secure_cookies,
            cookie_samesite="lax",
            exclude=["/api/", "/webhooks/", "/schema", "/healthz"],
        ),
        template_config=TemplateConfig(
            directory=TEMPLATE_DIRS,
            engine=JinjaTemplateEngine,
            engine_callback=templating.configure(settings),
        ),
        openapi_config=OpenAPIConfig(
            title="Duet API",
            version="1",
            path="/schema",
            description="The Duet marketplace API. Authenticate with `Authorization: Bearer`.",
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer"),
                }
            ),
            security=[{"bearer": []}],
        ),
        lifespan=[lifespan],
        debug=settings.debug,
        state=None,
    )
    app.state.services = services
    return app


def _health_checks(
    services: Services, broker: dramatiq.Broker, redis: Redis | None
) -> dict[str, Any]:
    async def database() -> str:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return "postgresql"

    async def broker_check() -> str:
        if redis is None:
            return f"{type(broker).__name__} (in-memory)"
        await redis.ping()
        return "redis"

    search_backend = build_search_backend(services.settings, services.engine)

    async def search() -> str:
        return await search_backend.health()

    return {"database": database, "broker": broker_check, "search": search}
