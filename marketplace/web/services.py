"""What request handlers reach through ``request.app.state.services``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from marketplace.events import EventBus
from marketplace.media import MediaStorage
from marketplace.media_links import GrantCheck, MediaLinks
from marketplace.messaging.bookings import BookingFacts, NoBookings
from marketplace.ratelimit import RateLimiter
from marketplace.realtime import Hub
from marketplace.settings import Settings
from marketplace.tasks import TaskQueue
from marketplace.uow import unit_of_work
from marketplace.web.fragments import Fragments

HealthCheck = Callable[[], Awaitable[str]]


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    events: EventBus
    queue: TaskQueue
    storage: MediaStorage
    limiter: RateLimiter
    private_storage: MediaStorage
    """Files only their owners' counterparts may fetch (message attachments): not under /media."""
    media_links: MediaLinks
    """Signed, short-lived links to private files in ``storage``; minted only after an access
    check (see ``marketplace.media_links``)."""
    hub: Hub = field(default_factory=lambda: Hub(None))
    """Real-time fan-out to connected browsers (Redis pub/sub across web processes)."""
    booking_facts: BookingFacts = field(default_factory=NoBookings)
    """What messaging may ask about bookings; scheduling provides it (wired in app.py)."""
    hot_engine: AsyncEngine | None = None
    """A pool without pre-ping for single-statement hot paths (posting a message, the token
    lookup of every request)."""
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    # Sections higher packages add to pages (see ``marketplace.web.fragments``).
    fragments: Fragments = field(default_factory=Fragments)
    media_grants: dict[str, GrantCheck] = field(default_factory=dict)
    """Checks for signed media links bound to a grant, by grant kind (``enrolment``: courses);
    registered by the composition root."""

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        return unit_of_work(self.sessions, self.events, self.queue)
