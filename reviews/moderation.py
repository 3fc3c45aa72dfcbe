"""Moderation: anyone logged in reports a review with a reason; an admin hides it, restores it
or dismisses its reports, always with a reason that is recorded.

Hiding takes the review off the tutor's page and out of the aggregates (so out of search
ranking); restoring brings both back. Decisions are kept in ``review_moderations``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit import service as audit
from marketplace.errors import Conflict, FieldErrors, Forbidden, NotFound
from marketplace.notifications import service as notifications
from reviews.models import (
    MODERATION_REASON_MAX,
    REPORT_DETAILS_MAX,
    ModerationAction,
    ReportReason,
    Review,
    ReviewModeration,
    ReviewReport,
    ReviewStatus,
)
from reviews.service import clean_text, recompute_stats

REPORT_REASONS = {
    ReportReason.SPAM.value: "Spam or advertising",
    ReportReason.OFFENSIVE.value: "Offensive, hateful or harassing",
    ReportReason.NOT_ABOUT_LESSON.value: "Not about the lesson",
    ReportReason.PERSONAL_INFO.value: "Shares someone's personal information",
    ReportReason.CONFLICT_OF_INTEREST.value: "Written by someone with a conflict of interest",
    ReportReason.OTHER.value: "Something else",
}


class AlreadyReported(Conflict):
    code = "already_reported"

    def __init__(self) -> None:
        super().__init__("You have reported this review already; a moderator will look at it.")


async def report(
    session: AsyncSession, *, review_id: int, reporter_id: int, reason: object, details: object
) -> ReviewReport:
    review = await session.get(Review, review_id)
    if review is None or review.status != ReviewStatus.PUBLISHED.value:
        raise NotFound("No such review.", code="review_not_found")
    if review.student_id == reporter_id:
        raise Forbidden("You cannot report your own review; edit it instead.", code="own_review")
    errors = FieldErrors()
    if reason not in REPORT_REASONS:
        errors.add("reason", "Choose one of: " + ", ".join(REPORT_REASONS) + ".")
    text = clean_text(details)
    if len(text) > REPORT_DETAILS_MAX:
        errors.add("details", f"Keep it to {REPORT_DETAILS_MAX} characters.")
    elif reason == ReportReason.OTHER.value and not text:
        errors.add("details", "Tell us what is wrong with this review.")
    errors.raise_if_any()
    if await session.scalar(
        select(ReviewReport.id).where(
            ReviewReport.review_id == review_id, ReviewReport.reporter_id == reporter_id
        )
    ):
        raise AlreadyReported()
    item = ReviewReport(
        review_id=review_id, reporter_id=reporter_id, reason=str(reason), details=text
    )
    session.add(item)
    try:
        await session.flush()
    except IntegrityError as exc:
        if "uq_review_reports_review_reporter" in str(exc.orig):
            raise AlreadyReported() from None
        raise
    return item


async def moderate(
    session: AsyncSession,
    *,
    review_id: int,
    admin_id: int,
    action: object,
    reason: object,
    now: datetime | None = None,
) -> Review:
    """``hide``, ``restore`` or ``dismiss_reports``, with a reason; 409 when it changes nothing."""
    now = now or datetime.now(UTC)
    errors = FieldErrors()
    actions = {a.value for a in ModerationAction}
    if action not in actions:
        errors.add("action", "Choose one of: " + ", ".join(sorted(actions)) + ".")
    text = clean_text(reason)
    if not text:
        errors.add("reason", "Give the reason for the record.")
    elif len(text) > MODERATION_REASON_MAX:
        errors.add("reason", f"Keep it to {MODERATION_REASON_MAX} characters.")
    errors.raise_if_any()
    review = await session.get(Review, review_id, with_for_update=True)
    if review is None:
        raise NotFound("No such review.", code="review_not_found")
    open_reports = ReviewReport.review_id == review.id, ReviewReport.resolved_at.is_(None)
    if action == ModerationAction.HIDE.value:
        if review.status == ReviewStatus.HIDDEN.value:
            raise Conflict("This review is hidden already.", code="already_hidden")
        review.status = ReviewStatus.HIDDEN.value
        resolution = "hidden"
    elif action == ModerationAction.RESTORE.value:
        if review.status != ReviewStatus.HIDDEN.value:
            raise Conflict("This review is not hidden.", code="not_hidden")
        review.status = ReviewStatus.PUBLISHED.value
        resolution = ""
    else:
        pending = await session.scalar(select(ReviewReport.id).where(*open_reports).limit(1))
        if pending is None:
            raise Conflict("This review has no open reports.", code="no_open_reports")
        resolution = "dismissed"
    if resolution:
        await session.execute(
            update(ReviewReport).where(*open_reports).values(resolved_at=now, resolution=resolution)
        )
    review.updated_at = now
    session.add(
        ReviewModeration(review_id=review.id, admin_id=admin_id, action=str(action), reason=text)
    )
    await audit.record(
        session,
        action=f"review.{action}",
        actor_role="admin",
        actor_id=admin_id,
        subject_kind="review",
        subject_id=review.id,
        reason=text,
    )
    await session.flush()
    if action != ModerationAction.DISMISS_REPORTS.value:
        await recompute_stats(session, review.tutor_id)
        hidden = action == ModerationAction.HIDE.value
        await notifications.notify(
            session,
            review.student_id,
            kind="review.hidden" if hidden else "review.restored",
            title="Your review was hidden by a moderator"
            if hidden
            else "Your review is visible again",
            body=f"Reason: {text}",
            link=f"/lessons/{review.booking_id}",
        )
    return review
