"""Pages render for each role, in the viewer's time zone with the zone named."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar.testing import TestClient

from tests.scheduling.helpers import approved_tutor, book, local_slot, student

BERLIN = "Europe/Berlin"


def test_slot_picker_shows_times_in_the_viewer_zone(client: TestClient[Any]) -> None:
    tutor_id, _ = approved_tutor(
        client, windows=[(d, "17:00", "18:00") for d in ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]]
    )
    profile = client.get(f"/tutors/{tutor_id}")
    assert profile.status_code == 200 and f"/tutors/{tutor_id}/book" in profile.text
    _, ny = student(client, "America/New_York")
    html = client.get(f"/tutors/{tutor_id}/book?duration=60", headers=ny).text
    assert "America/New York (E" in html  # EST or EDT, named
    shown = set(re.findall(r'class="slot">(\d\d:\d\d)<', html))
    expected = {
        local_slot(BERLIN, d, 17).astimezone(ZoneInfo("America/New_York")).strftime("%H:%M")
        for d in range(0, 8)
    }
    assert shown and shown <= expected
    anonymous = client.get(f"/tutors/{tutor_id}/book?duration=60&tz=Asia/Tokyo").text
    assert "Asia/Tokyo (JST)" in anonymous and "Log in" in anonymous


def test_lessons_pages_and_editor_render(client: TestClient[Any]) -> None:
    tutor_id, tutor = approved_tutor(client)
    _, me = student(client, "Australia/Sydney")
    booking = book(client, me, tutor_id, local_slot(BERLIN, 3, 10)).json()
    lessons = client.get("/lessons", headers=me)
    assert lessons.status_code == 200 and f"/lessons/{booking['id']}" in lessons.text
    detail = client.get(f"/lessons/{booking['id']}", headers=me).text
    assert "Australia/Sydney" in detail and "Held for you until" in detail
    assert client.get(f"/lessons/{booking['id']}", headers=student(client)[1]).status_code == 404
    editor = client.get("/tutor/availability", headers=tutor)
    assert editor.status_code == 200 and 'name="MO_0_start" value="09:00"' in editor.text
    assert client.get("/tutor/availability", headers=me).status_code == 403
    settings = client.get("/account/calendar", headers=tutor)
    assert settings.status_code == 200 and "Busy times from your own calendar" in settings.text
    assert client.get("/notifications", headers=me).status_code == 200
    assert datetime.now(UTC) < datetime.fromisoformat(booking["hold_expires_at"]) + timedelta(
        minutes=1
    )


def _form_post(
    client: TestClient[Any], path: str, headers: dict[str, str], form_page: str, **data: str
) -> Any:
    html = client.get(form_page, headers=headers).text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert token, html[:500]
    return client.post(
        path, data={"_csrf_token": token.group(1), **data}, headers=headers, follow_redirects=False
    )


def test_reschedule_offers_the_tutors_open_times_and_says_each_problem_once(
    client: TestClient[Any],
) -> None:
    tutor_id, _ = approved_tutor(client, rules={"min_notice_minutes": 120})
    _, me = student(client, BERLIN)
    booking = book(client, me, tutor_id, local_slot(BERLIN, 3, 10)).json()
    path = f"/lessons/{booking['id']}/reschedule"
    picker = client.get(path, headers=me)
    assert picker.status_code == 200 and picker.headers["content-type"].startswith("text/html")
    offered = re.findall(r'name="starts_at" value="([^"]+)"', picker.text)
    assert offered and booking["starts_at"] not in offered
    assert 'type="datetime-local"' not in picker.text

    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    refused = _form_post(client, path, me, path, starts_at=past)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/html")
    assert refused.text.count("That time has already passed.") == 1
    assert "notice" not in refused.text.split('role="alert"')[1].split("</p>")[0]
    soon = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    too_soon = _form_post(client, path, me, path, starts_at=soon)
    assert html.unescape(too_soon.text).count("needs at least 2 hours' notice") == 1

    moved = _form_post(client, path, me, path, starts_at=offered[3])
    assert moved.status_code == 303 and moved.headers["location"].endswith("reschedule_requested")


def test_cancelling_asks_first_and_shows_the_refund(client: TestClient[Any]) -> None:
    tutor_id, tutor = approved_tutor(client)
    _, me = student(client, BERLIN)
    booking = book(client, me, tutor_id, local_slot(BERLIN, 3, 10)).json()
    lesson = client.get(f"/lessons/{booking['id']}", headers=me).text
    assert f'href="/lessons/{booking["id"]}/cancel"' in lesson
    assert f'action="/lessons/{booking["id"]}/cancel"' not in lesson  # no one-click cancel
    confirm = client.get(f"/lessons/{booking['id']}/cancel", headers=me)
    assert confirm.status_code == 200 and "Yes, cancel the lesson" in confirm.text
    assert "nothing yet (the time is only held)" in confirm.text
    assert client.get(f"/api/v1/bookings/{booking['id']}", headers=me).json()["status"] == "held"
    tutor_view = client.get(f"/lessons/{booking['id']}/cancel", headers=tutor).text
    assert "is told at once" in tutor_view
    _, stranger = student(client)
    assert client.get(f"/lessons/{booking['id']}/cancel", headers=stranger).status_code == 404
