"""iCalendar: private feeds and per-lesson files out, busy times in (uploads and URLs).

Exports use stable UIDs (the booking's UUID), ``SEQUENCE`` raised by every transition,
``STATUS:CANCELLED`` for cancelled lessons and VTIMEZONE blocks for the zone the times are in.
Imports keep only start and end of busy events (no titles). They are read by the job
``scheduling.refresh_calendar``, never in a request: ``ics_reader`` does the reading under caps,
``ics_isolation`` runs it in a child process with memory and time limits, ``ics_fetch`` fetches
URLs with every address checked. Uploads keep their file so the periodic sweep can read them
again as the expansion horizon rolls forward, as URL calendars are fetched again.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.errors import NotFound, ValidationFailed
from marketplace.settings import SchedulingSettings
from marketplace.uow import defer_job, emit
from scheduling.events import AvailabilityChanged
from scheduling.ics_reader import BusyRead, CalendarUnreadable, ReadLimits, precheck
from scheduling.lifecycle import State
from scheduling.models import Booking, BusyTime, CalendarFeed, ExternalCalendar
from scheduling.presenters import names
from scheduling.schemas import CalendarOut

if TYPE_CHECKING:
    import icalendar


REFRESH_TASK = "scheduling.refresh_calendar"
PRODID = "-//Duet//Lessons//EN"
IMPORT_HORIZON = timedelta(days=400)
UPLOAD_REREAD = timedelta(days=1)
REFRESH_BATCH = 500
FEED_PAST = timedelta(days=90)
_CANCELLED = {State.CANCELLED_BY_STUDENT.value, State.CANCELLED_BY_TUTOR.value, State.EXPIRED.value}


# ---------------------------------------------------------------- export


def _event(booking: Booking, who: dict[int, str], zone: ZoneInfo) -> icalendar.Event:
    import icalendar

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
    import icalendar

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


def read_limits(settings: SchedulingSettings) -> ReadLimits:
    return ReadLimits(max_bytes=settings.calendar_max_bytes)


async def import_upload(
    session: AsyncSession, tutor: User, name: str, data: bytes, limits: ReadLimits
) -> ExternalCalendar:
    """Keep the file and queue its reading; the cheap checks answer at once."""
    try:
        precheck(data, limits)
    except CalendarUnreadable as exc:
        raise ValidationFailed({"data": str(exc)}) from None
    item = ExternalCalendar(
        tutor_id=tutor.id,
        name=(name.strip() or "Uploaded calendar")[:120],
        source="upload",
        url=None,
        ics_data=data,
    )
    session.add(item)
    await session.flush()
    defer_job(session, REFRESH_TASK, item.id)
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
            notes=c.notes,
            last_success_at=c.last_success_at,
            expanded_until=c.expanded_until,
            busy_count=int(n),
        )
        for c, n in (await session.execute(query)).all()
    ]


async def calendar_out(session: AsyncSession, tutor_id: int, calendar_id: int) -> CalendarOut:
    found = await calendar_outs(session, tutor_id, only=calendar_id)
    if not found:
        raise NotFound("No such calendar.", code="calendar_not_found")
    return found[0]


@dataclass(frozen=True)
class ToRead:
    """What the refresh job needs, loaded before any slow work."""

    calendar_id: int
    source: str
    url: str | None
    data: bytes | None
    time_zone: str


async def to_read(session: AsyncSession, calendar_id: int) -> ToRead | None:
    row = (
        await session.execute(
            select(
                ExternalCalendar.source,
                ExternalCalendar.url,
                ExternalCalendar.ics_data,
                User.time_zone,
            )
            .join(User, User.id == ExternalCalendar.tutor_id)
            .where(ExternalCalendar.id == calendar_id)
        )
    ).first()
    if row is None:
        return None
    return ToRead(calendar_id, row.source, row.url, row.ics_data, row.time_zone)


def horizon(now: datetime) -> tuple[datetime, datetime]:
    """The span whose busy times are stored: from yesterday to ``IMPORT_HORIZON`` ahead."""
    return now - timedelta(days=1), now + IMPORT_HORIZON


async def store_read_result(
    session: AsyncSession,
    calendar_id: int,
    found: BusyRead | None,
    error: str,
    until: datetime | None = None,
) -> None:
    """Job body, after the reading: new busy times, or 'failing' and the last good ones kept."""
    item = await session.get(ExternalCalendar, calendar_id, with_for_update=True)
    if item is None:
        return
    now = datetime.now(UTC)
    item.last_attempt_at = now
    if found is None:
        item.status = "failing"
        item.last_error = error[:2000]
        return
    await session.execute(delete(BusyTime).where(BusyTime.calendar_id == item.id))
    if found.intervals:
        await session.execute(
            insert(BusyTime),
            [
                {"calendar_id": item.id, "tutor_id": item.tutor_id, "starts_at": s, "ends_at": e}
                for s, e in found.intervals
            ],
        )
    emit(session, AvailabilityChanged(item.tutor_id))
    item.status = "ok"
    item.last_error = ""
    item.notes = found.summary()[:4000]
    item.last_success_at = now
    item.expanded_until = until


async def due_for_refresh(session: AsyncSession, url_every: timedelta) -> list[int]:
    """Claim the calendars due for reading: URLs every ``url_every``, uploads once a day (the
    horizon rolls). Claiming stamps ``last_attempt_at`` under ``SKIP LOCKED``, so however many
    sweeps run, each calendar is queued once per period."""
    now = datetime.now(UTC)
    due = (
        select(ExternalCalendar.id)
        .where(
            or_(
                ExternalCalendar.last_attempt_at.is_(None),
                and_(
                    ExternalCalendar.source == "url",
                    ExternalCalendar.last_attempt_at < now - url_every,
                ),
                and_(
                    ExternalCalendar.source == "upload",
                    ExternalCalendar.ics_data.is_not(None),
                    ExternalCalendar.last_attempt_at < now - UPLOAD_REREAD,
                ),
            ),
            # A new calendar's first read is queued by the request that added it.
            ExternalCalendar.created_at < now - timedelta(minutes=5),
        )
        .order_by(ExternalCalendar.last_attempt_at.nulls_first())
        .limit(REFRESH_BATCH)
        .with_for_update(skip_locked=True)
    )
    claimed = await session.scalars(
        update(ExternalCalendar)
        .where(ExternalCalendar.id.in_(due.scalar_subquery()))
        .values(last_attempt_at=now)
        .returning(ExternalCalendar.id)
    )
    return list(claimed)
