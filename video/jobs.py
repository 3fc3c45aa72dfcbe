"""Lesson room jobs: mix a finished lesson's recording; the periodic sweep (orphaned recordings
of a room that vanished with its process, and retention)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from marketplace.tasks import JobContext, TaskSpec
from marketplace.uow import unit_of_work
from video import service

logger = logging.getLogger(__name__)


async def finish_recording(ctx: JobContext, recording_id: int) -> None:
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        await service.finish_recording(session, recording_id, ctx.settings)


async def sweep(ctx: JobContext) -> None:
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        done = await service.sweep(session, ctx.settings, datetime.now(UTC))
    if any(done.values()):
        logger.info("recordings: %s", done)


TASKS = [
    # Mixing an hour of lesson takes minutes of CPU; it is idempotent, so retries are safe.
    TaskSpec(service.FINISH_TASK, finish_recording, max_retries=3, time_limit_ms=60 * 60 * 1000),
    TaskSpec(service.SWEEP_TASK, sweep, max_retries=0),
]
PERIODIC = [(service.SWEEP_TASK, 300)]
