"""Pages render for each role, in the viewer's time zone with the zone named."""

from __future__ import annotations

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
