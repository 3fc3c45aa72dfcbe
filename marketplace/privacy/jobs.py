"""Personal-data jobs: build an export, erase an account, purge by retention. Thin and safe to
run twice; each opens its own transactions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from marketplace.privacy import erasure, retention, service
from marketplace.privacy.files import Stores
from marketplace.privacy.models import AccountDeletion, DataExport
from marketplace.tasks import JobContext, TaskSpec
from marketplace.uow import unit_of_work

logger = logging.getLogger(__name__)

PURGE_TASK = "privacy.purge"


async def build_export(ctx: JobContext, export_id: int) -> None:
    stores = Stores.from_settings(ctx.settings)
    try:
        async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
            await service.build_export(session, stores, export_id, ctx.settings.privacy.export_days)
    except Exception as exc:
        # Recorded in its own transaction (the export's rolled back); dramatiq retries.
        async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
            row = await session.get(DataExport, export_id)
            if row is not None:
                row.error = type(exc).__name__
        raise


async def erase_account(ctx: JobContext, user_id: int) -> None:
    stores = Stores.from_settings(ctx.settings)
    try:
        async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
            await erasure.erase_account(session, user_id)
    except Exception as exc:
        # Nothing of the erasure committed. Only the class of the failure is kept: a database
        # message could quote the very values being erased.
        async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
            deletion = await session.get(AccountDeletion, user_id, with_for_update=True)
            if deletion is not None and deletion.erased_at is None:
                deletion.attempts += 1
                deletion.last_error = type(exc).__name__
        logger.warning("erasing account %s failed (%s); it will be retried", user_id, exc.__class__)
        raise
    # Files last: the rows that named them are gone for good now.
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        deletion = await session.get(AccountDeletion, user_id, with_for_update=True)
        if deletion is not None and deletion.erased_at is not None and deletion.pending_files:
            erasure.delete_pending_files(stores, deletion.pending_files)
            deletion.pending_files = []


async def purge(ctx: JobContext) -> None:
    stores = Stores.from_settings(ctx.settings)
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        done = await retention.purge(session, ctx.settings.privacy, datetime.now(UTC))
    erasure.delete_pending_files(stores, done.files)
    if done.exports or done.messages or done.notifications or done.sms or done.webhook_events:
        logger.info(
            "retention purge: %s exports, %s messages, %s notifications, %s SMS, %s webhook events",
            done.exports,
            done.messages,
            done.notifications,
            done.sms,
            done.webhook_events,
        )


TASKS = [
    TaskSpec(service.EXPORT_TASK, build_export, max_retries=3),
    TaskSpec(service.ERASE_TASK, erase_account, max_retries=10),
    TaskSpec(PURGE_TASK, purge, max_retries=1),
]
PERIODIC = [(PURGE_TASK, 3600)]
