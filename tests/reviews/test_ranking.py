"""The Bayesian ranking score, and search ranking by it: one five-star review must not outrank
two hundred reviews averaging 4.9."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.accounts.models import Role, User
from marketplace.app import search_signals
from reviews import queries
from reviews.models import Review
from reviews.ranking import PRIOR_MEAN, PRIOR_WEIGHT, RatingSummary, ranking_score
from reviews.service import recompute_stats
from scheduling.models import Booking
from search.postgres_backend import PostgresBackend
from search.query import build_query
from search.service import reindex_all
from tests.search.factories import CAST, MEDIA_URL, add_tutors


def test_the_prior_is_ten_four_star_reviews() -> None:
    assert (PRIOR_MEAN, PRIOR_WEIGHT) == (4.0, 10)
    assert ranking_score(0, 0) is None
    assert ranking_score(5, 1) == pytest.approx(45 / 11, abs=1e-4)  # 4.09
    assert ranking_score(980, 200) == pytest.approx(1020 / 210, abs=1e-4)  # 4.86
    assert ranking_score(5, 1) < ranking_score(980, 200)  # type: ignore[operator]
    # The more reviews, the closer the score to the plain average.
    assert abs(ranking_score(4900, 1000) - 4.9) < abs(ranking_score(49, 10) - 4.9)  # type: ignore[operator]
    # A handful of perfect reviews still trails a long, slightly imperfect record.
    assert ranking_score(5 * 5, 5) < ranking_score(4 * 30 + 5 * 70, 100)  # type: ignore[operator]


def test_summary_average_and_shares() -> None:
    summary = RatingSummary(7, count=4, rating_sum=17, distribution=(0, 0, 1, 1, 2))
    assert summary.average == 4.25 and summary.share(5) == 50 and summary.share(1) == 0
    assert RatingSummary(7).average is None and RatingSummary(7).share(5) == 0


async def _reviews(
    session: AsyncSession, tutor_id: int, student_id: int, ratings: list[int]
) -> None:
    """Completed lessons with their reviews, written as rows (the lifecycle is tested apart)."""
    start = datetime.now(UTC) - timedelta(days=400)
    for i, stars in enumerate(ratings):
        begins = start + timedelta(hours=2 * i)
        booking = Booking(
            tutor_id=tutor_id,
            student_id=student_id,
            status="completed",
            starts_at=begins,
            ends_at=begins + timedelta(hours=1),
            period=Range(begins, begins + timedelta(hours=1), bounds="[)"),
            blocked=Range(begins, begins + timedelta(hours=1), bounds="[)"),
            duration_minutes=60,
            price_minor=4000,
            currency="EUR",
            tutor_time_zone="UTC",
            sequence=2,
            cancel_reason="",
        )
        session.add(booking)
        await session.flush()
        session.add(
            Review(
                booking_id=booking.id,
                tutor_id=tutor_id,
                student_id=student_id,
                rating=stars,
                lesson_starts_at=begins,
                lesson_minutes=60,
            )
        )
    await session.flush()
    await recompute_stats(session, tutor_id)


async def test_search_sorts_by_the_ranking_score(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    ids = await add_tutors(sessions, CAST[:4])
    one_perfect, long_record, middling, unrated = (ids[t.name] for t in CAST[:4])
    async with sessions() as session, session.begin():
        learner = User(
            email="learner@example.com",
            password_hash="x",
            full_name="Lea Learner",
            roles=[Role.STUDENT.value],
        )
        session.add(learner)
        await session.flush()
        await _reviews(session, one_perfect, learner.id, [5])
        await _reviews(session, long_record, learner.id, [5] * 180 + [4] * 20)
        await _reviews(session, middling, learner.id, [4, 4, 3])
    async with sessions() as session:
        record = await queries.summary(session, long_record)
        assert (record.count, record.average) == (200, 4.9)
        assert record.distribution == (0, 0, 0, 20, 180)

    from marketplace import db

    engine = db.create_engine(database_url, pool_size=2)
    try:
        backend = PostgresBackend(engine)
        await reindex_all(sessions, backend, MEDIA_URL, signals=search_signals)

        async def order(**params: object) -> list[int]:
            result = await backend.search(build_query(**params))  # type: ignore[arg-type]
            return [hit.document["id"] for hit in result.hits]

        assert (await order(sort="rating"))[:4] == [long_record, one_perfect, middling, unrated]
        assert (await order())[:3] == [long_record, one_perfect, middling]  # relevance ties
        assert await order(rating_min=4.95) == [one_perfect]  # the filter is the plain mean
        hit = (await backend.search(build_query(sort="rating"))).hits[0].document
        assert hit["review_count"] == 200 and hit["rating"] == 4.9
        assert hit["ranking_score"] == pytest.approx(1020 / 210, abs=1e-4)
    finally:
        await engine.dispose()
