"""Free time in the index follows scheduling: bookings, availability edits and the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from litestar.testing import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace import db
from marketplace.events import EventBus
from marketplace.tasks import DramatiqQueue
from scheduling.events import AvailabilityChanged
from scheduling.lifecycle import BookingTransitioned
from search import jobs, service
from search.models import SearchFreshness
from search.postgres_backend import PostgresBackend
from search.signals import no_signals
from tests.conftest import run_jobs
from tests.helpers import run_async
from tests.scheduling.helpers import approved_tutor, book, student
from tests.search.factories import CAST, MEDIA_URL, add_tutors

SEARCH = "/api/v1/tutors/search"


def _hit(client: TestClient[Any], tutor_id: int, **params: Any) -> dict[str, Any] | None:
    body = client.get(SEARCH, params={"per_page": 50, **params}).json()
    return next((h for h in body["hits"] if h["id"] == tutor_id), None)


def _next_free(client: TestClient[Any], tutor_id: int) -> datetime:
    hit = _hit(client, tutor_id)
    assert hit is not None and hit["next_free_at"], hit
    return datetime.fromisoformat(hit["next_free_at"])


def test_a_booking_takes_the_next_free_slot_and_its_cancellation_gives_it_back(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    # Open around the clock, so the time right after the booked hour is always free (with the
    # default 09:00-21:00 the booked hour could be the day's last, whatever time the test runs).
    all_day = [(d, "00:00", "24:00") for d in ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]]
    tutor_id, _ = approved_tutor(client, windows=all_day, rules={"min_notice_minutes": 120})
    run_jobs(queue)
    first = _next_free(client, tutor_id)
    assert first >= datetime.now(UTC) + timedelta(minutes=119)
    assert _hit(client, tutor_id, free_within_days=1) is not None

    _, me = student(client)
    held = book(client, me, tutor_id, first)  # 60 minutes; the tutor offers 30 as well
    assert held.status_code == 201, held.text
    run_jobs(queue)
    assert _next_free(client, tutor_id) == first + timedelta(minutes=60)

    cancelled = client.post(f"/api/v1/bookings/{held.json()['id']}/cancel", headers=me, json={})
    assert cancelled.status_code == 200, cancelled.text
    run_jobs(queue)
    assert _next_free(client, tutor_id) == first


def test_an_availability_edit_reindexes_the_tutor(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    # Berlin mornings only: a Berlin student finds them under weekday mornings, not evenings.
    days = ["MO", "TU", "WE", "TH", "FR"]
    tutor_id, headers = approved_tutor(client, windows=[(d, "08:00", "11:00") for d in days])
    run_jobs(queue)
    berlin = {"tz": "Europe/Berlin"}
    assert _hit(client, tutor_id, availability="weekday_morning", **berlin) is not None
    assert _hit(client, tutor_id, availability="weekday_evening", **berlin) is None

    evenings = [{"weekday": d, "start": "18:00", "end": "21:00"} for d in days]
    put = client.put(
        "/api/v1/tutors/me/availability/weekly", json={"windows": evenings}, headers=headers
    )
    assert put.status_code == 200, put.text
    run_jobs(queue)
    assert _hit(client, tutor_id, availability="weekday_evening", **berlin) is not None
    assert _hit(client, tutor_id, availability="weekday_morning", **berlin) is None

    # A whole fortnight off: nothing free soon, so "free within 7 days" no longer finds them.
    now = datetime.now(UTC)
    off = {"starts_at": now.isoformat(), "ends_at": (now + timedelta(days=15)).isoformat()}
    added = client.post("/api/v1/tutors/me/availability/time-off", json=off, headers=headers)
    assert added.status_code == 201, added.text
    run_jobs(queue)
    assert _hit(client, tutor_id, free_within_days=7) is None
    assert _next_free(client, tutor_id) >= now + timedelta(days=15)
    facets = client.get(SEARCH, params=berlin).json()["facets"]["availability"]
    assert set(facets.values()) == {0}


@pytest.fixture
async def backend(database_url: str) -> AsyncIterator[PostgresBackend]:
    engine = db.create_engine(database_url, pool_size=5)
    try:
        yield PostgresBackend(engine)
    finally:
        await engine.dispose()


async def test_a_burst_of_changes_costs_one_rebuild(
    sessions: async_sessionmaker[AsyncSession], backend: PostgresBackend
) -> None:
    ids = await add_tutors(sessions, CAST[:1])
    tutor_id = ids[CAST[0].name]
    asked = datetime.now(UTC)
    first = await service.index_tutors(
        sessions, backend, MEDIA_URL, [tutor_id], requested_at=asked - timedelta(seconds=5)
    )
    assert first.upserted == {tutor_id}
    # The rest of the burst was asked for before that build started: nothing more to do.
    for _ in range(5):
        again = await service.index_tutors(
            sessions, backend, MEDIA_URL, [tutor_id], requested_at=asked - timedelta(seconds=3)
        )
        assert again.skipped == {tutor_id} and not again.upserted
    # A change after the build is rebuilt; a request without a moment always is.
    later = await service.index_tutors(
        sessions, backend, MEDIA_URL, [tutor_id], requested_at=datetime.now(UTC)
    )
    assert later.upserted == {tutor_id}
    assert (await service.index_tutors(sessions, backend, MEDIA_URL, [tutor_id])).upserted


def test_scheduling_events_queue_delayed_jobs_that_carry_their_moment() -> None:
    broker = StubBroker()
    broker.emit_after("process_boot")
    queue = DramatiqQueue(broker, jobs.tasks(no_signals))
    events = EventBus()
    jobs.subscribe(events, queue)

    def event(name: str, before: str, after: str) -> BookingTransitioned:
        return BookingTransitioned(1, 7, 2, name, before, after, "student", ())

    before = datetime.now(UTC).timestamp()
    run_async(
        events.publish(
            AvailabilityChanged(7),
            event("hold", "", "held"),
            event("confirm", "held", "confirmed"),  # still live: the slots did not change
            event("student_cancel", "confirmed", "cancelled_by_student"),
            event("reschedule", "confirmed", "confirmed"),
        )
    )
    delayed = broker.queues["search.DQ"].queue
    messages = [Message.decode(raw) for raw in list(delayed)]
    assert len(messages) == 4 and not broker.queues["search"].qsize()
    for message in messages:
        tutor_id, asked = message.args
        assert tutor_id == 7 and before <= asked <= datetime.now(UTC).timestamp()
        assert message.options["eta"] >= (before * 1000) + jobs.COALESCE_MS - 50


async def test_the_periodic_refresh_rebuilds_stale_documents_stalest_first_in_bounded_batches(
    sessions: async_sessionmaker[AsyncSession], backend: PostgresBackend
) -> None:
    ids = await add_tutors(sessions, CAST[:3])
    await service.reindex_all(sessions, backend, MEDIA_URL)
    now = datetime.now(UTC)
    async with sessions() as session:
        rows = {r.tutor_id: r for r in await session.scalars(select(SearchFreshness))}
    assert set(rows) == set(ids.values())
    # Without free time a document is still rebuilt daily (the booking window moves on).
    for row in rows.values():
        assert row.built_at <= now and row.refresh_at == row.built_at + service.MAX_AGE

    assert await service.refresh_stale(sessions, backend, MEDIA_URL) == 0
    stale = sorted(ids.values())
    async with sessions() as session, session.begin():
        for n, tutor_id in enumerate(stale):
            await session.execute(
                update(SearchFreshness)
                .where(SearchFreshness.tutor_id == tutor_id)
                .values(refresh_at=now - timedelta(minutes=10 - n))
            )
    assert await service.refresh_stale(sessions, backend, MEDIA_URL, limit=2) == 2
    async with sessions() as session:
        after = {r.tutor_id: r for r in await session.scalars(select(SearchFreshness))}
    assert after[stale[0]].built_at > now and after[stale[1]].built_at > now
    assert after[stale[2]].built_at < now  # the least stale waits for the next run
    assert await service.refresh_stale(sessions, backend, MEDIA_URL, limit=2) == 1
    assert await service.refresh_stale(sessions, backend, MEDIA_URL, limit=2) == 0
