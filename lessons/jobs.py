"""Lessons jobs: converting course media, settling course sales. Thin, safe to run twice."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from lessons.courses import media_service, settlement
from marketplace.tasks import JobContext, TaskSpec
from marketplace.uow import unit_of_work

logger = logging.getLogger(__name__)

REQUEUE_TASK = "lessons.requeue_course_media"


async def process_course_media(ctx: JobContext, media_id: int) -> None:
    await media_service.process(
        ctx.engine,
        ctx.sessions,
        ctx.storage,
        media_id,
        ctx.settings.courses.hls_min_seconds,
    )


async def requeue_course_media(ctx: JobContext) -> None:
    """At worker start: conversions whose job was lost (the advisory lock skips live ones)."""
    for media_id in await media_service.stuck(ctx.sessions):
        ctx.queue.enqueue(media_service.TRANSCODE_TASK, media_id)


async def settle_course_orders(ctx: JobContext) -> None:
    """Periodic: the tutor's share of every course sale whose refund window has passed, each
    order in its own transaction."""
    now = datetime.now(UTC)
    async with ctx.sessions() as session:
        due = await settlement.due_orders(session, now)
    outcomes: dict[str, int] = {}
    for order_id in due:
        async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
            outcome = await settlement.settle_order(session, order_id, now)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if outcomes:
        logger.info("course orders: %s", outcomes)


TASKS = [
    # Long videos take a while on one core; a failure the file causes is recorded, not retried.
    TaskSpec(
        media_service.TRANSCODE_TASK,
        process_course_media,
        queue="media",
        max_retries=3,
        time_limit_ms=3 * 60 * 60 * 1000,
    ),
    TaskSpec(REQUEUE_TASK, requeue_course_media, queue="media", max_retries=3),
    TaskSpec(
        settlement.SETTLE_TASK, settle_course_orders, max_retries=0, time_limit_ms=5 * 60 * 1000
    ),
]
ON_WORKER_START = [REQUEUE_TASK]
# (task, seconds between runs): enqueued by the worker's ticker.
PERIODIC = [(settlement.SETTLE_TASK, 300)]
