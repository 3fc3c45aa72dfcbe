"""Counting searches, cheaply: one upsert of a daily counter per search page opened.

What counts as a search: opening the ``/search`` page (its first page of results). Typing and
ticking filters afterwards refine that search through the JSON API and are not counted, nor are
further result pages, nor API clients; so searches are roughly "visits that searched", which is
what a search-to-booking rate should divide by.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from search.models import SearchDailyCount

log = logging.getLogger(__name__)
SHARDS = 8


async def count_search(sessions: async_sessionmaker[AsyncSession], day: date | None = None) -> None:
    """Add one search to today's count (UTC), in its own short transaction.

    A failure is logged and swallowed: a lost count must never cost the visitor their results.
    """
    day = day or datetime.now(UTC).date()
    statement = insert(SearchDailyCount).values(
        day=day,
        shard=random.randrange(SHARDS),  # noqa: S311 (spreads row locks, not a secret)
        searches=1,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[SearchDailyCount.day, SearchDailyCount.shard],
        set_={"searches": SearchDailyCount.searches + 1},
    )
    try:
        async with sessions() as session, session.begin():
            await session.execute(statement)
    except SQLAlchemyError:
        log.warning("could not count a search", exc_info=True)


async def searches_by_month(session: AsyncSession, start: date, end: date) -> dict[date, int]:
    """First day of month → searches, for days in [start, end)."""
    month = func.date_trunc("month", SearchDailyCount.day).label("month")
    rows = await session.execute(
        select(month, func.sum(SearchDailyCount.searches))
        .where(SearchDailyCount.day >= start, SearchDailyCount.day < end)
        .group_by(month)
    )
    return {m.date(): int(total) for m, total in rows}
