"""Pages: pick a slot, my lessons (cancel, reschedule), one lesson.

Times are shown in the viewer's zone (their account's, or the browser's for visitors), and the
zone is named on the page. The tutor's editor and calendar settings are in ``tutor_pages``.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from marketplace.accounts.service import valid_time_zones
from marketplace.errors import DomainError, ValidationFailed
from marketplace.web.access import Access, principal_of, require_principal
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.templating import NOTICES, page
from payouts import accounts as payout_accounts
from payouts.web import payments_of
from scheduling import availability, changes, payments, rooms, service
from scheduling._web import caller_of, dispute_window, services_of
from scheduling.presenters import booking_outs
from scheduling.tutor_pages import ROUTES as TUTOR_ROUTES

DAYS_SHOWN = 7
# The notices these pages redirect with (``?notice=``), added to the shared table.
NOTICES.update(
    {
        "held": "The time is held for you for 15 minutes while the booking is paid for.",
        "series_held": "Every week of the series is held for 15 minutes.",
        "lesson_cancelled": "The lesson is cancelled.",
        "reschedule_requested": "Your proposal is sent; the other side accepts or declines it.",
        "reschedule_accept": "The lesson is moved.",
        "reschedule_decline": "The proposal is declined.",
        "availability_saved": "Your availability is saved.",
        "calendar_added": "The calendar is added and being read; its busy times appear soon.",
        "feed_revoked": "The calendar address no longer works.",
    }
)


def viewer_zone(request: Request[Any, Any, Any], tz: str | None) -> str:
    principal = principal_of(request)
    if principal is not None:
        return principal.time_zone
    return tz if tz in valid_time_zones() else "UTC"


def zone_label(zone: str, at: datetime) -> str:
    return f"{zone.replace('_', ' ')} ({at.astimezone(ZoneInfo(zone)).tzname()})"


@get("/tutors/{tutor_id:int}/book", access=Access.PUBLIC, include_in_schema=False)
async def pick_slot(
    request: Request[Any, Any, Any],
    tutor_id: FromPath[int],
    duration: Annotated[int | None, QueryParameter(ge=15, le=240)] = None,
    week: Annotated[date | None, QueryParameter()] = None,
    tz: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Template:
    """Open slots for a week, grouped by day in the viewer's zone."""
    zone = viewer_zone(request, tz)
    now = datetime.now(UTC)
    first = week or now.astimezone(ZoneInfo(zone)).date()
    start = datetime.combine(first, time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    end = start + timedelta(days=DAYS_SHOWN)
    async with services_of(request).sessions() as session:
        profile, prices = await availability.bookable_tutor(session, tutor_id)
        minutes, found = await service.open_slots(session, tutor_id, start, end, duration, now)
        takes_payments = await payout_accounts.can_receive_payouts(session, tutor_id)
    days: dict[date, list[tuple[str, str]]] = defaultdict(list)
    for s, _ in found:
        local = s.astimezone(ZoneInfo(zone))
        days[local.date()].append((s.isoformat(), local.strftime("%H:%M")))
    principal = principal_of(request)
    return page(
        request,
        "scheduling/pick_slot.html",
        tutor=profile,
        prices=prices,
        duration=minutes,
        days=[(day, days.get(day, [])) for day in (first + timedelta(days=i) for i in range(7))],
        zone=zone,
        zone_label=zone_label(zone, start),
        week=first,
        previous=first - timedelta(days=DAYS_SHOWN) if first > now.date() else None,
        next_week=first + timedelta(days=DAYS_SHOWN),
        can_book=principal is not None and "student" in principal.roles and takes_payments,
        takes_payments=takes_payments,
        key=secrets.token_urlsafe(16),
    )


@post("/lessons/hold", access=Access.STUDENT, include_in_schema=False)
async def hold(request: Request[Any, Any, Any]) -> Response[Any]:
    """The slot picker's form; its hidden key makes a double click one booking."""
    form = await form_data(request)
    services = services_of(request)
    try:
        tutor_id = int(form.get("tutor_id", "0"))
        starts_at = datetime.fromisoformat(form.get("starts_at", ""))
        duration = int(form.get("duration_minutes", "0"))
    except ValueError:
        raise ValidationFailed({"starts_at": "Choose a time from the list."}) from None
    try:
        async with services.transaction() as session:
            held = await service.hold(
                session,
                student_id=require_principal(request).id,
                tutor_id=tutor_id,
                starts_at=starts_at,
                duration=duration,
                weeks=max(1, min(12, int(form.get("weeks") or 1))),
                idempotency_key=form.get("key") or None,
            )
            bookings = held.bookings
    except DomainError as exc:
        return page(
            request,
            "scheduling/hold_failed.html",
            status_code=exc.status_code,
            message=exc.message,
            fields=exc.fields,
            tutor_id=tutor_id,
            duration=duration,
        )
    # Straight on to paying; if the checkout cannot open now, the lesson page offers it again.
    return await _to_checkout(request, bookings[0].id)


async def _to_checkout(request: Request[Any, Any, Any], booking_id: int) -> Response[Any]:
    caller = caller_of(require_principal(request))
    try:
        async with payments_of(request) as pay:
            payment = await payments.start_checkout(pay, booking_id, caller)
    except DomainError as exc:
        return await _lesson_page(request, booking_id, **form_failure(exc))
    return redirect(f"/checkout/{payment.id}")


@post("/lessons/{booking_id:int}/pay", access=Access.STUDENT, include_in_schema=False)
async def pay(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Response[Any]:
    """The lesson page's "Pay now": open (or reuse) the checkout for this held booking."""
    return await _to_checkout(request, booking_id)


@get("/lessons", access=Access.USER, include_in_schema=False)
async def my_lessons(request: Request[Any, Any, Any]) -> Template:
    principal = require_principal(request)
    services = services_of(request)
    now = datetime.now(UTC)
    async with services.sessions() as session:
        coming = await service.bookings_of(session, principal.id, upcoming=True)
        upcoming = await booking_outs(session, coming)
        past = await booking_outs(
            session, await service.bookings_of(session, principal.id, upcoming=False, limit=50)
        )
    return page(
        request,
        "scheduling/lessons.html",
        upcoming=upcoming,
        past=past,
        # Confirmed lessons whose room is open now get a "Join lesson" link in the list.
        open_rooms={
            b.id
            for b in coming
            if b.status == "confirmed"
            and rooms.room_state(
                b, ended_by_tutor=False, now=now, settings=services.settings.scheduling
            )
            is rooms.RoomState.OPEN
        },
        zone_label=zone_label(principal.time_zone, datetime.now(UTC)),
    )


@get("/lessons/{booking_id:int}", access=Access.USER, include_in_schema=False)
async def lesson(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Template:
    return await _lesson_page(request, booking_id)


async def _lesson_page(
    request: Request[Any, Any, Any],
    booking_id: int,
    status_code: int = 200,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    principal = require_principal(request)
    caller = caller_of(principal)
    now = datetime.now(UTC)
    async with services_of(request).sessions() as session:
        booking = await service.booking_for(session, booking_id, caller)
        out = (await booking_outs(session, [booking]))[0]
        # An admin reads the lesson but does not act for either side: no quote, no forms.
        participant = principal.id in (booking.student_id, booking.tutor_id)
        quote = (
            await changes.refund_quote(session, booking, changes.cancel_event(booking, caller), now)
            if participant
            else None
        )
        settings = services_of(request).settings.scheduling
        room_state = await rooms.current_state(session, booking, now, settings)
        # Sections of higher packages (a review, the recording, ...), registered by the
        # composition root.
        fragments = await services_of(request).fragments.render(
            "lesson_page", request, session, booking_id=booking.id, viewer_id=principal.id
        )
    live = participant and booking.status in ("held", "confirmed") and booking.starts_at > now
    role = {booking.student_id: "student", booking.tutor_id: "tutor"}.get(principal.id, "admin")
    return page(
        request,
        "scheduling/lesson.html",
        status_code=status_code,
        b=out,
        role=role,
        live=live,
        quote=quote,
        fragments=fragments,
        problem=problem,
        errors=errors or {},
        room_state=room_state.value,
        can_join=principal.id in (booking.tutor_id, booking.student_id)
        or (principal.is_admin and settings.room_admin_observe),
        room=rooms.room_window(booking, settings),
        zone=principal.time_zone,
        zone_label=zone_label(principal.time_zone, booking.starts_at),
        default_new=booking.starts_at.astimezone(ZoneInfo(principal.time_zone)).strftime(
            "%Y-%m-%dT%H:%M"
        ),
    )


async def _act(request: Request[Any, Any, Any], booking_id: int, action: Any, notice: str) -> Any:
    try:
        async with services_of(request).transaction() as session:
            await action(session)
    except DomainError as exc:
        return await _lesson_page(request, booking_id, **form_failure(exc))
    return redirect(f"/lessons/{booking_id}", notice)


@get("/lessons/{booking_id:int}/cancel", access=Access.USER, include_in_schema=False)
async def confirm_cancel(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Template:
    """What cancelling would do (the refund the policy gives, until when it is free), and the
    button that does it: nothing is cancelled by following a link."""
    return await _cancel_page(request, booking_id)


async def _cancel_page(
    request: Request[Any, Any, Any],
    booking_id: int,
    status_code: int = 200,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    principal = require_principal(request)
    caller = caller_of(principal)
    now = datetime.now(UTC)
    async with services_of(request).sessions() as session:
        booking = await service.booking_for(session, booking_id, caller)
        out = (await booking_outs(session, [booking]))[0]
        quote = await changes.refund_quote(
            session, booking, changes.cancel_event(booking, caller), now
        )
    return page(
        request,
        "scheduling/cancel.html",
        status_code=status_code,
        problem=problem,
        errors=errors or {},
        b=out,
        role="student" if principal.id == booking.student_id else "tutor",
        live=booking.status in ("held", "confirmed") and booking.starts_at > now,
        quote=quote,
        free_now=now <= quote.free_until,
        zone=principal.time_zone,
    )


@post("/lessons/{booking_id:int}/cancel", access=Access.USER, include_in_schema=False)
async def cancel(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Any:
    form = await form_data(request)
    caller = caller_of(require_principal(request))
    services = services_of(request)

    async def action(session: Any) -> None:
        booking = await service.booking_for(session, booking_id, caller)
        await changes.apply_event(
            session,
            booking_id,
            caller,
            changes.cancel_event(booking, caller),
            reason=form.get("reason", ""),
            dispute_window=dispute_window(services),
        )

    try:
        async with services.transaction() as session:
            await action(session)
    except DomainError as exc:
        return await _cancel_page(request, booking_id, **form_failure(exc, "reason"))
    return redirect(f"/lessons/{booking_id}", "lesson_cancelled")


@get("/lessons/{booking_id:int}/reschedule", access=Access.USER, include_in_schema=False)
async def reschedule_options(
    request: Request[Any, Any, Any],
    booking_id: FromPath[int],
    week: Annotated[date | None, QueryParameter()] = None,
) -> Template:
    return await _reschedule_page(request, booking_id, week)


async def _reschedule_page(
    request: Request[Any, Any, Any],
    booking_id: int,
    week: date | None = None,
    status_code: int = 200,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    """The tutor's open slots for a week, to move the lesson to: the booking page's picker."""
    principal = require_principal(request)
    zone = ZoneInfo(principal.time_zone)
    now = datetime.now(UTC)
    today = now.astimezone(zone).date()
    first = max(week or today, today)
    start = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
    async with services_of(request).sessions() as session:
        booking, found = await changes.reschedule_slots(
            session,
            booking_id,
            caller_of(principal),
            start,
            start + timedelta(days=DAYS_SHOWN),
            now,
        )
        out = (await booking_outs(session, [booking]))[0]
    days: dict[date, list[tuple[str, str]]] = defaultdict(list)
    for s, _ in found:
        local = s.astimezone(zone)
        days[local.date()].append((s.isoformat(), local.strftime("%H:%M")))
    return page(
        request,
        "scheduling/reschedule.html",
        status_code=status_code,
        b=out,
        role="student" if principal.id == booking.student_id else "tutor",
        movable=booking.status in ("held", "confirmed") and booking.starts_at > now,
        problem=problem,
        errors=errors or {},
        days=[(day, days.get(day, [])) for day in (first + timedelta(days=i) for i in range(7))],
        zone=principal.time_zone,
        zone_label=zone_label(principal.time_zone, start),
        previous=first - timedelta(days=DAYS_SHOWN) if first > today else None,
        next_week=first + timedelta(days=DAYS_SHOWN),
    )


@post("/lessons/{booking_id:int}/reschedule", access=Access.USER, include_in_schema=False)
async def reschedule(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Any:
    """Propose one of the offered slots (the picker's buttons post its exact start)."""
    form = await form_data(request)
    principal = require_principal(request)
    try:
        local = datetime.fromisoformat(form.get("starts_at", ""))
    except ValueError:
        return await _reschedule_page(
            request, booking_id, status_code=422, problem="Choose one of the open times below."
        )
    starts_at = (
        local.replace(tzinfo=ZoneInfo(principal.time_zone)) if local.tzinfo is None else local
    )
    try:
        async with services_of(request).transaction() as session:
            await changes.request_reschedule(session, booking_id, caller_of(principal), starts_at)
    except DomainError as exc:
        week = starts_at.astimezone(ZoneInfo(principal.time_zone)).date()
        return await _reschedule_page(request, booking_id, week, **form_failure(exc))
    return redirect(f"/lessons/{booking_id}", "reschedule_requested")


@post(
    "/lessons/{booking_id:int}/reschedule/{request_id:int}/{answer:str}",
    access=Access.USER,
    include_in_schema=False,
)
async def answer(
    request: Request[Any, Any, Any],
    booking_id: FromPath[int],
    request_id: FromPath[int],
    answer: FromPath[str],
) -> Any:
    caller = caller_of(require_principal(request))

    async def action(session: Any) -> None:
        await changes.answer_reschedule(
            session, booking_id, request_id, caller, accept=answer == "accept"
        )

    return await _act(request, booking_id, action, f"reschedule_{answer}")


ROUTES = [
    pick_slot,
    hold,
    pay,
    my_lessons,
    lesson,
    confirm_cancel,
    cancel,
    reschedule_options,
    reschedule,
    answer,
    *TUTOR_ROUTES,
]
