"""Lessons jobs: converting course media. Thin, take ids, safe to run twice."""

from __future__ import annotations

from lessons.courses import media_service
from marketplace.tasks import JobContext, TaskSpec

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
]
ON_WORKER_START = [REQUEUE_TASK]
