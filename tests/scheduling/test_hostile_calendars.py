"""Hostile calendars never hurt other users: the web answers at once, the worker stays bounded;
URL fetches cannot be redirected into our network; uploads roll their horizon forward; real
exports from Google, Outlook and Apple still import."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from marketplace.tasks import DramatiqQueue
from scheduling import calendars, ics_fetch, jobs
from scheduling.ics_reader import ReadLimits, read_busy
from tests.browser.conftest import live_server  # noqa: F401 - a fixture used below
from tests.conftest import run_jobs
from tests.scheduling.helpers import approved_tutor

FIXTURES = Path(__file__).parent / "fixtures"
UPLOAD = "/api/v1/tutors/me/calendars/upload"


def _ics(*events: str, head: str = "") -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{head}{body}END:VCALENDAR\r\n"
    ).encode()


# A day a week from now, so the samples stay inside the import horizon whenever tests run.
SOON = f"{datetime.now(UTC) + timedelta(days=7):%Y%m%d}"

MINUTELY = _ics(
    "UID:every-minute@x\r\nSUMMARY:Every minute\r\nDTSTART:20260101T000000Z\r\n"
    "DURATION:PT1M\r\nRRULE:FREQ=MINUTELY"
)
NO_DTSTART = _ics(
    "UID:no-start@x\r\nSUMMARY:Dentist\r\nDURATION:PT1H",
    f"UID:fine@x\r\nSUMMARY:Fine\r\nDTSTART:{SOON}T100000Z\r\nDTEND:{SOON}T110000Z",
)
UNKNOWN_ZONE = _ics(
    f"UID:floating@x\r\nSUMMARY:Floating\r\nDTSTART:{SOON}T100000\r\nDTEND:{SOON}T110000",
    head="X-WR-TIMEZONE:Mars/Olympus\r\n",
)
HUGE_LINE = _ics(
    f"UID:long@x\r\nSUMMARY:Long\r\nDTSTART:{SOON}T100000Z\r\nDTEND:{SOON}T110000Z\r\n"
    "DESCRIPTION:" + "x" * 3_000_000
)


def many_events(count: int) -> bytes:
    start = datetime(2027, 1, 1, tzinfo=UTC)
    return _ics(
        *(
            f"UID:event-{i}@x\r\nSUMMARY:Event {i}\r\n"
            f"DTSTART:{start + timedelta(hours=i):%Y%m%dT%H%M%SZ}\r\n"
            f"DTEND:{start + timedelta(hours=i, minutes=50):%Y%m%dT%H%M%SZ}\r\n"
            "DESCRIPTION:Rehearsal with the quartet"
            for i in range(count)
        )
    )


class _HealthProbe:
    """Polls /healthz from another thread and records the slowest answer and any failure."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.slowest = 0.0
        self.failures: list[str] = []
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    status = http.get(f"{self.base}/healthz").status_code
                    if status != 200:
                        self.failures.append(f"status {status}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.slowest = max(self.slowest, time.monotonic() - began)
                self.count += 1
                self._stop.wait(0.05)

    def __enter__(self) -> _HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_hostile_calendars_are_answered_at_once_and_healthz_keeps_answering(
    live_server: str,  # noqa: F811
    client: TestClient[Any],
    queue: DramatiqQueue,
) -> None:
    _, tutor = approved_tutor(client)
    hostile = {
        "minutely.ics": MINUTELY,
        "no-dtstart.ics": NO_DTSTART,
        "unknown-zone.ics": UNKNOWN_ZONE,
        "huge-line.ics": HUGE_LINE,
        "26000-events.ics": many_events(26_000),
    }
    answers: dict[str, httpx.Response] = {}
    with _HealthProbe(live_server) as probe, httpx.Client(timeout=10) as http:
        for name, data in hostile.items():
            began = time.monotonic()
            answers[name] = http.post(
                f"{live_server}{UPLOAD}",
                files={"data": (name, data, "text/calendar")},
                headers=tutor,
            )
            assert time.monotonic() - began < 2, name
        # The worker's share: every read bounded, the web still answering meanwhile.
        run_jobs(queue)
        outcome = {
            name: http.get(
                f"{live_server}/api/v1/tutors/me/calendars/{r.json()['id']}", headers=tutor
            ).json()
            for name, r in answers.items()
            if r.status_code == 202
        }
    assert probe.count > 0 and probe.failures == [] and probe.slowest < 2
    too_many = answers["26000-events.ics"]
    assert too_many.status_code == 422 and "26,000 events" in too_many.json()["fields"]["data"]
    assert outcome["minutely.ics"]["status"] == "failing"
    assert "every-minute@x" in outcome["minutely.ics"]["last_error"]
    assert "Every minute" in outcome["minutely.ics"]["last_error"]
    skipped = outcome["no-dtstart.ics"]
    assert skipped["status"] == "ok" and skipped["busy_count"] == 1
    assert "Dentist" in skipped["notes"] and "DTSTART" in skipped["notes"]
    zone = outcome["unknown-zone.ics"]
    assert zone["status"] == "ok" and zone["busy_count"] == 1 and "Mars/Olympus" in zone["notes"]
    assert outcome["huge-line.ics"]["status"] == "ok"
    assert outcome["huge-line.ics"]["busy_count"] == 1


def test_garbage_and_oversized_uploads_are_refused_at_once(client: TestClient[Any]) -> None:
    _, tutor = approved_tutor(client)
    for data in (b"garbage", b"\x00" * 100, b"BEGIN:VCALENDAR" + b"x" * (6 * 1024 * 1024)):
        refused = client.post(
            UPLOAD, files={"data": ("x.ics", data, "text/calendar")}, headers=tutor
        )
        assert refused.status_code == 422 and refused.json()["fields"]["data"]
    assert client.get("/api/v1/tutors/me/calendars", headers=tutor).json() == []


def test_a_rule_with_too_many_occurrences_is_refused_by_name() -> None:
    every_five_minutes = _ics(
        "UID:tricky@x\r\nSUMMARY:Tricky\r\nDTSTART:20261201T000000Z\r\nDURATION:PT1M\r\n"
        "RRULE:FREQ=HOURLY;BYMINUTE=0,5,10,15,20,25,30,35,40,45,50,55"
    )
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match=r"Tricky.*tricky@x.*2,000 occurrences"):
        read_busy(every_five_minutes, "UTC", now, now + timedelta(days=400), ReadLimits())


# ---------------------------------------------------------------- URL fetches


class _Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def redirect_server() -> Iterator[type[_Redirect]]:
    # 127.0.0.2 stands for a public host in these tests; 127.0.0.1 is what it must not reach.
    handler = type("Redirect", (_Redirect,), {})
    server = ThreadingHTTPServer(("127.0.0.2", 0), handler)
    handler.port = server.server_address[1]  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def _only(address: str) -> ics_fetch.AddressGuard:
    return ics_fetch.AddressGuard(allowed=lambda a: a == ip_address(address))


def test_a_redirect_to_loopback_is_refused(redirect_server: Any) -> None:
    redirect_server.target = "http://127.0.0.1:9/secret.ics"
    url = f"http://127.0.0.2:{redirect_server.port}/calendar.ics"
    with pytest.raises(ics_fetch.FetchRefused, match=r"non-public address \(127\.0\.0\.1\)"):
        asyncio.run(ics_fetch.fetch(url, timeout_s=5, max_bytes=1000, guard=_only("127.0.0.2")))
    redirect_server.target = url  # a loop: bounded hops
    with pytest.raises(ics_fetch.FetchRefused, match="redirects more than 5 times"):
        asyncio.run(ics_fetch.fetch(url, timeout_s=5, max_bytes=1000, guard=_only("127.0.0.2")))


def test_every_resolved_address_is_checked_and_the_checked_one_is_used() -> None:
    async def two_answers(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    guard = ics_fetch.AddressGuard(resolver=two_answers)
    with pytest.raises(ics_fetch.FetchRefused, match=r"10\.0\.0\.7"):
        asyncio.run(
            ics_fetch.fetch("https://cal.example/a.ics", timeout_s=5, max_bytes=1000, guard=guard)
        )

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"BEGIN:VCALENDAR")

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    body = asyncio.run(
        ics_fetch.fetch(
            "https://cal.example:8443/a.ics?x=1",
            timeout_s=5,
            max_bytes=1000,
            guard=ics_fetch.AddressGuard(resolver=public),
            transport=httpx.MockTransport(answer),
        )
    )
    assert body == b"BEGIN:VCALENDAR"
    (request,) = seen
    assert str(request.url) == "https://93.184.215.14:8443/a.ics?x=1"
    assert request.headers["host"] == "cal.example:8443"
    assert request.extensions["sni_hostname"] == "cal.example"


# ---------------------------------------------------------------- rolling horizon


def test_the_periodic_job_rolls_an_uploads_horizon_forward(
    client: TestClient[Any], queue: DramatiqQueue, database_url: str, monkeypatch: Any
) -> None:
    _, tutor = approved_tutor(client)
    forever = _ics(
        "UID:weekly@x\r\nSUMMARY:Orchestra\r\nDTSTART:20260105T170000Z\r\n"
        "DTEND:20260105T190000Z\r\nRRULE:FREQ=WEEKLY"
    )
    monkeypatch.setattr(calendars, "IMPORT_HORIZON", timedelta(days=30))
    added = client.post(
        UPLOAD, files={"data": ("o.ics", forever, "text/calendar")}, headers=tutor
    ).json()
    run_jobs(queue)
    first = client.get(f"/api/v1/tutors/me/calendars/{added['id']}", headers=tutor).json()
    assert 4 <= first["busy_count"] <= 6
    monkeypatch.setattr(calendars, "IMPORT_HORIZON", timedelta(days=400))

    async def age() -> None:
        engine = create_async_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE external_calendars SET last_attempt_at = now() - interval '2 days',"
                    " created_at = now() - interval '3 days'"
                )
            )
        await engine.dispose()

    asyncio.run(age())
    queue.enqueue(jobs.SWEEP_TASK)
    run_jobs(queue)
    rolled = client.get(f"/api/v1/tutors/me/calendars/{added['id']}", headers=tutor).json()
    assert rolled["busy_count"] >= 56
    assert datetime.fromisoformat(rolled["expanded_until"]) > datetime.fromisoformat(
        first["expanded_until"]
    ) + timedelta(days=300)
    # A second sweep right after queues nothing: the calendar was claimed for this period.
    queue.enqueue(jobs.SWEEP_TASK)
    run_jobs(queue)
    again = client.get(f"/api/v1/tutors/me/calendars/{added['id']}", headers=tutor).json()
    assert again["last_success_at"] == rolled["last_success_at"]


# ---------------------------------------------------------------- real exports


@pytest.mark.parametrize(
    ("name", "weekday", "local_start", "hours"),
    [("outlook.ics", 1, (19, 0), 2.0), ("apple.ics", 3, (14, 30), 1.5)],
)
def test_real_exports_import(
    name: str, weekday: int, local_start: tuple[int, int], hours: float
) -> None:
    now = datetime.now(UTC)
    found = read_busy(
        (FIXTURES / name).read_bytes(), "UTC", now, now + timedelta(days=60), ReadLimits()
    )
    assert found.skipped == []
    assert 8 <= len(found.intervals) <= 9  # weekly; the transparent Outlook series is free
    berlin = ZoneInfo("Europe/Berlin")
    for start, end in found.intervals:
        local = start.astimezone(berlin)
        assert (local.weekday(), (local.hour, local.minute)) == (weekday, local_start)
        assert end - start == timedelta(hours=hours)


def test_the_calendar_page_shows_reading_then_what_was_skipped(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    _, tutor = approved_tutor(client)
    client.post(UPLOAD, files={"data": ("mine.ics", NO_DTSTART, "text/calendar")}, headers=tutor)
    reading = client.get("/account/calendar", headers=tutor).text
    assert "being read" in reading and 'http-equiv="refresh"' in reading
    run_jobs(queue)
    done = client.get("/account/calendar", headers=tutor).text
    assert 'http-equiv="refresh"' not in done and "1 busy time" in done and "being read" not in done
    assert "Skipped “Dentist” (UID no-start@x): it has no start time (DTSTART)." in done
