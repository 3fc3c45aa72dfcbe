"""JSON API for reviews: write, edit, reply, report, list, moderate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import NotFound
from marketplace.profiles.models import TutorProfile
from marketplace.settings import ReviewSettings
from marketplace.web.access import Access, Principal, principal_of, require_principal
from marketplace.web.services import Services
from reviews import moderation, queries, service
from reviews.models import Review, ReviewStatus
from reviews.presenters import admin_outs, report_out, review_outs, summary_out
from reviews.schemas import (
    AdminReviewOut,
    ModerationIn,
    ReplyIn,
    ReportIn,
    ReportOut,
    ReviewIn,
    ReviewOut,
    ReviewPageOut,
)
from scheduling.models import Booking

SortParam = Annotated[str | None, QueryParameter(description="newest (default), highest, lowest.")]
PageParam = Annotated[int, QueryParameter(description="From 1.")]
PerPageParam = Annotated[int, QueryParameter(description="1 to 50.")]


def services_of(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def review_settings(request: Request[Any, Any, Any]) -> ReviewSettings:
    return services_of(request).settings.reviews


def draft_of(data: ReviewIn) -> service.ReviewDraft:
    return service.ReviewDraft(
        rating=data.rating,
        teaching=data.teaching,
        communication=data.communication,
        punctuality=data.punctuality,
        text=data.text,
    )


async def one_out(
    session: AsyncSession, review: Review, viewer: Principal | None, settings: ReviewSettings
) -> ReviewOut:
    outs = await review_outs(
        session,
        [review],
        viewer_id=viewer.id if viewer else None,
        viewer_is_admin=bool(viewer and viewer.is_admin),
        settings=settings,
        now=datetime.now(UTC),
    )
    return outs[0]


class LessonReviewController(Controller):
    path = "/api/v1/lessons"
    tags = ["reviews"]

    @post("/{booking_id:int}/review", access=Access.STUDENT, status_code=HTTP_201_CREATED)
    async def create(
        self, request: Request[Any, Any, Any], booking_id: FromPath[int], data: JSONBody[ReviewIn]
    ) -> ReviewOut:
        """Review your completed lesson: 403 ``not_your_lesson``; 409 ``lesson_not_completed``,
        ``review_window_closed``, ``already_reviewed``; 422 for stars outside 1–5 or text over
        2,000 characters."""
        principal = require_principal(request)
        settings = review_settings(request)
        async with services_of(request).transaction() as session:
            review = await service.submit(
                session,
                booking_id=booking_id,
                student_id=principal.id,
                draft=draft_of(data),
                settings=settings,
            )
            return await one_out(session, review, principal, settings)

    @get("/{booking_id:int}/review", access=Access.USER)
    async def show(self, request: Request[Any, Any, Any], booking_id: FromPath[int]) -> ReviewOut:
        """The lesson's review, for its student, its tutor and admins (404 otherwise)."""
        principal = require_principal(request)
        async with services_of(request).sessions() as session:
            booking = await session.get(Booking, booking_id)
            if booking is None or not (
                principal.is_admin or principal.id in (booking.student_id, booking.tutor_id)
            ):
                raise NotFound("No such lesson.", code="booking_not_found")
            review = await queries.for_booking(session, booking_id)
            if review is None:
                raise NotFound("This lesson has no review yet.", code="review_not_found")
            return await one_out(session, review, principal, review_settings(request))


class ReviewController(Controller):
    path = "/api/v1/reviews"
    tags = ["reviews"]

    @get("/{review_id:int}", access=Access.PUBLIC)
    async def show(self, request: Request[Any, Any, Any], review_id: FromPath[int]) -> ReviewOut:
        """A published review; a hidden one only for its author, its tutor and admins."""
        viewer = principal_of(request)
        async with services_of(request).sessions() as session:
            review = await session.get(Review, review_id)
            visible = review is not None and (
                review.status == ReviewStatus.PUBLISHED.value
                or (
                    viewer is not None
                    and (viewer.is_admin or viewer.id in (review.student_id, review.tutor_id))
                )
            )
            if review is None or not visible:
                raise NotFound("No such review.", code="review_not_found")
            return await one_out(session, review, viewer, review_settings(request))

    @put("/{review_id:int}", access=Access.STUDENT)
    async def edit(
        self, request: Request[Any, Any, Any], review_id: FromPath[int], data: JSONBody[ReviewIn]
    ) -> ReviewOut:
        """Replace your review's stars and text within 48 hours of writing it (409
        ``edit_window_closed`` after); 403 ``not_your_review``."""
        principal = require_principal(request)
        settings = review_settings(request)
        async with services_of(request).transaction() as session:
            review = await service.edit(
                session,
                review_id=review_id,
                student_id=principal.id,
                draft=draft_of(data),
                settings=settings,
            )
            return await one_out(session, review, principal, settings)

    @post("/{review_id:int}/reply", access=Access.TUTOR, status_code=HTTP_201_CREATED)
    async def reply(
        self, request: Request[Any, Any, Any], review_id: FromPath[int], data: JSONBody[ReplyIn]
    ) -> ReviewOut:
        """The reviewed tutor's public reply, once (409 ``already_replied``)."""
        principal = require_principal(request)
        async with services_of(request).transaction() as session:
            review = await service.reply(
                session, review_id=review_id, tutor_id=principal.id, text=data.text
            )
            return await one_out(session, review, principal, review_settings(request))

    @post("/{review_id:int}/reports", access=Access.USER, status_code=HTTP_201_CREATED)
    async def report(
        self, request: Request[Any, Any, Any], review_id: FromPath[int], data: JSONBody[ReportIn]
    ) -> ReportOut:
        """Report a review to the moderators, once per person (409 ``already_reported``)."""
        async with services_of(request).transaction() as session:
            item = await moderation.report(
                session,
                review_id=review_id,
                reporter_id=require_principal(request).id,
                reason=data.reason,
                details=data.details,
            )
            return report_out(item)


class TutorReviewsController(Controller):
    path = "/api/v1/tutors"
    tags = ["reviews"]

    @get("/{tutor_id:int}/reviews", access=Access.PUBLIC)
    async def tutor_reviews(
        self,
        request: Request[Any, Any, Any],
        tutor_id: FromPath[int],
        sort: SortParam = None,
        page: PageParam = 1,
        per_page: PerPageParam = 10,
    ) -> ReviewPageOut:
        """A public tutor's aggregates (average, count, distribution, sub-ratings, ranking
        score) and one page of their published reviews."""
        order = queries.parse_sort(sort)
        viewer = principal_of(request)
        async with services_of(request).sessions() as session:
            profile = await session.get(TutorProfile, tutor_id)
            if profile is None or not profile.is_public:
                raise NotFound("No such tutor.", code="tutor_not_found")
            found = await queries.tutor_reviews(
                session, tutor_id, sort=order, page=page, per_page=per_page
            )
            summary = await queries.summary(session, tutor_id)
            reviews = await review_outs(
                session,
                found.reviews,
                viewer_id=viewer.id if viewer else None,
                viewer_is_admin=bool(viewer and viewer.is_admin),
            )
        return ReviewPageOut(
            summary=summary_out(summary),
            reviews=reviews,
            sort=order.value,
            page=found.page,
            per_page=found.per_page,
            total=found.total,
            pages=found.pages,
        )

    @get("/me/reviews", access=Access.TUTOR)
    async def mine(
        self,
        request: Request[Any, Any, Any],
        awaiting_reply: Annotated[
            bool, QueryParameter(description="Only reviews you have not replied to.")
        ] = False,
    ) -> list[ReviewOut]:
        """Your reviews, hidden ones included; ``awaiting_reply=true`` for the reply queue."""
        principal = require_principal(request)
        async with services_of(request).sessions() as session:
            if awaiting_reply:
                rows = await queries.awaiting_reply(session, principal.id)
            else:
                rows = await queries.reviews_of_tutor(session, principal.id)
            return await review_outs(session, rows, viewer_id=principal.id)


class AdminReviewController(Controller):
    path = "/api/v1/admin/reviews"
    tags = ["admin"]

    @get("/", access=Access.ADMIN)
    async def queue(
        self,
        request: Request[Any, Any, Any],
        filter: Annotated[
            str | None, QueryParameter(description="reported (default) or hidden.")
        ] = None,
    ) -> list[AdminReviewOut]:
        """Reviews with open reports (most reported first), or the hidden ones."""
        which = queries.parse_filter(filter)
        async with services_of(request).sessions() as session:
            rows = await queries.moderation_queue(session, which)
            return await admin_outs(session, rows)

    @get("/{review_id:int}", access=Access.ADMIN)
    async def show(
        self, request: Request[Any, Any, Any], review_id: FromPath[int]
    ) -> AdminReviewOut:
        async with services_of(request).sessions() as session:
            review = await session.get(Review, review_id)
            if review is None:
                raise NotFound("No such review.", code="review_not_found")
            return (await admin_outs(session, [review]))[0]

    @post("/{review_id:int}/moderation", access=Access.ADMIN, status_code=200)
    async def moderate(
        self,
        request: Request[Any, Any, Any],
        review_id: FromPath[int],
        data: JSONBody[ModerationIn],
    ) -> AdminReviewOut:
        """``hide``, ``restore`` or ``dismiss_reports`` with a recorded reason; hiding takes the
        review off the tutor's page and out of their aggregates and search ranking."""
        async with services_of(request).transaction() as session:
            review = await moderation.moderate(
                session,
                review_id=review_id,
                admin_id=require_principal(request).id,
                action=data.action,
                reason=data.reason,
            )
            return (await admin_outs(session, [review]))[0]


ROUTES = [LessonReviewController, ReviewController, TutorReviewsController, AdminReviewController]
