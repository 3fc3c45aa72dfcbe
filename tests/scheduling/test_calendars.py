"""iCalendar out (feeds, per-lesson files) and in (uploads, URLs fetched by a job)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from litestar.testing import TestClient

from marketplace.tasks import DramatiqQueue
from scheduling import calendars, ics_fetch
from scheduling.ics_reader import CalendarUnreadable, ReadLimits, read_busy
from tests.conftest import run_jobs
from tests.scheduling.helpers import approved_tutor, book, local_slot, student

BERLIN = "Europe/Berlin"


def _events(body: bytes) -> list[Any]:
    cal = icalendar.Calendar.from_ical(body)
    return list(cal.walk("VEVENT"))


def test_private_feed_has_stable_uids_sequence_status_and_vtimezone(
    client: TestClient[Any],
) -> None:
    tutor_id, tutor = approved_tutor(client)
    _, me = student(client, "America/New_York")
    first = book(client, me, tutor_id, local_slot(BERLIN, 3, 10)).json()
    second = book(client, me, tutor_id, local_slot(BERLIN, 4, 10)).json()
    created = client.post("/api/v1/me/calendar-feed", headers=tutor)
    assert created.status_code == 201
    url = created.json()["url"]
    path = url.split("127.0.0.1:8000", 1)[1]
    before = client.get(path)
    assert before.status_code == 200
    assert before.headers["content-type"] == "text/calendar; charset=utf-8"
    cal = icalendar.Calendar.from_ical(before.content)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == [BERLIN]
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert len(events) == 2 and all(str(e["STATUS"]) == "TENTATIVE" for e in events.values())
    uid = next(
        u
        for u, e in events.items()
        if e["DTSTART"].dt == datetime.fromisoformat(first["starts_at"])
    )
    assert events[uid]["DTSTART"].dt.tzinfo.key == BERLIN  # type: ignore[union-attr]
    # Cancel one: same UID, higher SEQUENCE, STATUS:CANCELLED.
    assert (
        client.post(f"/api/v1/bookings/{first['id']}/cancel", json={}, headers=me).status_code
        == 200
    )
    after = {str(e["UID"]): e for e in _events(client.get(path).content)}
    assert set(after) == set(events)
    assert str(after[uid]["STATUS"]) == "CANCELLED"
    assert int(after[uid]["SEQUENCE"]) > int(events[uid]["SEQUENCE"])
    # recurring-ical-events reads it back: the live lesson is in its week.
    start = datetime.fromisoformat(second["starts_at"])
    found = recurring_ical_events.of(
        icalendar.Calendar.from_ical(client.get(path).content)
    ).between(start - timedelta(hours=1), start + timedelta(hours=2))
    assert [e["DTSTART"].dt for e in found] == [start]
    # The student's own feed shows the same lessons in New York time.
    student_feed = (
        client.post("/api/v1/me/calendar-feed", headers=me).json()["url"].split("8000", 1)[1]
    )
    student_cal = icalendar.Calendar.from_ical(client.get(student_feed).content)
    assert [tz["TZID"] for tz in student_cal.walk("VTIMEZONE")] == ["America/New_York"]
    # Rotating revokes the old address; revoking ends the feed.
    rotated = (
        client.post("/api/v1/me/calendar-feed", headers=tutor).json()["url"].split("8000", 1)[1]
    )
    assert client.get(path).status_code == 404
    assert client.delete("/api/v1/me/calendar-feed", headers=tutor).status_code == 204
    assert client.get(rotated).status_code == 404


def test_one_lesson_as_ics(client: TestClient[Any]) -> None:
    tutor_id, _ = approved_tutor(client)
    _, me = student(client, "Australia/Sydney")
    booking = book(client, me, tutor_id, local_slot(BERLIN, 3, 10)).json()
    response = client.get(f"/api/v1/bookings/{booking['id']}/calendar.ics", headers=me)
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    (event,) = _events(response.content)
    assert event["DTSTART"].dt == datetime.fromisoformat(booking["starts_at"])
    assert event["DTSTART"].dt.tzinfo.key == "Australia/Sydney"
    assert (
        client.get(
            f"/api/v1/bookings/{booking['id']}/calendar.ics", headers=student(client)[1]
        ).status_code
        == 404
    )


def realistic_export(zone: str = BERLIN) -> bytes:
    """A Google-style export: X-WR-TIMEZONE, a weekly series with a moved and a cancelled
    occurrence, an all-day event, a transparent ("free") event and a cancelled event."""
    monday = datetime.now(ZoneInfo(zone)).date() - timedelta(
        days=datetime.now(ZoneInfo(zone)).weekday()
    )
    d = monday + timedelta(days=7)
    fmt = "%Y%m%d"
    return f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Google Inc//Google Calendar 70.9054//EN
X-WR-CALNAME:Ana private
X-WR-TIMEZONE:{zone}
BEGIN:VEVENT
UID:orchestra@example.com
DTSTART:{d:{fmt}}T170000Z
DTEND:{d:{fmt}}T190000Z
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE:{(d + timedelta(days=14)):{fmt}}T170000Z
SUMMARY:Orchestra rehearsal
END:VEVENT
BEGIN:VEVENT
UID:orchestra@example.com
RECURRENCE-ID:{(d + timedelta(days=7)):{fmt}}T170000Z
DTSTART:{(d + timedelta(days=8)):{fmt}}T080000Z
DTEND:{(d + timedelta(days=8)):{fmt}}T090000Z
SUMMARY:Orchestra rehearsal (moved)
END:VEVENT
BEGIN:VEVENT
UID:holiday@example.com
DTSTART;VALUE=DATE:{(d + timedelta(days=2)):{fmt}}
DTEND;VALUE=DATE:{(d + timedelta(days=3)):{fmt}}
SUMMARY:Family day
END:VEVENT
BEGIN:VEVENT
UID:free@example.com
DTSTART:{(d + timedelta(days=3)):{fmt}}T100000Z
DTEND:{(d + timedelta(days=3)):{fmt}}T110000Z
TRANSP:TRANSPARENT
SUMMARY:Reminder only
END:VEVENT
BEGIN:VEVENT
UID:cancelled@example.com
DTSTART:{(d + timedelta(days=4)):{fmt}}T100000Z
DTEND:{(d + timedelta(days=4)):{fmt}}T110000Z
STATUS:CANCELLED
SUMMARY:Called off
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n").encode()


def test_parse_busy_handles_recurrence_exceptions_and_all_day_events() -> None:
    now = datetime.now(UTC)
    busy = read_busy(
        realistic_export(), BERLIN, now - timedelta(days=1), now + timedelta(days=90), ReadLimits()
    ).intervals
    monday = datetime.now(ZoneInfo(BERLIN)).date()
    monday -= timedelta(days=monday.weekday())
    d = monday + timedelta(days=7)
    rehearsals = [s for s, e in busy if e - s == timedelta(hours=2)]
    expected = [
        datetime.combine(d + timedelta(weeks=w), datetime.min.time(), UTC) + timedelta(hours=17)
        for w in (0, 3, 4, 5)
    ]
    assert rehearsals == expected  # week 2 excluded, week 1 moved
    moved = datetime.combine(d + timedelta(days=8), datetime.min.time(), UTC) + timedelta(hours=8)
    assert (moved, moved + timedelta(hours=1)) in busy
    day = datetime.combine(d + timedelta(days=2), datetime.min.time(), ZoneInfo(BERLIN))
    assert (day.astimezone(UTC), (day + timedelta(days=1)).astimezone(UTC)) in busy
    assert len(busy) == 4 + 1 + 1  # the free and the cancelled events are not busy
    with pytest.raises(CalendarUnreadable):
        read_busy(b"not a calendar", BERLIN, now, now + timedelta(days=1), ReadLimits())


def test_uploaded_calendar_blocks_slots(client: TestClient[Any], queue: DramatiqQueue) -> None:
    tutor_id, tutor = approved_tutor(client, rules={"booking_window_days": 90})
    upload = client.post(
        "/api/v1/tutors/me/calendars/upload",
        files={"data": ("google.ics", realistic_export(), "text/calendar")},
        headers=tutor,
    )
    assert upload.status_code == 202, upload.text
    assert upload.json()["status"] == "pending"
    assert upload.headers["location"] == f"/api/v1/tutors/me/calendars/{upload.json()['id']}"
    run_jobs(queue)
    polled = client.get(upload.headers["location"], headers=tutor).json()
    assert polled["busy_count"] == 6 and polled["status"] == "ok"
    monday = datetime.now(ZoneInfo(BERLIN)).date()
    monday -= timedelta(days=monday.weekday())
    rehearsal = datetime.combine(monday + timedelta(days=7), datetime.min.time(), UTC) + timedelta(
        hours=17
    )
    _, me = student(client)
    refused = book(client, me, tutor_id, rehearsal)
    assert refused.status_code == 422 and refused.json()["code"] == "busy"
    bad = client.post(
        "/api/v1/tutors/me/calendars/upload",
        files={"data": ("x.ics", b"garbage", "text/calendar")},
        headers=tutor,
    )
    assert bad.status_code == 422


class _Feed(BaseHTTPRequestHandler):
    body: bytes = b""
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "text/calendar")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ics_server() -> Iterator[tuple[str, type[_Feed]]]:
    handler = type("Feed", (_Feed,), {"body": realistic_export(), "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/calendar.ics", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def private_ok(settings: Any) -> Any:
    from dataclasses import replace

    return replace(
        settings, scheduling=replace(settings.scheduling, calendar_allow_private_hosts=True)
    )


def test_url_calendar_is_fetched_and_keeps_last_good_busy_times(
    private_ok: Any, ics_server: tuple[str, type[_Feed]]
) -> None:
    from marketplace.app import build_queue, create_app
    from marketplace.tasks import build_broker

    queue: DramatiqQueue = build_queue(private_ok, build_broker(None))
    with TestClient(
        create_app(private_ok, queue=queue), base_url="http://127.0.0.1:8000"
    ) as client:
        _, tutor = approved_tutor(client)
        url, handler = ics_server
        added = client.post(
            "/api/v1/tutors/me/calendars", json={"name": "Google", "url": url}, headers=tutor
        )
        assert added.status_code == 202 and added.json()["status"] == "pending"
        run_jobs(queue)
        (item,) = client.get("/api/v1/tutors/me/calendars", headers=tutor).json()
        assert item["status"] == "ok" and item["busy_count"] == 6
        handler.status = 503
        handler.body = b"down"
        assert (
            client.post(
                f"/api/v1/tutors/me/calendars/{item['id']}/refresh", headers=tutor
            ).status_code
            == 202
        )
        run_jobs(queue)
        (failing,) = client.get("/api/v1/tutors/me/calendars", headers=tutor).json()
        assert failing["status"] == "failing" and "503" in failing["last_error"]
        assert failing["busy_count"] == 6  # the last good busy times stay


def test_private_addresses_are_refused_by_default() -> None:
    with pytest.raises(OSError):
        asyncio.run(
            ics_fetch.fetch(
                "http://127.0.0.1/x.ics", timeout_s=2, max_bytes=100, guard=ics_fetch.AddressGuard()
            )
        )
    with pytest.raises(Exception):  # noqa: B017 - ValidationFailed
        calendars.normalise_url("file:///etc/passwd")
    assert calendars.normalise_url("webcal://cal.example/a.ics") == "https://cal.example/a.ics"
