"""JSON API for slots, bookings, availability and calendars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from marketplace.errors import NotFound
from marketplace.web.access import Access, require_principal
from payouts.schemas import PaymentOut
from payouts.web import payment_out, payments_of
from scheduling import availability, calendars, changes, payments, service
from scheduling._web import caller_of, dispute_window, load_me, services_of
from scheduling.calendar_api import ICS
from scheduling.calendar_api import ROUTES as CALENDAR_ROUTES
from scheduling.models import AvailabilityOverride, TimeOff
from scheduling.presenters import availability_out, booking_outs, override_out, rules_io
from scheduling.presenters import time_off_out as _time_off_out
from scheduling.schemas import (
    AvailabilityOut,
    BookingIn,
    BookingOut,
    CancelIn,
    EventIn,
    OverrideIn,
    OverrideOut,
    RefundQuoteOut,
    RescheduleIn,
    RulesIO,
    SeriesIn,
    SlotOut,
    SlotsOut,
    TimeOffIn,
    TimeOffOut,
    WeeklyIn,
)

IdempotencyKey = Annotated[str | None, HeaderParameter(name="Idempotency-Key", max_length=200)]


class SlotsController(Controller):
    path = "/api/v1/tutors"
    tags = ["booking"]

    @get("/{tutor_id:int}/slots", access=Access.PUBLIC)
    async def slots(
        self,
        request: Request[Any, Any, Any],
        tutor_id: FromPath[int],
        start: Annotated[datetime | None, QueryParameter(name="from")] = None,
        end: Annotated[datetime | None, QueryParameter(name="to")] = None,
        duration: Annotated[int | None, QueryParameter(ge=15, le=240)] = None,
    ) -> SlotsOut:
        """Open slots as UTC start/end pairs (default: the next 14 days, a ~60-minute lesson)."""
        now = datetime.now(UTC)
        start = start or now
        end = end or start + timedelta(days=14)
        async with services_of(request).sessions() as session:
            minutes, found = await service.open_slots(session, tutor_id, start, end, duration, now)
            tutor = await availability.tutor_user(session, tutor_id)
        return SlotsOut(
            tutor_id=tutor_id,
            duration_minutes=minutes,
            time_zone=tutor.time_zone,
            slots=[SlotOut(s, e) for s, e in found],
        )


class BookingController(Controller):
    path = "/api/v1/bookings"
    tags = ["booking"]

    @post("/", access=Access.STUDENT, status_code=HTTP_201_CREATED)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[BookingIn],
        idempotency_key: IdempotencyKey = None,
    ) -> BookingOut:
        """Hold a slot for 15 minutes (status ``held``); 409 ``slot_taken`` if it has gone."""
        async with services_of(request).transaction() as session:
            held = await service.hold(
                session,
                student_id=require_principal(request).id,
                tutor_id=data.tutor_id,
                starts_at=data.starts_at,
                duration=data.duration_minutes,
                idempotency_key=idempotency_key,
            )
            out = await booking_outs(session, held.bookings, new=True, known=held.names)
        return out[0]

    @post("/series", access=Access.STUDENT, status_code=HTTP_201_CREATED)
    async def create_series(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SeriesIn],
        idempotency_key: IdempotencyKey = None,
    ) -> list[BookingOut]:
        """The same local time weekly for up to 12 weeks; any clash holds nothing (409)."""
        async with services_of(request).transaction() as session:
            held = await service.hold(
                session,
                student_id=require_principal(request).id,
                tutor_id=data.tutor_id,
                starts_at=data.starts_at,
                duration=data.duration_minutes,
                weeks=data.weeks,
                idempotency_key=idempotency_key,
            )
            return await booking_outs(session, held.bookings, new=True, known=held.names)

    @get("/", access=Access.USER)
    async def mine(
        self,
        request: Request[Any, Any, Any],
        when: Annotated[str | None, QueryParameter(pattern="^(upcoming|past)$")] = None,
    ) -> list[BookingOut]:
        """Your lessons as a student and as a tutor."""
        upcoming = None if when is None else when == "upcoming"
        async with services_of(request).sessions() as session:
            rows = await service.bookings_of(
                session, require_principal(request).id, upcoming=upcoming
            )
            return await booking_outs(session, rows)

    @get("/{booking_id:int}", access=Access.USER)
    async def show(self, request: Request[Any, Any, Any], booking_id: FromPath[int]) -> BookingOut:
        async with services_of(request).sessions() as session:
            booking = await service.booking_for(
                session, booking_id, caller_of(require_principal(request))
            )
            return (await booking_outs(session, [booking]))[0]

    @post("/{booking_id:int}/checkout", access=Access.STUDENT, status_code=200)
    async def checkout(
        self, request: Request[Any, Any, Any], booking_id: FromPath[int]
    ) -> PaymentOut:
        """Open (or reuse) the payment for a held booking, or for every held week of its
        series; the price is the server's. Give ``client_secret`` to Stripe's Payment Element
        (``mode`` ``demo``: pay on ``checkout_url`` instead)."""
        principal = require_principal(request)
        async with payments_of(request) as pay:
            payment = await payments.start_checkout(pay, booking_id, caller_of(principal))
            return payment_out(payment, pay.gateway, principal.id)

    @get("/{booking_id:int}/refund-quote", access=Access.USER)
    async def refund_quote(
        self, request: Request[Any, Any, Any], booking_id: FromPath[int]
    ) -> RefundQuoteOut:
        """What cancelling now would refund, under the tutor's policy."""
        caller = caller_of(require_principal(request))
        async with services_of(request).sessions() as session:
            booking = await service.booking_for(session, booking_id, caller)
            event = changes.cancel_event(booking, caller)
            quote = await changes.refund_quote(session, booking, event, datetime.now(UTC))
        return RefundQuoteOut(
            event, quote.refund_minor, booking.currency, quote.free_until, quote.reason
        )

    @post("/{booking_id:int}/cancel", access=Access.USER, status_code=200)
    async def cancel(
        self, request: Request[Any, Any, Any], booking_id: FromPath[int], data: JSONBody[CancelIn]
    ) -> BookingOut:
        """Cancel as the student (policy refund) or the tutor (full refund)."""
        services = services_of(request)
        caller = caller_of(require_principal(request))
        async with services.transaction() as session:
            found = await service.booking_for(session, booking_id, caller)
            booking = await changes.apply_event(
                session,
                booking_id,
                caller,
                changes.cancel_event(found, caller),
                reason=data.reason,
                dispute_window=dispute_window(services),
            )
            return (await booking_outs(session, [booking]))[0]

    @post("/{booking_id:int}/events", access=Access.USER, status_code=200)
    async def event(
        self, request: Request[Any, Any, Any], booking_id: FromPath[int], data: JSONBody[EventIn]
    ) -> BookingOut:
        """Any other lifecycle event you may trigger: student_no_show, tutor_no_show, dispute,
        waive_fee, and for admins confirm, complete, resolve_for_tutor, resolve_for_student."""
        services = services_of(request)
        async with services.transaction() as session:
            booking = await changes.apply_event(
                session,
                booking_id,
                caller_of(require_principal(request)),
                data.event,
                reason=data.reason,
                dispute_window=dispute_window(services),
            )
            return (await booking_outs(session, [booking]))[0]

    @post("/{booking_id:int}/reschedule", access=Access.USER, status_code=HTTP_201_CREATED)
    async def reschedule(
        self,
        request: Request[Any, Any, Any],
        booking_id: FromPath[int],
        data: JSONBody[RescheduleIn],
    ) -> BookingOut:
        """Propose a new time; the other side accepts or declines."""
        caller = caller_of(require_principal(request))
        async with services_of(request).transaction() as session:
            await changes.request_reschedule(session, booking_id, caller, data.starts_at)
            booking = await service.booking_for(session, booking_id, caller)
            return (await booking_outs(session, [booking]))[0]

    @post(
        "/{booking_id:int}/reschedule/{request_id:int}/{answer:str}",
        access=Access.USER,
        status_code=200,
    )
    async def answer(
        self,
        request: Request[Any, Any, Any],
        booking_id: FromPath[int],
        request_id: FromPath[int],
        answer: FromPath[str],
    ) -> BookingOut:
        """``accept`` or ``decline`` (the requester's decline withdraws the request)."""
        if answer not in ("accept", "decline"):
            raise NotFound("Use accept or decline.")
        caller = caller_of(require_principal(request))
        async with services_of(request).transaction() as session:
            booking = await changes.answer_reschedule(
                session, booking_id, request_id, caller, accept=answer == "accept"
            )
            return (await booking_outs(session, [booking]))[0]

    @get("/{booking_id:int}/calendar.ics", access=Access.USER, media_type=ICS)
    async def ics(
        self, request: Request[Any, Any, Any], booking_id: FromPath[int]
    ) -> Response[bytes]:
        """This lesson as an iCalendar file."""
        principal = require_principal(request)
        async with services_of(request).sessions() as session:
            booking = await service.booking_for(session, booking_id, caller_of(principal))
            body = await calendars.booking_ics(session, booking, principal.time_zone)
        return Response(
            body,
            media_type=ICS,
            headers={"Content-Disposition": f'attachment; filename="lesson-{booking_id}.ics"'},
        )


class AvailabilityController(Controller):
    path = "/api/v1/tutors/me/availability"
    tags = ["availability"]

    @get("/", access=Access.TUTOR)
    async def show(self, request: Request[Any, Any, Any]) -> AvailabilityOut:
        async with services_of(request).sessions() as session:
            me = await load_me(session, request)
            durations = await availability.durations_of(session, me.id)
            return await availability_out(session, me, durations)

    @put("/weekly", access=Access.TUTOR)
    async def weekly(
        self, request: Request[Any, Any, Any], data: JSONBody[WeeklyIn]
    ) -> AvailabilityOut:
        """Replace the weekly windows (local times in ``time_zone``, default your zone)."""
        windows = availability.validate_windows([(w.weekday, w.start, w.end) for w in data.windows])
        async with services_of(request).transaction() as session:
            me = await load_me(session, request)
            await availability.set_weekly(session, me, windows, data.time_zone)
            return await availability_out(
                session, me, await availability.durations_of(session, me.id)
            )

    @put("/rules", access=Access.TUTOR)
    async def rules(self, request: Request[Any, Any, Any], data: JSONBody[RulesIO]) -> RulesIO:
        """Buffers, notice, booking window, daily cap, slot grid, cancellation policy."""
        async with services_of(request).transaction() as session:
            me = await load_me(session, request)
            values = {f: getattr(data, f) for f in data.__struct_fields__}
            return rules_io(await availability.update_rules(session, me.id, values))

    @post("/overrides", access=Access.TUTOR, status_code=HTTP_201_CREATED)
    async def add_override(
        self, request: Request[Any, Any, Any], data: JSONBody[OverrideIn]
    ) -> OverrideOut:
        async with services_of(request).transaction() as session:
            me = await load_me(session, request)
            item = await availability.add_override(
                session,
                me,
                on_date=data.date,
                kind=data.kind,
                start=data.start,
                end=data.end,
                today=datetime.now(UTC).date(),
            )
            return override_out(item)

    @delete("/overrides/{item_id:int}", access=Access.TUTOR, status_code=HTTP_204_NO_CONTENT)
    async def delete_override(
        self, request: Request[Any, Any, Any], item_id: FromPath[int]
    ) -> None:
        async with services_of(request).transaction() as session:
            await availability.delete_owned(
                session, AvailabilityOverride, require_principal(request).id, item_id
            )

    @post("/time-off", access=Access.TUTOR, status_code=HTTP_201_CREATED)
    async def add_time_off(
        self, request: Request[Any, Any, Any], data: JSONBody[TimeOffIn]
    ) -> TimeOffOut:
        async with services_of(request).transaction() as session:
            me = await load_me(session, request)
            item = await availability.add_time_off(
                session, me, starts_at=data.starts_at, ends_at=data.ends_at, reason=data.reason
            )
            return _time_off_out(item)

    @delete("/time-off/{item_id:int}", access=Access.TUTOR, status_code=HTTP_204_NO_CONTENT)
    async def delete_time_off(
        self, request: Request[Any, Any, Any], item_id: FromPath[int]
    ) -> None:
        async with services_of(request).transaction() as session:
            await availability.delete_owned(
                session, TimeOff, require_principal(request).id, item_id
            )


ROUTES = [
    SlotsController,
    BookingController,
    AvailabilityController,
    *CALENDAR_ROUTES,
]
