"""Notification jobs: thin, take ids, safe to run twice."""

from __future__ import annotations

from marketplace.notifications import service
from marketplace.notifications.sms import build_sms_sender
from marketplace.tasks import JobContext, TaskSpec
from marketplace.uow import unit_of_work


async def send_sms(ctx: JobContext, message_id: int) -> None:
    sender = build_sms_sender(ctx.settings.sms)
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        await service.send_sms(session, sender, message_id)


TASKS = [TaskSpec(service.SEND_SMS_TASK, send_sms, queue="default", max_retries=3)]
