"""Profile jobs: thin, take ids, open their own transaction, safe to run twice."""

from __future__ import annotations

from datetime import timedelta

from marketplace.profiles import service
from marketplace.tasks import JobContext, TaskSpec
from marketplace.uow import unit_of_work

REQUEUE_TASK = "profiles.requeue_stuck_audio_samples"
STUCK_AFTER = timedelta(minutes=10)


async def transcode_audio_sample(ctx: JobContext, sample_id: int) -> None:
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        await service.transcode_audio_sample(session, ctx.storage, sample_id)


async def requeue_stuck_audio_samples(ctx: JobContext) -> None:
    """Run when a worker starts: picks up transcodes whose job never reached the queue."""
    async with ctx.sessions() as session:
        stuck = await service.stuck_audio_samples(session, STUCK_AFTER)
    for sample_id in stuck:
        ctx.queue.enqueue(service.TRANSCODE_TASK, sample_id)


TASKS = [
    TaskSpec(service.TRANSCODE_TASK, transcode_audio_sample, queue="media", max_retries=3),
    TaskSpec(REQUEUE_TASK, requeue_stuck_audio_samples, queue="media", max_retries=3),
]

# Tasks a worker enqueues once when it starts.
ON_WORKER_START = [REQUEUE_TASK]
