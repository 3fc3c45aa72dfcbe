"""Reading reviews: a tutor's page of reviews and aggregates, the reply queue, the moderation
queue, and the aggregates search ranks by."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import ValidationFailed
from marketplace.wording import plural
from reviews.models import Review, ReviewModeration, ReviewReport, ReviewStatus, TutorReviewStats
from reviews.ranking import SUB_RATINGS, RatingSummary, average

MAX_PER_PAGE = 50


class ReviewSort(StrEnum):
    NEWEST = "newest"
    HIGHEST = "highest"
    LOWEST = "lowest"


def parse_sort(value: str | None) -> ReviewSort:
    try:
        return ReviewSort(value or ReviewSort.NEWEST.value)
    except ValueError:
        choices = ", ".join(s.value for s in ReviewSort)
        raise ValidationFailed({"sort": f"Sort by one of: {choices}."}) from None


def _summary(tutor_id: int, stats: TutorReviewStats | None) -> RatingSummary:
    if stats is None:
        return RatingSummary(tutor_id)
    return RatingSummary(
        tutor_id=tutor_id,
        count=stats.review_count,
        rating_sum=stats.rating_sum,
        distribution=(stats.stars_1, stats.stars_2, stats.stars_3, stats.stars_4, stats.stars_5),
        sub_ratings=tuple(
            (
                name,
                average(getattr(stats, f"{name}_sum"), getattr(stats, f"{name}_count")),
                getattr(stats, f"{name}_count"),
            )
            for name in SUB_RATINGS
        ),
    )


async def summary(session: AsyncSession, tutor_id: int) -> RatingSummary:
    stats = await session.get(TutorReviewStats, tutor_id, populate_existing=True)
    return _summary(tutor_id, stats)


async def summaries(session: AsyncSession, tutor_ids: Sequence[int]) -> dict[int, RatingSummary]:
    """Aggregates of many tutors in one query; tutors without reviews are left out."""
    if not tutor_ids:
        return {}
    rows = await session.scalars(
        select(TutorReviewStats).where(TutorReviewStats.tutor_id.in_(list(tutor_ids)))
    )
    return {row.tutor_id: _summary(row.tutor_id, row) for row in rows}


@dataclass(frozen=True)
class ReviewPage:
    reviews: list[Review]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _ordered(query: Select[Review], sort: ReviewSort) -> Select[Review]:
    newest = (Review.created_at.desc(), Review.id.desc())
    if sort is ReviewSort.HIGHEST:
        return query.order_by(Review.rating.desc(), *newest)
    if sort is ReviewSort.LOWEST:
        return query.order_by(Review.rating.asc(), *newest)
    return query.order_by(*newest)


async def tutor_reviews(
    session: AsyncSession,
    tutor_id: int,
    *,
    sort: ReviewSort = ReviewSort.NEWEST,
    page: int = 1,
    per_page: int = 10,
    strict: bool = True,
) -> ReviewPage:
    """One page of the tutor's published reviews. ``strict``: a page past the last is a 422
    naming ``page`` (the API); otherwise the last page is shown (the tutor's page)."""
    errors = {}
    if page < 1:
        errors["page"] = "Pages start at 1."
    if not 1 <= per_page <= MAX_PER_PAGE:
        errors["per_page"] = f"Ask for 1 to {MAX_PER_PAGE} reviews per page."
    if errors:
        raise ValidationFailed(errors)
    published = (Review.tutor_id == tutor_id) & (Review.status == ReviewStatus.PUBLISHED.value)
    total = int(
        await session.scalar(select(func.count()).select_from(Review).where(published)) or 0
    )
    pages = max(1, -(-total // per_page))
    if page > pages:
        if strict and total:
            raise ValidationFailed(
                {"page": f"There are only {plural(pages, 'page')} of reviews."},
                message="That page is past the last page of reviews.",
            )
        page = pages
    rows = await session.scalars(
        _ordered(select(Review).where(published), sort)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return ReviewPage(list(rows), total, page, per_page)


async def awaiting_reply(session: AsyncSession, tutor_id: int, limit: int = 100) -> list[Review]:
    """Published reviews the tutor has not answered yet, newest first."""
    rows = await session.scalars(
        select(Review)
        .where(
            Review.tutor_id == tutor_id,
            Review.status == ReviewStatus.PUBLISHED.value,
            Review.reply.is_(None),
        )
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(limit)
    )
    return list(rows)


async def reviews_of_tutor(session: AsyncSession, tutor_id: int, limit: int = 200) -> list[Review]:
    """Every review of the tutor, hidden ones included (their own dashboard), newest first."""
    rows = await session.scalars(
        select(Review)
        .where(Review.tutor_id == tutor_id)
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(limit)
    )
    return list(rows)


async def for_booking(session: AsyncSession, booking_id: int) -> Review | None:
    return await session.scalar(select(Review).where(Review.booking_id == booking_id))


class QueueFilter(StrEnum):
    REPORTED = "reported"  # with open reports, most reported first
    HIDDEN = "hidden"


def parse_filter(value: str | None) -> QueueFilter:
    try:
        return QueueFilter(value or QueueFilter.REPORTED.value)
    except ValueError:
        choices = ", ".join(f.value for f in QueueFilter)
        raise ValidationFailed({"filter": f"Filter by one of: {choices}."}) from None


async def moderation_queue(
    session: AsyncSession, which: QueueFilter, limit: int = 100
) -> list[Review]:
    if which is QueueFilter.HIDDEN:
        query = (
            select(Review)
            .where(Review.status == ReviewStatus.HIDDEN.value)
            .order_by(Review.updated_at.desc())
        )
    else:
        open_count = (
            select(
                ReviewReport.review_id,
                func.count().label("n"),
                func.min(ReviewReport.created_at).label("first"),
            )
            .where(ReviewReport.resolved_at.is_(None))
            .group_by(ReviewReport.review_id)
            .subquery()
        )
        query = (
            select(Review)
            .join(open_count, open_count.c.review_id == Review.id)
            .order_by(open_count.c.n.desc(), open_count.c.first)
        )
    return list(await session.scalars(query.limit(limit)))


async def reports_of(session: AsyncSession, review_ids: Sequence[int]) -> list[ReviewReport]:
    if not review_ids:
        return []
    rows = await session.scalars(
        select(ReviewReport)
        .where(ReviewReport.review_id.in_(list(review_ids)))
        .order_by(ReviewReport.created_at)
    )
    return list(rows)


async def moderation_history(
    session: AsyncSession, review_ids: Sequence[int]
) -> list[ReviewModeration]:
    if not review_ids:
        return []
    rows = await session.scalars(
        select(ReviewModeration)
        .where(ReviewModeration.review_id.in_(list(review_ids)))
        .order_by(ReviewModeration.created_at, ReviewModeration.id)
    )
    return list(rows)
