"""Free time for the search index: one batched read per batch of tutors vs one tutor at a time.

    .venv/bin/python bench/free_time.py               # 300 demo tutors
    .venv/bin/python bench/free_time.py --tutors 600

Seeds the demo data (weekly hours, booking rules, past and upcoming lessons) into a throwaway
embedded PostgreSQL in a temporary folder, then computes every tutor's next free slot and free
half-hours twice: as indexing does (``search.availability.free_time``: the calendars of a whole
batch in a handful of queries) and tutor by tutor (``scheduling.availability.load_calendar``
and the same summary). It prints the time and the number of SQL statements of each, and their
ratio, and checks that both give the same answer.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, select

from marketplace import db, migrate
from marketplace.embedded import EmbeddedPostgres
from marketplace.profiles.models import LessonPrice, TutorProfile
from marketplace.seed.load import seed_demo
from scheduling.availability import load_calendar
from search import availability
from search.service import REINDEX_BATCH


async def run(url: str, tutors: int, rounds: int) -> None:
    from marketplace.app import demo_extras

    engine = db.create_engine(url, pool_size=2)
    sessions = db.create_session_factory(engine)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    try:
        t0 = time.perf_counter()
        await seed_demo(sessions, "EUR", tutor_count=tutors, extras=demo_extras())
        print(f"seeded {tutors} demo tutors in {time.perf_counter() - t0:.1f} s")
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(TutorProfile.user_id, LessonPrice.duration_minutes).join(
                        LessonPrice, LessonPrice.tutor_id == TutorProfile.user_id
                    )
                )
            ).all()
        durations: dict[int, list[int]] = {}
        for tutor_id, minutes in rows:
            durations.setdefault(tutor_id, []).append(minutes)
        ids = sorted(durations)
        now = datetime.now(UTC)
        event.listen(engine.sync_engine, "before_cursor_execute", count)

        batched_s: list[float] = []
        for _ in range(rounds):
            statements = 0
            t0 = time.perf_counter()
            batched: dict[int, availability.FreeTime] = {}
            async with sessions() as session:
                for start in range(0, len(ids), REINDEX_BATCH):
                    chunk = {i: durations[i] for i in ids[start : start + REINDEX_BATCH]}
                    batched.update(await availability.free_time(session, chunk, now))
            batched_s.append(time.perf_counter() - t0)
            batched_statements = statements

        single_s: list[float] = []
        for _ in range(rounds):
            statements = 0
            t0 = time.perf_counter()
            single: dict[int, availability.FreeTime] = {}
            async with sessions() as session:
                end = now + timedelta(days=availability.HORIZON_DAYS)
                for tutor_id in ids:
                    cal = await load_calendar(session, tutor_id, now, end)
                    single[tutor_id] = availability.summarise(cal, min(durations[tutor_id]), now)
            single_s.append(time.perf_counter() - t0)
            single_statements = statements

        assert batched == single, "the batched read must give the same free time"
        free = sum(1 for f in batched.values() if f.next_free_at)
        b, s = min(batched_s), min(single_s)
        print(f"{len(ids)} tutors, {free} with a free slot in {availability.HORIZON_DAYS} days")
        print(
            f"  batched ({REINDEX_BATCH} a batch): {b * 1000:7.0f} ms, "
            f"{batched_statements} statements, {b / len(ids) * 1000:.2f} ms a tutor"
        )
        print(
            f"  one tutor at a time:    {s * 1000:7.0f} ms, "
            f"{single_statements} statements, {s / len(ids) * 1000:.2f} ms a tutor"
        )
        print(f"  one at a time / batched: {s / b:.1f}x the time (best of {rounds} rounds)")
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tutors", type=int, default=300, help="demo tutors to seed")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of each way")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="duet-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pgdata", fast_unsafe=True)
        server.start()
        try:
            server.ensure_database("bench")
            url = server.url("bench")
            migrate.upgrade(url)
            asyncio.run(run(url, args.tutors, args.rounds))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
