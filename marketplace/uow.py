"""One use case, one transaction; events and jobs go out only after the commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.events import EventBus
from marketplace.tasks import JSONArg, TaskQueue

_EVENTS_KEY = "duet_events"
_SEEN_KEY = "duet_events_seen"
_JOBS_KEY = "duet_jobs"


def emit(session: AsyncSession, event: object) -> None:
    """Publish ``event`` once ``session``'s transaction commits (never if it rolls back); an
    event equal to one already pending is published once."""
    pending: list[object] = session.info.setdefault(_EVENTS_KEY, [])
    # Events are frozen dataclasses: a set finds a repeat at once, where scanning the list made
    # a transaction of n events cost n² comparisons (the demo seed emits thousands).
    seen: set[object] = session.info.setdefault(_SEEN_KEY, set())
    try:
        if event in seen:
            return
        seen.add(event)
    except TypeError:  # unhashable: compare with each pending one
        if event in pending:
            return
    pending.append(event)


def defer_job(session: AsyncSession, name: str, *args: JSONArg) -> None:
    """Enqueue a job once ``session``'s transaction commits, so it never sees uncommitted rows."""
    session.info.setdefault(_JOBS_KEY, []).append((name, args))


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession], events: EventBus, queue: TaskQueue
) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        async with session.begin():
            yield session
        pending_events = session.info.pop(_EVENTS_KEY, [])
        session.info.pop(_SEEN_KEY, None)
        pending_jobs = session.info.pop(_JOBS_KEY, [])
    for name, args in pending_jobs:
        queue.enqueue(name, *args)
    await events.publish(*pending_events)
