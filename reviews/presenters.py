"""Review models → response structs, shared by the JSON API, the pages and the fragments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.settings import ReviewSettings
from reviews import queries
from reviews.models import Review, ReviewModeration, ReviewReport, ReviewStatus
from reviews.ranking import RatingSummary
from reviews.schemas import (
    AdminReviewOut,
    ModerationOut,
    ReplyOut,
    ReportOut,
    ReviewOut,
    SubAverageOut,
    SubRatingsOut,
    SummaryOut,
)
from reviews.service import editable_until, short_name


async def author_names(session: AsyncSession, reviews: Sequence[Review]) -> dict[int, str]:
    ids = {r.student_id for r in reviews}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    return {uid: short_name(name) for uid, name in rows}


def review_out(
    review: Review,
    authors: dict[int, str],
    *,
    viewer_id: int | None = None,
    viewer_is_admin: bool = False,
    settings: ReviewSettings | None = None,
    now: datetime | None = None,
) -> ReviewOut:
    """What ``viewer_id`` may see: the lesson id for its two people and admins, and the edit
    deadline for the author while it is still open."""
    involved = viewer_is_admin or viewer_id in (review.student_id, review.tutor_id)
    until = None
    if settings is not None and viewer_id == review.student_id:
        deadline = editable_until(review, settings)
        if (now is None or now < deadline) and review.status == ReviewStatus.PUBLISHED.value:
            until = deadline
    return ReviewOut(
        id=review.id,
        tutor_id=review.tutor_id,
        author=authors.get(review.student_id, "A student"),
        rating=review.rating,
        sub_ratings=SubRatingsOut(review.teaching, review.communication, review.punctuality),
        text=review.body,
        verified_lesson=True,
        lesson_month=f"{review.lesson_starts_at:%Y-%m}",
        lesson_minutes=review.lesson_minutes,
        status=review.status,
        created_at=review.created_at,
        edited_at=review.edited_at,
        reply=ReplyOut(review.reply, review.replied_at)
        if review.reply is not None and review.replied_at is not None
        else None,
        booking_id=review.booking_id if involved else None,
        editable_until=until,
    )


async def review_outs(
    session: AsyncSession,
    reviews: Sequence[Review],
    *,
    viewer_id: int | None = None,
    viewer_is_admin: bool = False,
    settings: ReviewSettings | None = None,
    now: datetime | None = None,
) -> list[ReviewOut]:
    authors = await author_names(session, reviews)
    return [
        review_out(
            r,
            authors,
            viewer_id=viewer_id,
            viewer_is_admin=viewer_is_admin,
            settings=settings,
            now=now,
        )
        for r in reviews
    ]


def summary_out(summary: RatingSummary) -> SummaryOut:
    return SummaryOut(
        tutor_id=summary.tutor_id,
        count=summary.count,
        average=summary.average,
        ranking_score=summary.ranking_score,
        distribution={str(stars): summary.distribution[stars - 1] for stars in range(1, 6)},
        sub_ratings={
            name: SubAverageOut(average=avg, count=count)
            for name, avg, count in summary.sub_ratings
        },
    )


def report_out(r: ReviewReport) -> ReportOut:
    return ReportOut(
        id=r.id,
        review_id=r.review_id,
        reason=r.reason,
        details=r.details,
        created_at=r.created_at,
        resolved_at=r.resolved_at,
        resolution=r.resolution,
    )


def moderation_out(m: ReviewModeration) -> ModerationOut:
    return ModerationOut(
        id=m.id, action=m.action, reason=m.reason, admin_id=m.admin_id, created_at=m.created_at
    )


async def admin_outs(session: AsyncSession, reviews: Sequence[Review]) -> list[AdminReviewOut]:
    ids = [r.id for r in reviews]
    authors = await author_names(session, reviews)
    reports = await queries.reports_of(session, ids)
    history = await queries.moderation_history(session, ids)
    return [
        AdminReviewOut(
            review=review_out(r, authors, viewer_is_admin=True),
            student_id=r.student_id,
            open_reports=sum(1 for x in reports if x.review_id == r.id and x.resolved_at is None),
            reports=[report_out(x) for x in reports if x.review_id == r.id],
            history=[moderation_out(m) for m in history if m.review_id == r.id],
        )
        for r in reviews
    ]
