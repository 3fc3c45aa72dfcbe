"""Writing reviews: submit, edit, reply; and keeping each tutor's aggregates exact.

Every change that can move a tutor's numbers recomputes their ``tutor_review_stats`` row from the
published reviews in the same transaction, under a per-tutor lock, and emits
``TutorRatingChanged`` (released after the commit) so search re-indexes the tutor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import Conflict, FieldErrors, Forbidden, NotFound
from marketplace.events import TutorRatingChanged
from marketplace.notifications import service as notifications
from marketplace.settings import ReviewSettings
from marketplace.uow import emit
from marketplace.wording import plural
from reviews.models import REPLY_MAX, TEXT_MAX, Review, ReviewStatus, TutorReviewStats
from reviews.ranking import SUB_RATINGS
from scheduling.lifecycle import State
from scheduling.models import Booking
from scheduling.presenters import names

logger = logging.getLogger(__name__)
# A lesson can be reviewed once it happened: completed, or completed and paid out (settled).
REVIEWABLE = frozenset({State.COMPLETED.value, State.SETTLED.value})
# Namespace of the advisory locks that serialise recomputing one tutor's aggregates.
_STATS_LOCK = 0x2E7153


@dataclass(frozen=True)
class ReviewDraft:
    """What the student writes; checked by ``clean_draft``."""

    rating: object
    teaching: object = None
    communication: object = None
    punctuality: object = None
    text: object = ""


@dataclass(frozen=True)
class CleanDraft:
    rating: int
    teaching: int | None
    communication: int | None
    punctuality: int | None
    body: str


class AlreadyReviewed(Conflict):
    code = "already_reviewed"

    def __init__(self) -> None:
        super().__init__("This lesson has a review already; you can edit it instead.")


def _stars(value: object, field: str, errors: FieldErrors, *, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            errors.add(field, "Choose from 1 to 5 stars.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors.add(field, "Give a whole number of stars from 1 to 5.")
        return None
    try:
        number = int(value)
    except ValueError:
        errors.add(field, "Give a whole number of stars from 1 to 5.")
        return None
    if not 1 <= number <= 5:
        errors.add(field, "Choose from 1 to 5 stars.")
        return None
    return number


def clean_text(value: object) -> str:
    """Trimmed, with Windows and old Mac line ends made plain newlines."""
    if not isinstance(value, str):
        return ""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def clean_draft(draft: ReviewDraft) -> CleanDraft:
    """422 naming every bad field: stars outside 1–5, text over the limit."""
    errors = FieldErrors()
    rating = _stars(draft.rating, "rating", errors, required=True)
    subs = {
        name: _stars(getattr(draft, name), name, errors, required=False) for name in SUB_RATINGS
    }
    if draft.text is not None and not isinstance(draft.text, str):
        errors.add("text", "Write the review as text.")
    body = clean_text(draft.text)
    if len(body) > TEXT_MAX:
        errors.add("text", f"Keep the review to {TEXT_MAX} characters (it has {len(body)}).")
    errors.raise_if_any()
    assert rating is not None
    return CleanDraft(rating=rating, body=body, **subs)


def window_closes(booking: Booking, settings: ReviewSettings) -> datetime:
    return booking.ends_at + timedelta(days=settings.window_days)


def editable_until(review: Review, settings: ReviewSettings) -> datetime:
    return review.created_at + timedelta(hours=settings.edit_hours)


def check_reviewable(
    booking: Booking, student_id: int, settings: ReviewSettings, now: datetime
) -> None:
    """403 when it is someone else's lesson; 409 when not completed or the window has closed."""
    if booking.student_id != student_id:
        raise Forbidden("Only the student of this lesson can review it.", code="not_your_lesson")
    if booking.status not in REVIEWABLE:
        raise Conflict(
            f"This lesson is {booking.status.replace('_', ' ')}; "
            "only a completed lesson can be reviewed.",
            code="lesson_not_completed",
            fields={"status": booking.status},
        )
    closes = window_closes(booking, settings)
    if now >= closes:
        raise Conflict(
            f"Reviews for this lesson closed on {closes:%d %b %Y} "
            f"({plural(settings.window_days, 'day')} after it ended).",
            code="review_window_closed",
            fields={"closed_at": closes.isoformat()},
        )


async def submit(
    session: AsyncSession,
    *,
    booking_id: int,
    student_id: int,
    draft: ReviewDraft,
    settings: ReviewSettings,
    now: datetime | None = None,
) -> Review:
    """The student's review of their completed lesson; one per lesson (409 for a second)."""
    now = now or datetime.now(UTC)
    # FOR SHARE: the lesson cannot change state (a no-show, a dispute) under a review being
    # written, while concurrent submissions for it still run side by side up to the insert.
    booking = await session.get(Booking, booking_id, with_for_update={"read": True})
    if booking is None:
        raise NotFound("No such lesson.", code="booking_not_found")
    check_reviewable(booking, student_id, settings, now)
    clean = clean_draft(draft)
    if await session.scalar(select(Review.id).where(Review.booking_id == booking.id)):
        raise AlreadyReviewed()
    review = Review(
        booking_id=booking.id,
        tutor_id=booking.tutor_id,
        student_id=booking.student_id,
        rating=clean.rating,
        teaching=clean.teaching,
        communication=clean.communication,
        punctuality=clean.punctuality,
        body=clean.body,
        lesson_starts_at=booking.starts_at,
        lesson_minutes=booking.duration_minutes,
        status=ReviewStatus.PUBLISHED.value,
    )
    session.add(review)
    try:
        # A racing duplicate waits here for the first insert to commit, then fails: the unique
        # constraint on booking_id, not the check above, is what makes it one review per lesson.
        await session.flush()
    except IntegrityError as exc:
        if "uq_reviews_booking_id" in str(exc.orig):
            logger.info("second review of booking %s refused by the unique constraint", booking_id)
            raise AlreadyReviewed() from None
        raise
    who = await names(session, {booking.student_id})
    await notifications.notify(
        session,
        booking.tutor_id,
        kind="review.new",
        title=f"New review: {clean.rating} of 5 stars",
        body=f"{short_name(who.get(booking.student_id, ''))} reviewed your lesson. "
        "You can reply once, publicly.",
        link="/tutor/reviews",
    )
    # Last, so the tutor's aggregate lock is held only until the commit that follows.
    await recompute_stats(session, booking.tutor_id)
    return review


async def _own_review(session: AsyncSession, review_id: int, *, lock: bool = True) -> Review:
    review = await session.get(Review, review_id, with_for_update=lock or None)
    if review is None:
        raise NotFound("No such review.", code="review_not_found")
    return review


async def edit(
    session: AsyncSession,
    *,
    review_id: int,
    student_id: int,
    draft: ReviewDraft,
    settings: ReviewSettings,
    now: datetime | None = None,
) -> Review:
    """Change a review within the edit window; the page then says it was edited."""
    now = now or datetime.now(UTC)
    review = await _own_review(session, review_id)
    if review.student_id != student_id:
        raise Forbidden("Only its author can change a review.", code="not_your_review")
    if review.status != ReviewStatus.PUBLISHED.value:
        raise Conflict("This review is hidden by a moderator.", code="review_hidden")
    until = editable_until(review, settings)
    if now >= until:
        raise Conflict(
            f"Reviews can be changed for {plural(settings.edit_hours, 'hour')}; "
            "this one was locked on "
            f"{until:%d %b %Y, %H:%M} UTC.",
            code="edit_window_closed",
            fields={"editable_until": until.isoformat()},
        )
    clean = clean_draft(draft)
    numbers_before = (review.rating, review.teaching, review.communication, review.punctuality)
    review.rating = clean.rating
    review.teaching = clean.teaching
    review.communication = clean.communication
    review.punctuality = clean.punctuality
    review.body = clean.body
    review.edited_at = now
    review.updated_at = now
    await session.flush()
    if numbers_before != (clean.rating, clean.teaching, clean.communication, clean.punctuality):
        await recompute_stats(session, review.tutor_id)
    return review


async def reply(
    session: AsyncSession,
    *,
    review_id: int,
    tutor_id: int,
    text: object,
    now: datetime | None = None,
) -> Review:
    """The tutor's one public reply (409 for a second one)."""
    now = now or datetime.now(UTC)
    review = await _own_review(session, review_id)  # locked: two replies cannot both land
    if review.tutor_id != tutor_id:
        raise Forbidden("Only the reviewed tutor can reply.", code="not_your_review")
    if review.status != ReviewStatus.PUBLISHED.value:
        raise Conflict("This review is hidden by a moderator.", code="review_hidden")
    if review.reply is not None:
        raise Conflict("You have replied to this review already.", code="already_replied")
    body = clean_text(text)
    errors = FieldErrors()
    if not body:
        errors.add("text", "Write your reply.")
    elif len(body) > REPLY_MAX:
        errors.add("text", f"Keep the reply to {REPLY_MAX} characters (it has {len(body)}).")
    errors.raise_if_any()
    review.reply = body
    review.replied_at = now
    review.updated_at = now
    await session.flush()
    who = await names(session, {tutor_id})
    await notifications.notify(
        session,
        review.student_id,
        kind="review.reply",
        title=f"{who.get(tutor_id, 'Your tutor')} replied to your review",
        body=body[:280],
        link=f"/tutors/{tutor_id}#review-{review.id}",
    )
    return review


async def recompute_stats(session: AsyncSession, tutor_id: int) -> None:
    """Rebuild the tutor's aggregates from their published reviews; emits TutorRatingChanged.

    The advisory lock makes concurrent changes for one tutor take turns, and each statement
    after it reads a fresh snapshot (READ COMMITTED), so the last writer counts every review
    committed before it: the numbers never drift, whatever the interleaving.
    """
    await session.execute(select(func.pg_advisory_xact_lock(_STATS_LOCK, func.hashint8(tutor_id))))
    published = (Review.tutor_id == tutor_id) & (Review.status == ReviewStatus.PUBLISHED.value)
    columns = [
        func.count().label("review_count"),
        func.coalesce(func.sum(Review.rating), 0).label("rating_sum"),
        *(func.count().filter(Review.rating == n).label(f"stars_{n}") for n in range(1, 6)),
    ]
    for name in SUB_RATINGS:
        column = getattr(Review, name)
        columns += [
            func.coalesce(func.sum(column), 0).label(f"{name}_sum"),
            func.count(column).label(f"{name}_count"),
        ]
    row = (await session.execute(select(*columns).where(published))).one()
    values = {**row._mapping, "updated_at": func.now()}
    await session.execute(
        insert(TutorReviewStats)
        .values(tutor_id=tutor_id, **values)
        .on_conflict_do_update(index_elements=[TutorReviewStats.tutor_id], set_=values)
    )
    emit(session, TutorRatingChanged(tutor_id))


def short_name(full_name: str) -> str:
    """How a reviewer is shown in public: first name and the initial of the last ("Maya G.")."""
    parts = full_name.split()
    if not parts:
        return "A student"
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0].upper()}."
