"""Demo data: believable reviews on completed past lessons, idempotently; search sorts by them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace import db
from marketplace.accounts.models import User
from marketplace.app import demo_extras, search_signals
from marketplace.notifications.models import Notification
from marketplace.seed.load import seed_demo
from marketplace.settings import ReviewSettings
from reviews import queries, service
from reviews.models import Review, TutorReviewStats
from scheduling.models import Booking, BookingTransition
from search.postgres_backend import PostgresBackend
from search.query import build_query
from search.service import reindex_all
from tests.search.factories import MEDIA_URL


async def _counts(session: AsyncSession) -> tuple[int, int]:
    bookings = await session.scalar(select(func.count()).select_from(Booking))
    reviews = await session.scalar(select(func.count()).select_from(Review))
    return int(bookings or 0), int(reviews or 0)


async def test_demo_reviews_are_believable_and_idempotent(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await seed_demo(sessions, "EUR", tutor_count=12, extras=demo_extras())
    async with sessions() as session:
        first = await _counts(session)
    await seed_demo(sessions, "EUR", tutor_count=12, extras=demo_extras())
    async with sessions() as session:
        assert await _counts(session) == first  # nothing added the second time
        reviews = list(await session.scalars(select(Review)))
        assert len(reviews) >= 40
        ratings = Counter(r.rating for r in reviews)
        assert len(ratings) >= 3 and ratings[5] > ratings[2]
        with_text = [r for r in reviews if r.body]
        assert 0.5 < len(with_text) / len(reviews) < 0.95
        assert len({r.body for r in with_text}) > len(with_text) * 0.6  # rarely word for word
        assert any(r.reply for r in reviews) and any(r.reply is None for r in reviews)
        assert any(r.teaching for r in reviews) and any(r.teaching is None for r in reviews)
        per_tutor = Counter(r.tutor_id for r in reviews)
        assert max(per_tutor.values()) >= 20 and min(per_tutor.values()) <= 4
        now = datetime.now(UTC)
        for r in reviews:
            booking = await session.get(Booking, r.booking_id)
            assert booking is not None and booking.status in service.REVIEWABLE
            assert booking.ends_at < r.created_at < now
            assert booking.student_id == r.student_id and booking.tutor_id == r.tutor_id
        # Every past lesson went through the lifecycle, dated when each step would have
        # happened (other demo data, such as the lesson whose room is open now, is not past).
        steps = await session.execute(
            select(BookingTransition.booking_id, BookingTransition.event)
            .join(Booking, Booking.id == BookingTransition.booking_id)
            .where(Booking.ends_at < now)
            .order_by(BookingTransition.id)
        )
        history: dict[int, list[str]] = {}
        for booking_id, event in steps:
            history.setdefault(booking_id, []).append(event)
        assert {tuple(h) for h in history.values()} == {
            ("hold", "confirm", "complete"),
            ("hold", "confirm", "complete", "settle"),
        }
        # The aggregates match the reviews they come from.
        for stats in await session.scalars(select(TutorReviewStats)):
            mine = [r.rating for r in reviews if r.tutor_id == stats.tutor_id]
            assert (stats.review_count, stats.rating_sum) == (len(mine), sum(mine))
        # The first demo student has a completed lesson waiting for a review, right now.
        olivia = await session.scalar(select(User).where(User.email.like("student1@%")))
        assert olivia is not None
        open_lessons = [
            b
            for b in await session.scalars(select(Booking).where(Booking.student_id == olivia.id))
            if await queries.for_booking(session, b.id) is None
        ]
        assert open_lessons
        service.check_reviewable(open_lessons[0], olivia.id, ReviewSettings(), now)
        invited = await session.scalars(
            select(Notification.link).where(
                Notification.user_id == olivia.id, Notification.kind == "review.invite"
            )
        )
        assert list(invited) == [f"/lessons/{open_lessons[0].id}/review"]

    engine = db.create_engine(database_url, pool_size=2)
    try:
        backend = PostgresBackend(engine)
        await reindex_all(sessions, backend, MEDIA_URL, signals=search_signals)
        hits = (await backend.search(build_query(sort="rating", per_page=50))).hits
        scores = [h.document["ranking_score"] for h in hits]
        rated = [s for s in scores if s is not None]
        assert len(rated) >= 5 and rated == sorted(rated, reverse=True)
        assert scores[: len(rated)] == rated  # the unrated come last
        top = hits[0].document
        assert top["review_count"] >= 5
    finally:
        await engine.dispose()
