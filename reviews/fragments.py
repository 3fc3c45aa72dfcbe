"""Sections reviews adds to other packages' pages, registered by the composition root:
the reviews on the public tutor page, and "Leave a review" on the lesson page."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.web.access import principal_of
from marketplace.web.fragments import Fragment
from reviews import queries, service
from reviews.models import ReviewStatus
from reviews.presenters import review_outs
from reviews.ranking import RatingSummary
from scheduling.models import Booking
from scheduling.presenters import names

PER_PAGE = 10
SORT_LABELS = {"newest": "Newest", "highest": "Highest rated", "lowest": "Lowest rated"}


def month_label(yyyy_mm: str) -> str:
    year, month = yyyy_mm.split("-")
    return f"{calendar.month_name[int(month)]} {year}"


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value or default))
    except ValueError:
        return default


async def tutor_page(
    request: Any, session: AsyncSession, subject: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The distribution and one page of reviews; ``reviews_sort`` and ``reviews_page`` in the
    page's address choose which (unknown values fall back to the newest, first page)."""
    tutor_id = int(subject["tutor_id"])
    params = request.query_params
    sort_value = params.get("reviews_sort") or "newest"
    sort = queries.ReviewSort(sort_value if sort_value in SORT_LABELS else "newest")
    found = await queries.tutor_reviews(
        session,
        tutor_id,
        sort=sort,
        page=_int(params.get("reviews_page"), 1),
        per_page=PER_PAGE,
        strict=False,
    )
    summary: RatingSummary = await queries.summary(session, tutor_id)
    viewer = principal_of(request)
    reviews = await review_outs(
        session,
        found.reviews,
        viewer_id=viewer.id if viewer else None,
        viewer_is_admin=bool(viewer and viewer.is_admin),
    )
    tutor_name = (await names(session, {tutor_id})).get(tutor_id, "")
    return {
        "tutor_id": tutor_id,
        "tutor_name": tutor_name,
        "summary": summary,
        "reviews": reviews,
        "sort": sort.value,
        "sorts": SORT_LABELS,
        "page": found.page,
        "pages": found.pages,
        "total": found.total,
        "month": month_label,
    }


async def tutor_header(
    request: Any, session: AsyncSession, subject: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The rating beside the tutor's name, linking to the reviews; nothing without reviews."""
    summary = await queries.summary(session, int(subject["tutor_id"]))
    return {"summary": summary} if summary.count else None


async def lesson_page(
    request: Any, session: AsyncSession, subject: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """For the student of a completed lesson: leave a review (or see and edit theirs); for the
    tutor: the review and the reply form. Nothing for lessons that did not happen."""
    booking = await session.get(Booking, int(subject["booking_id"]))
    viewer_id = int(subject["viewer_id"])
    if booking is None:
        return None
    settings = request.app.state.services.settings.reviews
    now = datetime.now(UTC)
    review = await queries.for_booking(session, booking.id)
    role = "student" if viewer_id == booking.student_id else "tutor"
    if viewer_id not in (booking.student_id, booking.tutor_id):
        role = "admin"
    reviewable = booking.status in service.REVIEWABLE
    if review is None and (role != "student" or not reviewable):
        return None
    who = await names(session, {booking.tutor_id, booking.student_id})
    closes = service.window_closes(booking, settings)
    out = None
    if review is not None:
        out = (
            await review_outs(
                session,
                [review],
                viewer_id=viewer_id,
                viewer_is_admin=role == "admin",
                settings=settings,
                now=now,
            )
        )[0]
    return {
        "role": role,
        "booking_id": booking.id,
        "tutor_id": booking.tutor_id,
        "tutor_name": who.get(booking.tutor_id, ""),
        "student_name": service.short_name(who.get(booking.student_id, "")),
        "review": out,
        "hidden": review is not None and review.status == ReviewStatus.HIDDEN.value,
        "window_open": now < closes,
        "closes": closes,
        "can_reply": role == "tutor"
        and review is not None
        and review.reply is None
        and review.status == ReviewStatus.PUBLISHED.value,
        "month": month_label,
    }


TUTOR_PAGE = Fragment("reviews/_tutor_reviews.html", tutor_page)
TUTOR_HEADER = Fragment("reviews/_tutor_rating.html", tutor_header)
LESSON_PAGE = Fragment("reviews/_lesson_review.html", lesson_page)
