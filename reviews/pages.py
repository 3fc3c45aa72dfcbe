"""Pages: write or edit a review, reply, report, the tutor's reviews dashboard, the admin queue.

Each form posts to the same service functions as the JSON API; a refusal re-renders the form
with the reason and the status code, a success redirects with a notice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy import select

from marketplace.errors import DomainError, NotFound
from marketplace.web.access import Access, require_principal
from marketplace.web.forms import form_data, form_failure, redirect, safe_next
from marketplace.web.templating import NOTICES, page
from reviews import moderation, queries, service
from reviews.api import review_settings, services_of
from reviews.fragments import month_label
from reviews.models import REPLY_MAX, REPORT_DETAILS_MAX, TEXT_MAX, Review, ReviewStatus
from reviews.presenters import admin_outs, review_outs
from reviews.ranking import PRIOR_MEAN, PRIOR_WEIGHT
from scheduling.models import Booking
from scheduling.presenters import names

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
STAR_WORDS = {5: "Excellent", 4: "Very good", 3: "Good", 2: "Fair", 1: "Poor"}
SUB_LABELS = {
    "teaching": "Teaching",
    "communication": "Communication",
    "punctuality": "Punctuality",
}
NOTICES.update(
    {
        "review_published": "Thank you! Your review is published on the tutor's page.",
        "review_updated": "Your review is updated.",
        "reply_published": "Your reply is published under the review.",
        "review_reported": "Thank you. A moderator will look at this review.",
        "review_moderated": "Decision recorded.",
    }
)


def _form_view(request: Request[Any, Any, Any], **context: Any) -> dict[str, Any]:
    return {
        "star_words": STAR_WORDS,
        "sub_labels": SUB_LABELS,
        "text_max": TEXT_MAX,
        "edit_hours": review_settings(request).edit_hours,
        "month": month_label,
        **context,
    }


async def _review_form(
    request: Request[Any, Any, Any],
    booking_id: int,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    principal = require_principal(request)
    settings = review_settings(request)
    now = datetime.now(UTC)
    async with services_of(request).sessions() as session:
        booking = await session.get(Booking, booking_id)
        if booking is None:
            raise NotFound("No such lesson.", code="booking_not_found")
        existing = await queries.for_booking(session, booking_id)
        if existing is None:
            service.check_reviewable(booking, principal.id, settings, now)
        elif existing.student_id != principal.id:
            raise NotFound("No such lesson.", code="booking_not_found")
        who = await names(session, {booking.tutor_id})
        review = None
        if existing is not None:
            review = (
                await review_outs(
                    session, [existing], viewer_id=principal.id, settings=settings, now=now
                )
            )[0]
    if values is None and review is not None:
        values = {
            "rating": str(review.rating),
            "teaching": str(review.sub_ratings.teaching or ""),
            "communication": str(review.sub_ratings.communication or ""),
            "punctuality": str(review.sub_ratings.punctuality or ""),
            "text": review.text,
        }
    return page(
        request,
        "reviews/review_form.html",
        status_code=status_code,
        **_form_view(
            request,
            booking=booking,
            tutor_name=who.get(booking.tutor_id, ""),
            review=review,
            closes=service.window_closes(booking, settings),
            values=values or {},
            errors=errors or {},
            problem=problem,
        ),
    )


@get("/lessons/{booking_id:int}/review", access=Access.STUDENT, include_in_schema=False)
async def review_form(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Template:
    """Write a review of a completed lesson, or change it within the edit window."""
    return await _review_form(request, booking_id)


@post("/lessons/{booking_id:int}/review", access=Access.STUDENT, include_in_schema=False)
async def save_review(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Any:
    form = await form_data(request)
    values = {k: form.get(k, "") for k in ("rating", "text", *SUB_LABELS)}
    draft = service.ReviewDraft(
        rating=values["rating"] or None,
        teaching=values["teaching"] or None,
        communication=values["communication"] or None,
        punctuality=values["punctuality"] or None,
        text=values["text"],
    )
    principal = require_principal(request)
    settings = review_settings(request)
    try:
        async with services_of(request).transaction() as session:
            existing = await queries.for_booking(session, booking_id)
            if existing is not None and existing.student_id == principal.id:
                await service.edit(
                    session,
                    review_id=existing.id,
                    student_id=principal.id,
                    draft=draft,
                    settings=settings,
                )
                notice = "review_updated"
            else:
                await service.submit(
                    session,
                    booking_id=booking_id,
                    student_id=principal.id,
                    draft=draft,
                    settings=settings,
                )
                notice = "review_published"
    except DomainError as exc:
        return await _review_form(request, booking_id, values=values, **form_failure(exc))
    return redirect(f"/lessons/{booking_id}", notice)


@post("/reviews/{review_id:int}/reply", access=Access.TUTOR, include_in_schema=False)
async def save_reply(request: Request[Any, Any, Any], review_id: FromPath[int]) -> Any:
    form = await form_data(request)
    back = safe_next(form.get("next"), "/tutor/reviews")
    try:
        async with services_of(request).transaction() as session:
            await service.reply(
                session,
                review_id=review_id,
                tutor_id=require_principal(request).id,
                text=form.get("text", ""),
            )
    except DomainError as exc:
        return await _dashboard(request, **form_failure(exc, "text"))
    return redirect(back, "reply_published")


async def _visible_review(request: Request[Any, Any, Any], review_id: int) -> Review:
    async with services_of(request).sessions() as session:
        review = await session.get(Review, review_id)
    if review is None or review.status != ReviewStatus.PUBLISHED.value:
        raise NotFound("No such review.", code="review_not_found")
    return review


async def _report_form(
    request: Request[Any, Any, Any],
    review_id: int,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    review = await _visible_review(request, review_id)
    async with services_of(request).sessions() as session:
        out = (await review_outs(session, [review]))[0]
        tutor_name = (await names(session, {review.tutor_id})).get(review.tutor_id, "")
    return page(
        request,
        "reviews/report.html",
        status_code=status_code,
        review=out,
        tutor_name=tutor_name,
        reasons=moderation.REPORT_REASONS,
        details_max=REPORT_DETAILS_MAX,
        errors=errors or {},
        problem=problem,
        values=values or {},
        month=month_label,
    )


@get("/reviews/{review_id:int}/report", access=Access.USER, include_in_schema=False)
async def report_form(request: Request[Any, Any, Any], review_id: FromPath[int]) -> Template:
    return await _report_form(request, review_id)


@post("/reviews/{review_id:int}/report", access=Access.USER, include_in_schema=False)
async def save_report(request: Request[Any, Any, Any], review_id: FromPath[int]) -> Any:
    form = await form_data(request)
    values = {"reason": form.get("reason", ""), "details": form.get("details", "")}
    try:
        async with services_of(request).transaction() as session:
            await moderation.report(
                session,
                review_id=review_id,
                reporter_id=require_principal(request).id,
                reason=values["reason"],
                details=values["details"],
            )
            tutor_id = await session.scalar(select(Review.tutor_id).where(Review.id == review_id))
    except DomainError as exc:
        return await _report_form(request, review_id, values=values, **form_failure(exc, "reason"))
    return redirect(f"/tutors/{tutor_id}?notice=review_reported#review-{review_id}")


async def _dashboard(
    request: Request[Any, Any, Any],
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    principal = require_principal(request)
    async with services_of(request).sessions() as session:
        waiting = await review_outs(
            session, await queries.awaiting_reply(session, principal.id), viewer_id=principal.id
        )
        every = await review_outs(
            session, await queries.reviews_of_tutor(session, principal.id), viewer_id=principal.id
        )
        summary = await queries.summary(session, principal.id)
        tutor_name = (await names(session, {principal.id})).get(principal.id, "")
    return page(
        request,
        "reviews/tutor_dashboard.html",
        tutor_name=tutor_name,
        status_code=status_code,
        waiting=waiting,
        answered=[r for r in every if r.reply is not None or r.status != "published"],
        summary=summary,
        prior_mean=PRIOR_MEAN,
        prior_weight=PRIOR_WEIGHT,
        reply_max=REPLY_MAX,
        errors=errors or {},
        problem=problem,
        month=month_label,
        sub_labels=SUB_LABELS,
    )


@get("/tutor/reviews", access=Access.TUTOR, include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any]) -> Template:
    """The tutor's reviews: aggregates, the ones waiting for a reply, and the rest."""
    return await _dashboard(request)


async def _queue(
    request: Request[Any, Any, Any],
    which: str | None,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    chosen = queries.parse_filter(which)
    async with services_of(request).sessions() as session:
        rows = await queries.moderation_queue(session, chosen)
        items = await admin_outs(session, rows)
        tutors = await names(session, {r.tutor_id for r in rows})
    return page(
        request,
        "reviews/admin_queue.html",
        status_code=status_code,
        items=items,
        tutors=tutors,
        which=chosen.value,
        reasons=moderation.REPORT_REASONS,
        errors=errors or {},
        problem=problem,
        month=month_label,
    )


@get("/admin/reviews", access=Access.ADMIN, include_in_schema=False)
async def admin_queue(
    request: Request[Any, Any, Any],
    which: Annotated[str | None, QueryParameter(name="filter", max_length=16)] = None,
) -> Template:
    return await _queue(request, which)


@post("/admin/reviews/{review_id:int}/moderate", access=Access.ADMIN, include_in_schema=False)
async def admin_moderate(request: Request[Any, Any, Any], review_id: FromPath[int]) -> Any:
    form = await form_data(request)
    which = form.get("filter") or None
    try:
        async with services_of(request).transaction() as session:
            await moderation.moderate(
                session,
                review_id=review_id,
                admin_id=require_principal(request).id,
                action=form.get("action", ""),
                reason=form.get("reason", ""),
            )
    except DomainError as exc:
        return await _queue(request, which, **form_failure(exc, "reason"))
    target = f"/admin/reviews?filter={which}" if which else "/admin/reviews"
    return redirect(target, "review_moderated")


ROUTES: list[Any] = [
    review_form,
    save_review,
    save_reply,
    report_form,
    save_report,
    dashboard,
    admin_queue,
    admin_moderate,
]
