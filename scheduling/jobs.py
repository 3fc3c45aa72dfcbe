"""Scheduling jobs: thin, take ids, open their own transaction, safe to run twice.

``scheduling.sweep`` is periodic (``PERIODIC``): the worker enqueues it every minute. It fires
due timed transitions (hold expiry, completion, settlement) and enqueues due reminders and
calendar refreshes (URLs fetched again, uploads read again so their horizon rolls).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from marketplace.tasks import JobContext, TaskSpec
from marketplace.uow import defer_job, unit_of_work
from scheduling import calendars, changes, notices
from scheduling.ics_isolation import read_isolated
from scheduling.ics_reader import CalendarUnreadable

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
        # URL calendars are fetched again, uploads read again daily: the horizon rolls.
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
    """Fetch (URLs) and read (both kinds) one imported calendar, up to a horizon from now.
    Slow work happens outside any transaction and the reading in a limited child process."""
    # httpx (with its command line: click, rich, pygments) only in the job that fetches.
    import httpx

    from scheduling import ics_fetch

    settings = ctx.settings.scheduling
    async with ctx.sessions() as session:
        item = await calendars.to_read(session, calendar_id)
    if item is None or (item.url is None and item.data is None):
        return
    data = item.data
    error = ""
    if item.url is not None:
        try:
            data = await ics_fetch.fetch(
                item.url,
                timeout_s=settings.calendar_fetch_timeout,
                max_bytes=settings.calendar_max_bytes,
                guard=ics_fetch.AddressGuard(allow_private=settings.calendar_allow_private_hosts),
            )
        except (httpx.HTTPError, OSError, ValueError) as exc:
            error = f"Could not fetch the calendar: {exc}"
    found = None
    start, until = calendars.horizon(datetime.now(UTC))
    if data is not None:
        try:
            found = await read_isolated(
                data, item.time_zone, start, until, calendars.read_limits(settings)
            )
        except CalendarUnreadable as exc:
            error = str(exc)
    if found is None:
        logger.warning("calendar %s: %s", calendar_id, error)
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        await calendars.store_read_result(session, calendar_id, found, error, until)


TASKS = [
    TaskSpec(SWEEP_TASK, sweep, max_retries=0, time_limit_ms=5 * 60 * 1000),
    TaskSpec(notices.NOTIFY_TASK, notify_booking, max_retries=3),
    TaskSpec(notices.REMINDER_TASK, send_reminder, max_retries=3),
    # Reading is bounded well below this (fetch timeout + the child's budget); the limit is the
    # last guard.
    TaskSpec(calendars.REFRESH_TASK, refresh_calendar, max_retries=0, time_limit_ms=90 * 1000),
]
# (task, seconds between runs): enqueued by the worker's ticker.
PERIODIC = [(SWEEP_TASK, 60)]
