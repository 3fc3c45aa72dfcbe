"""Course pages for students: the catalogue, a course, the item player and my courses.

The tutor's editor is in ``tutor_pages``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy import select

from lessons import progress
from lessons._web import language_choices, me, services_of, signer_of
from lessons.certificates.models import Certificate
from lessons.courses import catalogue as catalogue_service
from lessons.courses import enrolment as enrolments
from lessons.courses import media_grant, orders, refund_policy, service
from lessons.courses.presenters import course_out, summary_out
from lessons.courses.tutor_pages import ROUTES as TUTOR_ROUTES
from lessons.quizzes import service as quizzes
from marketplace.errors import DomainError, NotFound
from marketplace.web.access import Access, principal_of
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.templating import NOTICES, page
from payouts import accounts as payout_accounts
from payouts.web import payments_of

PER_PAGE = 24
NOTICES.update(
    {
        "course_created": "Your course is created. Add modules and items, then publish it.",
        "course_saved": "The course is saved.",
        "module_added": "Module added.",
        "item_added": "Item added.",
        "item_saved": "Item saved.",
        "item_deleted": "Item deleted.",
        "moved": "Moved.",
        "published": "Your course is published: students can find it now.",
        "unpublished": "Your course is hidden from the catalogue. Enrolled students keep access.",
        "uploaded": "Uploaded. We are converting it for every browser; progress shows below.",
        "retrying": "Converting again.",
        "enrolled": "You are enrolled. Enjoy the course!",
        "module_deleted": "Module deleted.",
        "course_refunded": "Your refund is on its way; your access to the course has ended.",
    }
)


@get("/courses", access=Access.PUBLIC, include_in_schema=False)
async def catalogue(
    request: Request[Any, Any, Any],
    instrument: Annotated[str | None, QueryParameter(max_length=40)] = None,
    level: Annotated[str | None, QueryParameter(max_length=20)] = None,
    language: Annotated[str | None, QueryParameter(max_length=8)] = None,
    q: Annotated[str | None, QueryParameter(max_length=100)] = None,
    page_number: Annotated[int, QueryParameter(name="page", ge=1, le=1000)] = 1,
) -> Template:
    async with services_of(request).sessions() as session:
        rows, total = await catalogue_service.public_courses(
            session,
            instrument=instrument or None,
            level=level or None,
            language=language or None,
            q=(q or "").strip() or None,
            page=page_number,
            per_page=PER_PAGE,
        )
    return page(
        request,
        "lessons/catalogue.html",
        courses=[summary_out(r) for r in rows],
        total=total,
        filters={
            "instrument": instrument or "",
            "level": level or "",
            "language": language or "",
            "q": q or "",
        },
        languages=language_choices(),
        page_number=page_number,
        pages=max(1, -(-total // PER_PAGE)),
        query=urlencode(
            {
                k: v
                for k, v in (
                    ("instrument", instrument),
                    ("level", level),
                    ("language", language),
                    ("q", q),
                )
                if v
            }
        ),
    )


async def _course_context(request: Request[Any, Any, Any], course_id: int) -> dict[str, Any]:
    services = services_of(request)
    viewer = principal_of(request)
    async with services.sessions() as session:
        course = await service.viewable_course(
            session, course_id, viewer.id if viewer else None, bool(viewer and viewer.is_admin)
        )
        plan = await service.outline(session, course)
        enrolment = await enrolments.enrolment_of(session, course.id, viewer.id) if viewer else None
        states = await progress.states(session, enrolment) if enrolment else None
        certificate = (
            await session.scalar(
                select(Certificate).where(Certificate.enrolment_id == enrolment.id)
            )
            if enrolment
            else None
        )
        name = await service.tutor_name(session, course.tutor_id)
        settings = services.settings.courses
        offer = (
            await refund_policy.offer(
                session, enrolment, settings.refund_max_progress, datetime.now(UTC)
            )
            if enrolment
            else None
        )
        ended = (
            await enrolments.enrolment_of(session, course.id, viewer.id, include_ended=True)
            if viewer and enrolment is None
            else None
        )
        sellable = course.is_free or await payout_accounts.can_receive_payouts(
            session, course.tutor_id
        )
    owner = viewer is not None and viewer.id == course.tutor_id
    done = progress.done_items(states or {})
    nxt = progress.continue_item(plan, enrolment, done) if enrolment else None
    return {
        "course": course_out(
            plan,
            name,
            services.media_links,
            progress=states,
            with_content=enrolment is not None or owner,
            for_tutor=owner,
            grant=media_grant.grant_for(enrolment) if enrolment and not owner else None,
        ),
        "plan": plan,
        "enrolment": enrolment,
        "owner": owner,
        "preview": owner and enrolment is None,
        "continue_item": nxt,
        "certificate": certificate,
        "refund": offer if offer and offer.order_id is not None else None,
        "ended": ended,
        "sellable": sellable,
        "refund_days": settings.refund_days,
        "refund_max_progress": settings.refund_max_progress,
    }


@get("/courses/{course_id:int}", access=Access.PUBLIC, include_in_schema=False)
async def course_page(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Template:
    context = await _course_context(request, course_id)
    viewer = principal_of(request)
    return page(
        request,
        "lessons/course.html",
        can_enrol=viewer is not None and "student" in viewer.roles and not context["owner"],
        **context,
    )


@post("/courses/{course_id:int}/enrol", access=Access.STUDENT, include_in_schema=False)
async def enrol_form(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Any:
    try:
        async with services_of(request).transaction() as session:
            await enrolments.enrol(session, course_id, me(request).id)
    except DomainError as exc:
        return await _course_error(request, course_id, exc)
    return redirect(f"/courses/{course_id}/continue", "enrolled")


async def _course_error(
    request: Request[Any, Any, Any], course_id: int, exc: DomainError
) -> Template:
    """The course page again, its problem at the top (enrol, buy and refund are buttons)."""
    failure = form_failure(exc)
    context = await _course_context(request, course_id)
    return page(request, "lessons/course.html", can_enrol=True, **failure, **context)


@post("/courses/{course_id:int}/buy", access=Access.STUDENT, include_in_schema=False)
async def buy_form(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Any:
    """ "Buy": on to the checkout (the demo payment step, or Stripe's Payment Element)."""
    try:
        async with payments_of(request) as pay:
            payment = await orders.buy(pay, course_id, me(request).id)
    except DomainError as exc:
        return await _course_error(request, course_id, exc)
    return redirect(f"/checkout/{payment.id}")


@post("/courses/{course_id:int}/refund", access=Access.STUDENT, include_in_schema=False)
async def refund_form(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Any:
    services = services_of(request)
    try:
        async with services.transaction() as session:
            await refund_policy.request_refund(
                session,
                course_id,
                me(request).id,
                services.settings.courses.refund_max_progress,
                datetime.now(UTC),
            )
    except DomainError as exc:
        return await _course_error(request, course_id, exc)
    return redirect(f"/courses/{course_id}", "course_refunded")


@get("/courses/{course_id:int}/continue", access=Access.USER, include_in_schema=False)
async def continue_course(request: Request[Any, Any, Any], course_id: FromPath[int]) -> Any:
    """Continue where you left off."""
    context = await _course_context(request, course_id)
    item = context["continue_item"] or (context["plan"].items[0] if context["plan"].items else None)
    notice = request.query_params.get("notice")
    enrolment = context["enrolment"]
    if item is None or (enrolment is not None and enrolment.completed_at is not None):
        return redirect(f"/courses/{course_id}", notice)
    return redirect(f"/courses/{course_id}/items/{item.id}", notice)


@get("/courses/{course_id:int}/items/{item_id:int}", access=Access.USER, include_in_schema=False)
async def item_page(
    request: Request[Any, Any, Any], course_id: FromPath[int], item_id: FromPath[int]
) -> Template:
    """One item, for enrolled students (and the tutor's preview)."""
    context = await _course_context(request, course_id)
    if context["enrolment"] is None and not context["owner"]:
        raise NotFound("Enrol in the course to open its items.", code="not_enrolled")
    plan = context["plan"]
    item = next((i for i in plan.items if i.id == item_id), None)
    if item is None:
        raise NotFound("No such item in this course.", code="item_not_found")
    view = next(i for m in context["course"].modules for i in m.items if i.id == item_id)
    previous, following = plan.neighbours(item_id)
    quiz_info = None
    quiz = plan.quizzes.get(item_id)
    if quiz is not None:
        async with services_of(request).transaction() as session:
            attempts = await quizzes.attempts_of(session, quiz, me(request).id)
            for a in attempts:
                await quizzes.close_if_expired(session, quiz, a, datetime.now(UTC))
            quiz_info = {
                "quiz": quiz,
                "attempts": attempts,
                "left": quizzes.attempts_left(quiz, attempts),
                "passed": any(a.passed for a in attempts if not a.preview),
                "open": next((a for a in attempts if a.status == "in_progress"), None),
                "questions": len(await quizzes.questions_of(session, quiz)),
            }
    if context["enrolment"] is not None:
        # Opening an item is where "continue" returns to.
        async with services_of(request).transaction() as session:
            enrolment = await session.get(type(context["enrolment"]), context["enrolment"].id)
            assert enrolment is not None
            enrolment.last_item_id = item_id
            enrolment.last_activity_at = datetime.now(UTC)
    return page(
        request,
        "lessons/item.html",
        item=view,
        previous=previous,
        following=following,
        quiz_info=quiz_info,
        **context,
    )


@post(
    "/courses/{course_id:int}/items/{item_id:int}/complete",
    access=Access.USER,
    include_in_schema=False,
)
async def complete_form(
    request: Request[Any, Any, Any], course_id: FromPath[int], item_id: FromPath[int]
) -> Any:
    form = await form_data(request)
    services = services_of(request)
    now = datetime.now(UTC)
    async with services.transaction() as session:
        course = await service.load_course(session, course_id)
        enrolment = await enrolments.enrolment_of(session, course.id, me(request).id)
        if enrolment is None:
            raise NotFound("Enrol in the course first.", code="not_enrolled")
        item = await service.item_of(session, course, item_id)
        await progress.record(
            session,
            signer_of(services),
            course,
            enrolment,
            item,
            now,
            completed=form.get("completed", "1") == "1",
        )
        plan = await service.outline(session, course)
        _, following = plan.neighbours(item_id)
        finished = enrolment.completed_at is not None
    if finished and form.get("completed", "1") == "1":
        return redirect(f"/courses/{course_id}")
    if following is not None and form.get("completed", "1") == "1":
        return redirect(f"/courses/{course_id}/items/{following.id}")
    return redirect(f"/courses/{course_id}/items/{item_id}")


@get("/my/courses", access=Access.USER, include_in_schema=False)
async def my_courses(request: Request[Any, Any, Any]) -> Template:
    from lessons.courses.api import enrolment_out

    services = services_of(request)
    limit = services.settings.courses.refund_max_progress
    async with services.sessions() as session:
        rows = await enrolments.my_enrolments(session, me(request).id)
        outs = [await enrolment_out(session, e, c, limit) for e, c in rows]
        ended = await enrolments.my_enrolments(session, me(request).id, ended=True)
    return page(
        request,
        "lessons/my_courses.html",
        enrolments=outs,
        refund_until={
            e.course_id: datetime.fromisoformat(e.refundable_until)
            for e in outs
            if e.refundable_until
        },
        ended=[(e, c) for e, c in ended],
    )


ROUTES = [
    catalogue,
    course_page,
    enrol_form,
    buy_form,
    refund_form,
    continue_course,
    item_page,
    complete_form,
    my_courses,
    *TUTOR_ROUTES,
]
