"""Scheduling jobs: thin, take ids, open their own transaction, safe to run twice.

``scheduling.sweep`` is periodic (``PERIODIC``): the worker enqueues it every minute. It fires
due timed transitions (hold expiry, completion, settlement) and enqueues due reminders and
calendar refreshes.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from marketplace.tasks import JobContext, TaskSpec
from marketplace.uow import defer_job, unit_of_work
from scheduling import calendars, changes, notices
from scheduling.models import ExternalCalendar

SWEEP_TASK = "scheduling.sweep"
logger = logging.getLogger(__name__)


async def sweep(ctx: JobContext) -> None:
    settings = ctx.settings.scheduling
    now = datetime.now(UTC)
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        done = await changes.run_timed_transitions(
            session, dispute_window=timedelta(hours=settings.dispute_window_hours), now=now
        )
        for booking_id, kind, starts in await notices.due_reminders(session, now):
            defer_job(session, notices.REMINDER_TASK, booking_id, kind, starts)
        every = timedelta(minutes=settings.calendar_refresh_minutes)
        for calendar_id in await calendars.due_for_refresh(session, every):
            defer_job(session, calendars.REFRESH_TASK, calendar_id)
    if any(done.values()):
        logger.info("timed booking transitions: %s", done)


async def notify_booking(ctx: JobContext, booking_id: int, event: str) -> None:
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        await notices.notify_booking(session, booking_id, event)


async def send_reminder(ctx: JobContext, booking_id: int, kind: str, starts_iso: str) -> None:
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        await notices.send_reminder(session, booking_id, kind, starts_iso)


async def refresh_calendar(ctx: JobContext, calendar_id: int) -> None:
    settings = ctx.settings.scheduling
    async with ctx.sessions() as session:
        url = await session.scalar(
            select(ExternalCalendar.url).where(ExternalCalendar.id == calendar_id)
        )
    if not url:
        return
    data: bytes | None = None
    error = ""
    try:  # outside any transaction: a slow server must not hold a database connection
        data = await calendars.fetch(
            url,
            timeout_s=settings.calendar_fetch_timeout,
            max_bytes=settings.calendar_max_bytes,
            allow_private=settings.calendar_allow_private_hosts,
        )
    except (httpx.HTTPError, OSError, ValueError) as exc:
        error = f"Could not fetch the calendar: {exc}"
        logger.warning("calendar %s: %s", calendar_id, error)
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        await calendars.store_fetch_result(session, calendar_id, data, error)


TASKS = [
    TaskSpec(SWEEP_TASK, sweep, max_retries=0, time_limit_ms=5 * 60 * 1000),
    TaskSpec(notices.NOTIFY_TASK, notify_booking, max_retries=3),
    TaskSpec(notices.REMINDER_TASK, send_reminder, max_retries=3),
    TaskSpec(calendars.REFRESH_TASK, refresh_calendar, max_retries=0),
]
# (task, seconds between runs): enqueued by the worker's ticker.
PERIODIC = [(SWEEP_TASK, 60)]
