"""The composition root: the only module that wires every package together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from os import PathLike
from pathlib import Path
from typing import Any

import dramatiq
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from dashboards import pages as dashboard_pages
from lessons import jobs as lessons_jobs
from lessons import web as lessons_web
from lessons.courses import media_grant as course_media_grant
from lessons.courses.order_kind import WORDING as COURSE_WORDING
from lessons.courses.order_kind import CoursePurchases
from lessons.courses.orders import COURSE
from marketplace import db
from marketplace.accounts.api import AuthController, MeController
from marketplace.accounts.pages import ROUTES as ACCOUNT_PAGES
from marketplace.audit.api import ROUTES as AUDIT_ROUTES
from marketplace.events import EventBus
from marketplace.media import LocalMediaStorage
from marketplace.media_links import MediaLinks
from marketplace.messaging import jobs as messaging_jobs
from marketplace.messaging.api import ROUTES as MESSAGING_API
from marketplace.messaging.pages import ROUTES as MESSAGING_PAGES
from marketplace.messaging.pages import header_counts
from marketplace.messaging.socket import FrameSendMiddleware, messages_socket
from marketplace.notifications import jobs as notification_jobs
from marketplace.notifications.api import ROUTES as NOTIFICATION_ROUTES
from marketplace.observability import tracing
from marketplace.observability.metrics import Scraper, count_by
from marketplace.privacy import blockers as deletion_blockers
from marketplace.privacy import jobs as privacy_jobs
from marketplace.privacy.api import ROUTES as PRIVACY_API
from marketplace.privacy.pages import ROUTES as PRIVACY_PAGES
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
from marketplace.settings import ConfigError, Settings
from marketplace.tasks import (
    DramatiqQueue,
    JobContext,
    TaskSpec,
    all_task_specs,
    build_broker,
    queue_depths,
)
from marketplace.web import media as media_routes
from marketplace.web import templating
from marketplace.web.access import CSRF_COOKIE, CSRF_HEADER, Access, AuthMiddleware, access_guard
from marketplace.web.api_docs import DocumentedOpenAPIConfig, document_errors
from marketplace.web.errors import EXCEPTION_HANDLERS
from marketplace.web.health import healthz
from marketplace.web.inputs import CheckedRequest, InputGuardMiddleware
from marketplace.web.metrics import metrics_route, prometheus_middleware
from marketplace.web.proxies import ForwardedClientMiddleware, TrustedProxies, parse_networks
from marketplace.web.request_id import RequestIdMiddleware
from marketplace.web.security import SecurityHeaders
from marketplace.web.services import Services
from payouts import api as payouts_api
from payouts import jobs as payouts_jobs
from payouts import pages as payouts_pages
from payouts.models import Payment
from payouts.purchases import KINDS as PURCHASE_KINDS
from reviews import fragments as review_fragments
from reviews import jobs as reviews_jobs
from reviews import pages as review_pages
from reviews import queries as review_queries
from reviews.api import ROUTES as REVIEWS_API
from scheduling import jobs as scheduling_jobs
from scheduling import notices as scheduling_notices
from scheduling import privacy as scheduling_privacy
from scheduling.api import ROUTES as SCHEDULING_API
from scheduling.lifecycle import BookingTransitioned
from scheduling.messaging_facts import SchedulingBookingFacts
from scheduling.models import Booking
from scheduling.pages import ROUTES as SCHEDULING_PAGES
from scheduling.payments import BOOKING, SERIES, BookingPurchases
from scheduling.payments import WORDING as LESSON_WORDING
from scheduling.presenters import status_words
from search import api as search_api
from search import jobs as search_jobs
from search import readiness as search_readiness
from search.factory import build_search_backend
from search.signals import TutorSignals
from video import api as video_api
from video import jobs as video_jobs
from video import pages as video_pages
from video import signaling as video_signaling
from video.ice import IceServers
from video.registry import RoomRegistry
from video.relay import MediaRelay

PACKAGE_DIR = Path(__file__).parent
TEMPLATE_DIRS: list[Path | PathLike[Any] | str] = [
    PACKAGE_DIR / "templates",
    PACKAGE_DIR.parent / "scheduling" / "templates",
    search_api.TEMPLATES,
    review_pages.TEMPLATES,
    payouts_pages.TEMPLATES,
    lessons_web.TEMPLATES,
    video_pages.TEMPLATES,
    dashboard_pages.TEMPLATES,
]
STATIC_DIR = PACKAGE_DIR / "static"


async def search_signals(
    session: AsyncSession, tutor_ids: Sequence[int]
) -> Mapping[int, TutorSignals]:
    """Search's rating signals come from the reviews aggregates. Search and reviews are siblings
    and never import each other; this adapter is the only place that sees both."""
    found = await review_queries.summaries(session, tutor_ids)
    return {
        tutor_id: TutorSignals(
            rating=summary.average,
            review_count=summary.count,
            ranking_score=summary.ranking_score,
        )
        for tutor_id, summary in found.items()
    }


def task_specs() -> list[TaskSpec]:
    """Every background task of every package."""
    return all_task_specs(
        [
            profile_jobs.TASKS,
            notification_jobs.TASKS,
            payouts_jobs.TASKS,
            messaging_jobs.TASKS,
            scheduling_jobs.TASKS,
            search_jobs.tasks(search_signals),
            reviews_jobs.TASKS,
            lessons_jobs.TASKS,
            video_jobs.TASKS,
            privacy_jobs.TASKS,
        ]
    )


def startup_tasks() -> list[str]:
    """Tasks each worker enqueues when it starts (sweeps for work whose job was lost)."""
    return [*profile_jobs.ON_WORKER_START, *lessons_jobs.ON_WORKER_START]


def periodic_tasks() -> list[tuple[str, int]]:
    """(task, seconds between runs) that each worker enqueues on a timer; they are idempotent."""
    return [
        *scheduling_jobs.PERIODIC,
        *payouts_jobs.PERIODIC,
        *video_jobs.PERIODIC,
        *messaging_jobs.PERIODIC,
        *search_jobs.PERIODIC,
        *lessons_jobs.PERIODIC,
        *privacy_jobs.PERIODIC,
    ]


def demo_extras(settings: Settings | None = None) -> list[DemoExtra]:
    """Demo data of higher packages, added by ``duet seed-demo`` after the kernel's. Demo
    courses store generated media, so they are seeded only when the settings are given.

    The demo modules are imported here, not at the top: they pull in what only seeding needs
    (fpdf and its fonts for the demo course's sheet music), which the web process and the worker
    would otherwise pay for at every start."""
    from lessons import demo as lessons_demo
    from lessons.discussions import demo as discussions_demo
    from marketplace.messaging import demo as messaging_demo
    from payouts import demo as payouts_demo
    from reviews import demo as reviews_demo
    from scheduling import demo as scheduling_demo
    from video import demo as video_demo

    extras: list[DemoExtra] = [
        scheduling_demo.seed_availability,
        payouts_demo.seed_payout_accounts,
        reviews_demo.seed_reviews,
        video_demo.seed_demo_lesson,
        messaging_demo.seed_conversation,
    ]
    if settings is not None:
        storage = LocalMediaStorage(settings.media.root)
        extras.append(lessons_demo.course_seeder(storage, settings.marketplace.currency))
    # After the courses: it talks on the demo course (and does nothing without it).
    extras.append(discussions_demo.seed_discussions)
    return extras


def wire_subscribers(events: EventBus, queue: DramatiqQueue) -> None:
    """Cross-package reactions to domain events (search indexing and others subscribe here)."""
    scheduling_notices.subscribe(events, queue)
    search_jobs.subscribe(events, queue)
    reviews_jobs.subscribe(events, queue)
    register_purchases()
    register_deletion_checks()


def register_deletion_checks() -> None:
    """What must be dealt with before an account may be deleted (the kernel sees no lessons)."""
    deletion_blockers.register("scheduling", scheduling_privacy.deletion_blockers)


def register_purchases() -> None:
    """What payments may sell, and who delivers it (called inside the payment's transaction)."""
    lessons = BookingPurchases()
    PURCHASE_KINDS.register(BOOKING, lessons, LESSON_WORDING)
    PURCHASE_KINDS.register(SERIES, lessons, LESSON_WORDING)
    PURCHASE_KINDS.register(COURSE, CoursePurchases(), COURSE_WORDING)


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


def room_registry(services: Services) -> RoomRegistry:
    """The rooms of this process: a web process's (``ROOM_PLACEMENT=local``) or a media
    process's."""
    turn = None
    if services.settings.sms.uses_twilio:
        from video import twilio_turn  # the Twilio SDK only when Twilio is configured

        turn = twilio_turn.from_settings(services.settings)
    return RoomRegistry(services, IceServers(services.settings.video, turn))


def media_services(settings: Settings) -> Services:
    """What a media process needs: the database (rooms read bookings, save recordings, end
    lessons), the job queue and events wired as in the web process."""
    assert settings.database.url is not None
    engine = db.create_engine(settings.database.url, pool_size=settings.database.pool_size)
    return _services(settings, engine, build_queue(settings), RateLimiter(MemoryCounter()))


def _services(
    settings: Settings,
    engine: AsyncEngine,
    queue: DramatiqQueue,
    limiter: RateLimiter,
    **extra: Any,
) -> Services:
    """What every process kind that serves users shares, events wired to jobs the same way."""
    events = EventBus()
    wire_subscribers(events, queue)
    return Services(
        settings=settings,
        engine=engine,
        sessions=db.create_session_factory(engine),
        events=events,
        queue=queue,
        storage=LocalMediaStorage(settings.media.root),
        limiter=limiter,
        private_storage=LocalMediaStorage(settings.messaging.private_root, url_prefix=""),
        media_links=MediaLinks(settings.web.secret_key, settings.media.link_seconds),
        **extra,
    )


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
    # Before any engine is made, so SQL gets spans; does nothing unless tracing is configured.
    tracing.configure_tracing(settings.observability, "web")
    engine = db.create_engine(
        database_url, pool_size=settings.database.pool_size, echo=settings.database.echo
    )
    # Posting a message and looking up a token are one statement each: their own pool, without
    # the pre-ping, and without overflow connections (opened and closed over and over under a
    # steady stream of messages). Group commit keeps at most two message writes in flight.
    hot_engine = db.create_engine(
        database_url,
        pool_size=max(2, settings.database.pool_size),
        echo=settings.database.echo,
        pre_ping=False,
        overflow=False,
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
    if redis is not None:
        tracing.instrument_redis(redis)
    services = _services(
        settings,
        engine,
        queue,
        RateLimiter(counter or (RedisCounter(redis) if redis else MemoryCounter())),
        hub=Hub(settings.broker.redis_url),
        # Messaging (kernel) asks scheduling about a pair's bookings through this port; see
        # "Messaging" in docs/architecture.md for why a provider and not an event.
        booking_facts=SchedulingBookingFacts(),
        hot_engine=hot_engine,
    )
    services.health_checks.update(_health_checks(services, queue.broker, redis))
    # A student's course media links are served only while their enrolment lasts.
    services.media_grants[course_media_grant.KIND] = course_media_grant.check
    # Sections higher packages add to lower packages' pages.
    services.fragments.add("tutor_page", review_fragments.TUTOR_PAGE)
    services.fragments.add("tutor_header", review_fragments.TUTOR_HEADER)
    services.fragments.add("lesson_page", review_fragments.LESSON_PAGE)
    services.fragments.add("tutor_editor", search_readiness.FRAGMENT)
    services.fragments.add(
        "lesson_page", video_pages.recording_fragment(settings.video.recording_retention_days)
    )
    settings.media.root.mkdir(parents=True, exist_ok=True)
    settings.messaging.private_root.mkdir(parents=True, exist_ok=True)
    # The lesson rooms live in this process (the app owns them and closes them on shutdown), or
    # on media processes this process relays to (docs/architecture.md, "Media processes").
    rooms: RoomRegistry | MediaRelay
    if settings.video.placement == "media":
        if not settings.broker.redis_url:
            raise ConfigError("ROOM_PLACEMENT=media needs REDIS_URL (or use `duet run`).")
        rooms = MediaRelay(settings.broker.redis_url)
        services.health_checks["media"] = rooms.health
    else:
        rooms = room_registry(services)
    services.events.subscribe(BookingTransitioned, rooms.on_booking_transitioned)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await services.hub.start()
        await rooms.start()
        try:
            yield
        finally:
            await rooms.close_all()
            await services.hub.stop()
            await engine.dispose()
            await hot_engine.dispose()
            if redis is not None:
                await redis.aclose()

    metrics_token = settings.observability.metrics_token
    observability_routes = (
        [metrics_route(metrics_token, _scraper(services, queue, redis))] if metrics_token else []
    )
    route_handlers: Sequence[Any] = [
        healthz,
        *observability_routes,
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
        *AUDIT_ROUTES,
        *PRIVACY_API,
        *PRIVACY_PAGES,
        *SCHEDULING_API,
        *SCHEDULING_PAGES,
        *REVIEWS_API,
        *review_pages.ROUTES,
        *payouts_api.ROUTES,
        *payouts_pages.ROUTES,
        *dashboard_pages.ROUTES,
        *lessons_web.routes(settings),
        search_api.router(build_search_backend(settings, engine)),
        *video_signaling.ROUTES,
        *video_api.ROUTES,
        *video_pages.ROUTES,
        create_static_files_router(
            path="/static/video",
            directories=[video_pages.STATIC],
            opt={"access": Access.PUBLIC},
            include_in_schema=False,
        ),
        create_static_files_router(
            path="/static",
            directories=[STATIC_DIR],
            opt={"access": Access.PUBLIC},
            include_in_schema=False,
        ),
        create_static_files_router(
            path="/static/reviews",
            directories=[review_pages.STATIC],
            opt={"access": Access.PUBLIC},
            include_in_schema=False,
        ),
        # Only photos and audio samples are public; every other media file needs a signed link.
        *media_routes.public_media_routers(settings.media.root),
        media_routes.private_media,
    ]
    app = Litestar(
        route_handlers=route_handlers,
        guards=[access_guard],
        # The request id first, so everything after it runs with it; then the client's address
        # (behind a trusted proxy) before anything reads it.
        middleware=[
            RequestIdMiddleware,
            # Spans and request metrics only when configured (no import cost otherwise).
            *([tracing.litestar_middleware()] if tracing.enabled() else []),
            *([prometheus_middleware()] if metrics_token else []),
            DefineMiddleware(
                ForwardedClientMiddleware,
                proxies=TrustedProxies(parse_networks(settings.web.trusted_proxies)),
            ),
            InputGuardMiddleware(),
            AuthMiddleware(),
            FrameSendMiddleware(),
        ],
        request_class=CheckedRequest,
        # On every response, 404s and static files included (middleware runs per route).
        before_send=[SecurityHeaders(settings)],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=header_counts,
        csrf_config=CSRFConfig(
            secret=settings.web.secret_key,
            cookie_name=CSRF_COOKIE,
            header_name=CSRF_HEADER,
            cookie_secure=settings.web.cookies_secure,
            cookie_httponly=False,  # checkout.js and messaging.js send it as X-CSRFToken
            cookie_samesite="lax",
            exclude=["/api/", "/webhooks/", "/schema", "/healthz"],
        ),
        template_config=TemplateConfig(
            directory=TEMPLATE_DIRS,
            engine=JinjaTemplateEngine,
            engine_callback=templating.configure(settings, filters={"lesson_status": status_words}),
        ),
        openapi_config=DocumentedOpenAPIConfig(
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
        # Logging belongs to the process (marketplace/observability/logs.py): Litestar's default
        # would replace the root handler with its own format at start-up.
        logging_config=None,
        debug=settings.debug,
        state=None,
    )
    document_errors(app.routes)
    app.state.services = services
    app.state.rooms = rooms
    return app


def _scraper(services: Services, queue: DramatiqQueue, redis: Redis | None) -> Scraper:
    """What ``/metrics`` reads when scraped, besides what the processes counted."""
    scraper = Scraper()

    async def queues() -> Any:
        return await queue_depths(queue.broker, queue.queue_names(), redis)

    async def bookings() -> Any:
        return await count_by(
            services.engine, Booking.status, "duet_bookings", "Bookings by state", "state"
        )

    async def payments() -> Any:
        return await count_by(
            services.engine, Payment.status, "duet_payments", "Payments by status", "status"
        )

    scraper.add("queues", queues)
    scraper.add("bookings", bookings, cache_seconds=10)
    scraper.add("payments", payments, cache_seconds=10)
    return scraper


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
