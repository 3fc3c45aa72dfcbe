"""Pages for tutors: the availability editor (weekly grid, rules, overrides, time off) and
calendar settings for everyone (the private feed) and tutors (imported calendars)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Template

from marketplace.accounts.models import User
from marketplace.errors import DomainError, FieldErrors, NotFound, ValidationFailed
from marketplace.web.access import Access, require_principal
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.templating import page
from scheduling import availability, calendars
from scheduling._web import services_of
from scheduling.models import AvailabilityOverride, TimeOff
from scheduling.presenters import availability_out

GRID_ROWS = 2  # windows per weekday in the editor
DAY_NAMES = dict(
    zip(
        availability.WEEKDAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)


async def _me(session: Any, request: Request[Any, Any, Any]) -> User:
    user: User | None = await session.get(User, require_principal(request).id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def _editor(
    request: Request[Any, Any, Any],
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    async with services_of(request).sessions() as session:
        me = await _me(session, request)
        data = await availability_out(session, me, await availability.durations_of(session, me.id))
    grid: dict[str, list[tuple[str, str]]] = {day: [] for day in availability.WEEKDAYS}
    for w in data.windows:
        grid[w.weekday].append((w.start, w.end))
    for rows in grid.values():
        rows.extend([("", "")] * max(0, GRID_ROWS - len(rows)))
    return page(
        request,
        "scheduling/availability.html",
        status_code=status_code,
        a=data,
        grid=grid,
        day_names=DAY_NAMES,
        errors=errors or {},
        problem=problem,
        zone=me.time_zone,
    )


@get("/tutor/availability", access=Access.TUTOR, include_in_schema=False)
async def editor(request: Request[Any, Any, Any]) -> Template:
    return await _editor(request)


async def _save(request: Request[Any, Any, Any], action: Any) -> Any:
    form = await form_data(request)
    try:
        async with services_of(request).transaction() as session:
            await action(session, await _me(session, request), form)
    except DomainError as exc:
        return await _editor(request, **form_failure(exc))
    return redirect("/tutor/availability", "availability_saved")


@post("/tutor/availability/weekly", access=Access.TUTOR, include_in_schema=False)
async def save_weekly(request: Request[Any, Any, Any]) -> Any:
    async def action(session: Any, me: User, form: Any) -> None:
        raw, rows = [], []
        for day in availability.WEEKDAYS:
            for row in range(GRID_ROWS):
                start, end = form.get(f"{day}_{row}_start", ""), form.get(f"{day}_{row}_end", "")
                if start or end:
                    raw.append((day, start, end))
                    rows.append(f"{day}_{row}")
        try:
            windows = availability.validate_windows(raw)
        except ValidationFailed as exc:  # the service counts windows; the grid has rows
            named = {f"windows[{i}]": row for i, row in enumerate(rows)}
            raise ValidationFailed({named.get(k, k): v for k, v in exc.fields.items()}) from None
        await availability.set_weekly(session, me, windows)

    return await _save(request, action)


@post("/tutor/availability/rules", access=Access.TUTOR, include_in_schema=False)
async def save_rules(request: Request[Any, Any, Any]) -> Any:
    async def action(session: Any, me: User, form: Any) -> None:
        values: dict[str, int | None] = {}
        problems = FieldErrors()
        for name in (
            "buffer_before_minutes",
            "buffer_after_minutes",
            "min_notice_minutes",
            "booking_window_days",
            "max_lessons_per_day",
            "slot_granularity_minutes",
            "free_cancel_hours",
            "late_cancel_refund_percent",
        ):
            raw = form.get(name, "").strip()
            if raw and not raw.isdigit():
                problems.add(name, "Enter a whole number.")
            values[name] = int(raw) if raw.isdigit() else None
        problems.raise_if_any()
        await availability.update_rules(session, me.id, values)

    return await _save(request, action)


@post("/tutor/availability/overrides", access=Access.TUTOR, include_in_schema=False)
async def add_override(request: Request[Any, Any, Any]) -> Any:
    async def action(session: Any, me: User, form: Any) -> None:
        try:
            on_date = date.fromisoformat(form.get("date", ""))
        except ValueError:
            raise ValidationFailed({"date": "Choose a date."}) from None
        await availability.add_override(
            session,
            me,
            on_date=on_date,
            kind=form.get("kind", ""),
            start=form.get("start") or None,
            end=form.get("end") or None,
            today=datetime.now(ZoneInfo(me.time_zone)).date(),
        )

    return await _save(request, action)


@post("/tutor/availability/time-off", access=Access.TUTOR, include_in_schema=False)
async def add_time_off(request: Request[Any, Any, Any]) -> Any:
    async def action(session: Any, me: User, form: Any) -> None:
        zone = ZoneInfo(me.time_zone)
        problems = FieldErrors()
        first = last = None
        try:  # whole local days, first to last inclusive
            first = date.fromisoformat(form.get("first_day", ""))
        except ValueError:
            problems.add("first_day", "Choose the first day off.")
        try:
            last = date.fromisoformat(form.get("last_day", "") or form.get("first_day", ""))
        except ValueError:
            problems.add("last_day", "Choose the last day off, or leave it empty for one day.")
        if first and last and last < first:
            problems.add("last_day", "The last day cannot be before the first.")
        problems.raise_if_any()
        assert first is not None and last is not None
        try:
            await availability.add_time_off(
                session,
                me,
                starts_at=datetime.combine(first, time(), tzinfo=zone),
                ends_at=datetime.combine(last + timedelta(days=1), time(), tzinfo=zone),
                reason=form.get("reason", ""),
            )
        except ValidationFailed as exc:  # the service speaks of instants; the form of days
            names = {"starts_at": "first_day", "ends_at": "last_day"}
            raise ValidationFailed({names.get(k, k): v for k, v in exc.fields.items()}) from None

    return await _save(request, action)


@post(
    "/tutor/availability/{kind:str}/{item_id:int}/delete",
    access=Access.TUTOR,
    include_in_schema=False,
)
async def delete_item(
    request: Request[Any, Any, Any], kind: FromPath[str], item_id: FromPath[int]
) -> Any:
    models: dict[str, type[AvailabilityOverride] | type[TimeOff]] = {
        "overrides": AvailabilityOverride,
        "time-off": TimeOff,
    }
    model = models.get(kind)
    if model is None:
        raise NotFound("Nothing here.")

    async def action(session: Any, me: User, form: Any) -> None:
        await availability.delete_owned(session, model, me.id, item_id)

    return await _save(request, action)


# ---------------------------------------------------------------- calendar settings


async def _calendar_page(
    request: Request[Any, Any, Any],
    new_url: str | None = None,
    status_code: int = 200,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    principal = require_principal(request)
    async with services_of(request).sessions() as session:
        feed = await calendars.active_feed(session, principal.id)
        imported = (
            await calendars.calendar_outs(session, principal.id)
            if "tutor" in principal.roles
            else []
        )
    return page(
        request,
        "scheduling/calendar_settings.html",
        status_code=status_code,
        feed=feed,
        new_url=new_url,
        imported=imported,
        reading=any(c.status == "pending" for c in imported),
        problem=problem,
        errors=errors or {},
        is_tutor="tutor" in principal.roles,
    )


@get("/account/calendar", access=Access.USER, include_in_schema=False)
async def calendar_settings(request: Request[Any, Any, Any]) -> Template:
    return await _calendar_page(request)


@post("/account/calendar/feed", access=Access.USER, include_in_schema=False)
async def new_feed(request: Request[Any, Any, Any]) -> Template:
    services = services_of(request)
    async with services.transaction() as session:
        _, secret = await calendars.create_feed(session, require_principal(request).id)
    return await _calendar_page(request, calendars.feed_url(services.settings.web.base_url, secret))


@post("/account/calendar/feed/revoke", access=Access.USER, include_in_schema=False)
async def revoke_feed(request: Request[Any, Any, Any]) -> Response[Any]:
    async with services_of(request).transaction() as session:
        await calendars.revoke_feeds(session, require_principal(request).id)
    return redirect("/account/calendar", "feed_revoked")


@post("/account/calendar/import", access=Access.TUTOR, include_in_schema=False)
async def import_calendar(request: Request[Any, Any, Any]) -> Any:
    form = await form_data(request)
    services = services_of(request)
    try:
        async with services.transaction() as session:
            me = await _me(session, request)
            upload = form.get("file")
            if isinstance(upload, UploadFile) and upload.filename:
                limits = calendars.read_limits(services.settings.scheduling)
                await calendars.import_upload(
                    session,
                    me,
                    form.get("name") or upload.filename,
                    await upload.read(limits.max_bytes + 1),
                    limits,
                )
            else:
                await calendars.add_url_calendar(
                    session, me.id, form.get("name", ""), form.get("url", "")
                )
    except DomainError as exc:
        sent = form.get("file")
        uploaded = isinstance(sent, UploadFile) and bool(sent.filename)
        failure = form_failure(exc, "file" if uploaded else "url")
        # The upload's parse problem is the file field's; everything else names its own field.
        errors = failure["errors"]
        failure["errors"] = {("file" if k == "data" else k): v for k, v in errors.items()}
        return await _calendar_page(request, **failure)
    return redirect("/account/calendar", "calendar_added")


@post(
    "/account/calendar/import/{calendar_id:int}/{action:str}",
    access=Access.TUTOR,
    include_in_schema=False,
)
async def calendar_action(
    request: Request[Any, Any, Any], calendar_id: FromPath[int], action: FromPath[str]
) -> Response[Any]:
    async with services_of(request).transaction() as session:
        tutor_id = require_principal(request).id
        if action == "delete":
            await calendars.delete_calendar(session, tutor_id, calendar_id)
        else:
            await calendars.request_refresh(session, tutor_id, calendar_id)
    return redirect("/account/calendar")


ROUTES = [
    editor,
    save_weekly,
    save_rules,
    add_override,
    add_time_off,
    delete_item,
    calendar_settings,
    new_feed,
    revoke_feed,
    import_calendar,
    calendar_action,
]
