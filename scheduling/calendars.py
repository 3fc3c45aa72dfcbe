"""iCalendar: private feeds and per-lesson files out, busy times in (uploads and URLs).

Exports use stable UIDs (the booking's UUID), ``SEQUENCE`` raised by every transition,
``STATUS:CANCELLED`` for cancelled lessons and VTIMEZONE blocks for the zone the times are in.
Imports keep only start and end of busy events (no titles), expanded with
``recurring-ical-events`` after ``x-wr-timezone`` has made Google-style feeds standard.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import socket
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import icalendar
import recurring_ical_events
import x_wr_timezone
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.errors import NotFound, ValidationFailed
from marketplace.uow import defer_job, emit
from scheduling.events import AvailabilityChanged
from scheduling.lifecycle import State
from scheduling.models import Booking, BusyTime, CalendarFeed, ExternalCalendar
from scheduling.presenters import names
from scheduling.schemas import CalendarOut

REFRESH_TASK = "scheduling.refresh_calendar"
PRODID = "-//Duet//Lessons//EN"
IMPORT_HORIZON = timedelta(days=400)
FEED_PAST = timedelta(days=90)
_CANCELLED = {State.CANCELLED_BY_STUDENT.value, State.CANCELLED_BY_TUTOR.value, State.EXPIRED.value}


class CalendarUnreadable(ValueError):
    """The data is not an iCalendar file we can read."""


# ---------------------------------------------------------------- export


def _event(booking: Booking, who: dict[int, str], zone: ZoneInfo) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"{booking.uid}@duet")
    event.add("sequence", booking.sequence)
    event.add("dtstamp", booking.updated_at.astimezone(UTC))
    event.add("dtstart", booking.starts_at.astimezone(zone))
    event.add("dtend", booking.ends_at.astimezone(zone))
    tutor, student = who.get(booking.tutor_id, "tutor"), who.get(booking.student_id, "student")
    event.add("summary", f"Music lesson: {tutor} with {student}")
    if booking.status in _CANCELLED:
        event.add("status", "CANCELLED")
    elif booking.status == State.HELD.value:
        event.add("status", "TENTATIVE")
    else:
        event.add("status", "CONFIRMED")
    event.add("description", f"Duet booking #{booking.id} ({booking.status.replace('_', ' ')}).")
    return event


def _calendar(name: str) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    return cal


def render(bookings: Iterable[Booking], who: dict[int, str], time_zone: str, name: str) -> bytes:
    zone = ZoneInfo(time_zone)
    cal = _calendar(name)
    for booking in bookings:
        cal.add_component(_event(booking, who, zone))
    cal.add_missing_timezones()  # VTIMEZONE for every TZID used
    return bytes(cal.to_ical())


async def booking_ics(session: AsyncSession, booking: Booking, time_zone: str) -> bytes:
    who = await names(session, {booking.tutor_id, booking.student_id})
    return render([booking], who, time_zone, "Duet lesson")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def feed_url(base_url: str, secret: str) -> str:
    return f"{base_url}/calendar/{secret}.ics"


async def active_feed(session: AsyncSession, user_id: int) -> CalendarFeed | None:
    return await session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None)
        )
    )


async def revoke_feeds(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def create_feed(session: AsyncSession, user_id: int) -> tuple[CalendarFeed, str]:
    await revoke_feeds(session, user_id)
    secret = secrets.token_urlsafe(32)
    feed = CalendarFeed(user_id=user_id, token_hash=_hash(secret))
    session.add(feed)
    await session.flush()
    return feed, secret


async def feed_ics(session: AsyncSession, secret: str) -> bytes:
    feed = None
    if 20 <= len(secret) <= 100:
        feed = await session.scalar(
            select(CalendarFeed).where(
                CalendarFeed.token_hash == _hash(secret), CalendarFeed.revoked_at.is_(None)
            )
        )
    if feed is None:
        raise NotFound("No such calendar.", code="calendar_not_found")
    user = await session.get(User, feed.user_id)
    assert user is not None
    since = datetime.now(UTC) - FEED_PAST
    bookings = list(
        await session.scalars(
            select(Booking)
            .where(
                or_(Booking.student_id == user.id, Booking.tutor_id == user.id),
                Booking.ends_at > since,
            )
            .order_by(Booking.starts_at)
        )
    )
    who = await names(session, {b.tutor_id for b in bookings} | {b.student_id for b in bookings})
    return render(bookings, who, user.time_zone, "Duet lessons")


# ---------------------------------------------------------------- import


def _as_utc(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        # Floating times (no zone) are the tutor's local time.
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)
    return datetime.combine(value, time(), tzinfo=zone).astimezone(UTC)


def parse_busy(
    data: bytes, time_zone: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Busy intervals (UTC) in [start, end) from an iCalendar file."""
    try:
        cal = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise CalendarUnreadable(f"Not an iCalendar file: {exc}") from None
    if not isinstance(cal, icalendar.Calendar):
        raise CalendarUnreadable("Not an iCalendar file.")
    cal = x_wr_timezone.to_standard(cal)
    zone = ZoneInfo(time_zone)
    out = set()
    try:
        events = recurring_ical_events.of(cal).between(start, end)
    except (ValueError, TypeError) as exc:
        raise CalendarUnreadable(f"The calendar's recurrences cannot be read: {exc}") from None
    for event in events:
        if event.name != "VEVENT":
            continue
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue  # "show as free"
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        dtstart = event.get("DTSTART")
        if dtstart is None:
            continue
        s = _as_utc(dtstart.dt, zone)
        dtend = event.get("DTEND")
        if dtend is not None:
            e = _as_utc(dtend.dt, zone)
        elif event.get("DURATION") is not None:
            e = s + event["DURATION"].dt
        else:
            e = s + (timedelta(days=1) if not isinstance(dtstart.dt, datetime) else timedelta(0))
        if e > s:
            out.add((s, e))
    return sorted(out)


async def _replace_busy(
    session: AsyncSession, item: ExternalCalendar, intervals: list[tuple[datetime, datetime]]
) -> None:
    await session.execute(delete(BusyTime).where(BusyTime.calendar_id == item.id))
    session.add_all(
        BusyTime(calendar_id=item.id, tutor_id=item.tutor_id, starts_at=s, ends_at=e)
        for s, e in intervals
    )
    emit(session, AvailabilityChanged(item.tutor_id))
    item.status = "ok"
    item.last_error = ""
    item.last_success_at = datetime.now(UTC)
    item.last_attempt_at = item.last_success_at


async def import_upload(
    session: AsyncSession, tutor: User, name: str, data: bytes
) -> ExternalCalendar:
    now = datetime.now(UTC)
    try:
        intervals = parse_busy(data, tutor.time_zone, now - timedelta(days=1), now + IMPORT_HORIZON)
    except CalendarUnreadable as exc:
        raise ValidationFailed({"data": str(exc)}) from None
    item = ExternalCalendar(tutor_id=tutor.id, name=name[:120], source="upload", url=None)
    session.add(item)
    await session.flush()
    await _replace_busy(session, item, intervals)
    await session.flush()
    return item


def normalise_url(raw: str) -> str:
    url = raw.strip()
    if url.lower().startswith("webcal://"):
        url = "https://" + url[len("webcal://") :]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise ValidationFailed({"url": "Give the calendar's http(s) or webcal address."})
    return url


async def add_url_calendar(
    session: AsyncSession, tutor_id: int, name: str, url: str
) -> ExternalCalendar:
    item = ExternalCalendar(
        tutor_id=tutor_id,
        name=(name.strip() or "My calendar")[:120],
        source="url",
        url=normalise_url(url),
    )
    session.add(item)
    await session.flush()
    defer_job(session, REFRESH_TASK, item.id)
    return item


async def _owned(session: AsyncSession, tutor_id: int, calendar_id: int) -> ExternalCalendar:
    item = await session.get(ExternalCalendar, calendar_id)
    if item is None or item.tutor_id != tutor_id:
        raise NotFound("No such calendar.", code="calendar_not_found")
    return item


async def request_refresh(session: AsyncSession, tutor_id: int, calendar_id: int) -> None:
    item = await _owned(session, tutor_id, calendar_id)
    if item.source == "url":
        defer_job(session, REFRESH_TASK, item.id)


async def delete_calendar(session: AsyncSession, tutor_id: int, calendar_id: int) -> None:
    await session.delete(await _owned(session, tutor_id, calendar_id))
    emit(session, AvailabilityChanged(tutor_id))


async def calendar_outs(
    session: AsyncSession, tutor_id: int, only: int | None = None
) -> list[CalendarOut]:
    query = (
        select(ExternalCalendar, func.count(BusyTime.id))
        .outerjoin(BusyTime, BusyTime.calendar_id == ExternalCalendar.id)
        .where(ExternalCalendar.tutor_id == tutor_id)
        .group_by(ExternalCalendar.id)
        .order_by(ExternalCalendar.id)
    )
    if only is not None:
        query = query.where(ExternalCalendar.id == only)
    return [
        CalendarOut(
            id=c.id,
            name=c.name,
            source=c.source,
            url=c.url,
            status=c.status,
            last_error=c.last_error,
            last_success_at=c.last_success_at,
            busy_count=int(n),
        )
        for c, n in (await session.execute(query)).all()
    ]


def _check_public_host(url: str) -> None:
    """Refuse addresses inside our network: the URL comes from a user (SSRF)."""
    host = urlsplit(url).hostname or ""
    for info in socket.getaddrinfo(host, None):
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise OSError(f"{host} resolves to a private address")


async def fetch(url: str, *, timeout_s: float, max_bytes: int, allow_private: bool) -> bytes:
    if not allow_private:
        _check_public_host(url)
    async with (
        httpx.AsyncClient(timeout=timeout_s, follow_redirects=not allow_private) as client,
        client.stream("GET", url, headers={"Accept": "text/calendar"}) as response,
    ):
        response.raise_for_status()
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) > max_bytes:
                raise ValueError("the calendar is larger than CALENDAR_MAX_BYTES")
    return bytes(body)


async def store_fetch_result(
    session: AsyncSession, calendar_id: int, data: bytes | None, error: str
) -> None:
    """Job body, after the fetch: new busy times, or 'failing' and the last good ones kept."""
    item = await session.get(ExternalCalendar, calendar_id, with_for_update=True)
    if item is None:
        return
    item.last_attempt_at = datetime.now(UTC)
    if data is not None:
        tutor = await session.get(User, item.tutor_id)
        assert tutor is not None
        now = datetime.now(UTC)
        try:
            intervals = parse_busy(
                data, tutor.time_zone, now - timedelta(days=1), now + IMPORT_HORIZON
            )
        except CalendarUnreadable as exc:
            error = str(exc)
        else:
            await _replace_busy(session, item, intervals)
            return
    item.status = "failing"
    item.last_error = error[:2000]


async def due_for_refresh(session: AsyncSession, every: timedelta) -> list[int]:
    cutoff = datetime.now(UTC) - every
    return list(
        await session.scalars(
            select(ExternalCalendar.id).where(
                ExternalCalendar.source == "url",
                or_(
                    ExternalCalendar.last_attempt_at.is_(None),
                    ExternalCalendar.last_attempt_at < cutoff,
                ),
            )
        )
    )
