"""Messaging jobs: thin, take ids, safe to run twice."""

from __future__ import annotations

from marketplace.attachments import service as attachments
from marketplace.media import LocalMediaStorage
from marketplace.messaging import notify
from marketplace.tasks import JobContext, TaskSpec
from marketplace.uow import unit_of_work

CLEAN_ATTACHMENTS_TASK = "messaging.clean_attachments"


async def notify_offline(ctx: JobContext, message_id: int) -> None:
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        await notify.notify_offline(
            session, message_id, ctx.settings.messaging, ctx.settings.web.base_url
        )


async def clean_attachments(ctx: JobContext) -> None:
    storage = LocalMediaStorage(ctx.settings.messaging.private_root)
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        await attachments.delete_stale(session, storage)


TASKS = [
    TaskSpec(notify.NOTIFY_TASK, notify_offline, max_retries=3),
    TaskSpec(CLEAN_ATTACHMENTS_TASK, clean_attachments, max_retries=1),
]
PERIODIC = [(CLEAN_ATTACHMENTS_TASK, 3600)]
