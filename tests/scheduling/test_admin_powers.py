"""Admins refund and moderate; they never act as a lesson's student or tutor (API and pages)."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from tests.helpers import PASSWORD, fetch_sql
from tests.scheduling.helpers import account, approved_tutor, book, iso, local_slot, student

PARTICIPANT_EVENTS = ("student_no_show", "tutor_no_show", "dispute", "waive_fee")


def _confirmed_lesson(client: TestClient[Any]) -> tuple[int, dict[str, str], dict[str, str]]:
    tutor_id, _ = approved_tutor(client)
    _, me = student(client)
    held = book(client, me, tutor_id, local_slot("Europe/Berlin", 5, 10))
    assert held.status_code == 201, held.text
    admin = account(client, "admin")
    confirmed = client.post(
        f"/api/v1/bookings/{held.json()['id']}/events", json={"event": "confirm"}, headers=admin
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    return held.json()["id"], me, admin


def _transitions(client: TestClient[Any], booking_id: int) -> list[str]:
    rows = fetch_sql(
        client,
        "SELECT event FROM booking_transitions WHERE booking_id = $1 ORDER BY id",
        booking_id,
    )
    return [r["event"] for r in rows]


def test_admin_cannot_cancel_reschedule_or_claim_for_a_participant(
    client: TestClient[Any],
) -> None:
    booking_id, me, admin = _confirmed_lesson(client)
    before = _transitions(client, booking_id)
    base = f"/api/v1/bookings/{booking_id}"

    assert client.get(base, headers=admin).status_code == 200  # reading is moderation
    quote = client.get(f"{base}/refund-quote", headers=admin)
    assert quote.status_code == 403 and quote.json()["code"] == "actor_not_allowed"
    cancel = client.post(f"{base}/cancel", json={"reason": "admin"}, headers=admin)
    assert cancel.status_code == 403 and cancel.json()["code"] == "actor_not_allowed"
    for event in PARTICIPANT_EVENTS:
        r = client.post(f"{base}/events", json={"event": event}, headers=admin)
        assert r.status_code == 403, (event, r.text)
        assert r.json()["code"] == "actor_not_allowed"
    moved = local_slot("Europe/Berlin", 6, 11)
    propose = client.post(f"{base}/reschedule", json={"starts_at": iso(moved)}, headers=admin)
    assert propose.status_code == 403 and propose.json()["code"] == "actor_not_allowed"

    # The student proposes; the admin may neither accept nor decline it for the tutor.
    proposed = client.post(f"{base}/reschedule", json={"starts_at": iso(moved)}, headers=me)
    assert proposed.status_code == 201, proposed.text
    request_id = proposed.json()["reschedule"]["id"]
    for answer in ("accept", "decline"):
        r = client.post(f"{base}/reschedule/{request_id}/{answer}", headers=admin)
        assert r.status_code == 403 and r.json()["code"] == "actor_not_allowed"

    after = client.get(base, headers=me).json()
    assert after["status"] == "confirmed" and after["reschedule"]["status"] == "pending"
    assert _transitions(client, booking_id) == before


def test_admin_keeps_the_decisions_that_are_theirs(client: TestClient[Any]) -> None:
    booking_id, _, admin = _confirmed_lesson(client)
    # Completing early is not possible for anyone; the refusal is about time, not the actor.
    early = client.post(
        f"/api/v1/bookings/{booking_id}/events", json={"event": "complete"}, headers=admin
    )
    assert early.status_code == 409 and early.json()["code"] == "too_early"
    assert _transitions(client, booking_id)[-1] == "confirm"


def _page_login(client: TestClient[Any], headers: dict[str, str]) -> str:
    email = client.get("/api/v1/me", headers=headers).json()["email"]
    token = _csrf(client, "/login")
    r = client.post(
        "/login",
        data={"_csrf_token": token, "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return email


def _csrf(client: TestClient[Any], path: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, path
    return match.group(1)


def test_admin_lesson_page_reads_but_offers_and_accepts_no_participant_action(
    client: TestClient[Any],
) -> None:
    booking_id, _, admin = _confirmed_lesson(client)
    _page_login(client, admin)
    page = client.get(f"/lessons/{booking_id}")
    assert page.status_code == 200
    assert 'data-testid="admin-view"' in page.text
    assert f'action="/lessons/{booking_id}/cancel"' not in page.text
    assert f'action="/lessons/{booking_id}/reschedule"' not in page.text

    token = _csrf(client, f"/lessons/{booking_id}")
    cancel = client.post(
        f"/lessons/{booking_id}/cancel", data={"_csrf_token": token, "reason": "x"}
    )
    assert cancel.status_code == 403
    move = client.post(
        f"/lessons/{booking_id}/reschedule",
        data={"_csrf_token": token, "starts_at": "2030-01-01T10:00"},
    )
    assert move.status_code == 403
    status = fetch_sql(client, "SELECT status FROM bookings WHERE id = $1", booking_id)
    assert status[0]["status"] == "confirmed"
