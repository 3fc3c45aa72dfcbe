"""Blocking (messages and bookings), rate limits, contact-detail reminders, reports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.app import create_app
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from tests.helpers import account
from tests.marketplace.messaging.helpers import conversation, pair, send, start
from tests.scheduling.helpers import book, local_slot


def test_blocking_stops_messages_and_bookings_both_ways(client: TestClient[Any]) -> None:
    cid, tutor_id, tutor, student_id, student = conversation(client)
    assert (
        client.post("/api/v1/me/blocks", json={"user_id": student_id}, headers=tutor).status_code
        == 204
    )
    assert (
        client.post("/api/v1/me/blocks", json={"user_id": student_id}, headers=tutor).status_code
        == 204
    )
    for headers in (tutor, student):
        refused = send(client, headers, cid, "hello?")
        assert refused.status_code == 403
        assert refused.json()["code"] == "blocked"
    again = start(client, student, tutor_id, "Please answer")
    assert again.status_code == 403 and again.json()["code"] == "blocked"
    # Blocked pairs cannot book each other either (scheduling asks the kernel).
    hold = book(client, student, tutor_id, local_slot("Europe/Berlin", 3, 10))
    assert hold.status_code == 403, hold.text
    assert hold.json()["code"] == "blocked"
    # Both still read the history; the thread says it is blocked.
    shown = client.get(f"/api/v1/conversations/{cid}", headers=student).json()
    assert shown["blocked"] is True and shown["blocked_by_me"] is False
    assert client.get("/api/v1/me/blocks", headers=tutor).json()[0]["user_id"] == student_id
    # Only the one who blocked can lift it.
    assert client.delete(f"/api/v1/me/blocks/{tutor_id}", headers=student).status_code == 404
    assert client.delete(f"/api/v1/me/blocks/{student_id}", headers=tutor).status_code == 204
    assert send(client, student, cid, "Thanks").status_code == 201
    assert book(client, student, tutor_id, local_slot("Europe/Berlin", 3, 10)).status_code == 201
    assert (
        client.post("/api/v1/me/blocks", json={"user_id": tutor_id}, headers=tutor).status_code
        == 422
    )


@pytest.fixture
def strict_client(settings: Settings, queue: DramatiqQueue) -> Iterator[TestClient[Any]]:
    strict = replace(
        settings,
        messaging=replace(settings.messaging, messages_per_minute=3, new_conversations_per_day=1),
    )
    with TestClient(create_app(strict, queue=queue), base_url="http://127.0.0.1:8000") as c:
        yield c


def test_rate_limits_on_messages_and_new_conversations(strict_client: TestClient[Any]) -> None:
    client = strict_client
    cid, _, tutor, _, student = conversation(client)  # message 1 of 3, conversation 1 of 1
    assert send(client, student, cid, "two").status_code == 201
    assert send(client, student, cid, "three").status_code == 201
    limited = send(client, student, cid, "four")
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    # The other side has its own allowance.
    assert send(client, tutor, cid, "answer").status_code == 201
    # A second new conversation the same day is refused, and nothing is left behind.
    other_tutor, _, _, fresh = pair(client)
    assert start(client, fresh, other_tutor, "hi").status_code == 201
    second_tutor, _, _, _ = pair(client)
    refused = start(client, fresh, second_tutor, "hi too")
    assert refused.status_code == 429
    assert len(client.get("/api/v1/conversations", headers=fresh).json()["items"]) == 1


def test_contact_details_before_the_first_booking_are_flagged_not_removed(
    client: TestClient[Any],
) -> None:
    cid, tutor_id, tutor, _, student = conversation(client)
    flagged = send(client, student, cid, "Text me on +351 912 345 678 or WhatsApp").json()
    assert flagged["body"] == "Text me on +351 912 345 678 or WhatsApp"
    assert flagged["contact_flags"] == ["messenger", "phone"]
    assert (
        send(client, student, cid, "Lesson on 2026-05-04 at 17:00?").json()["contact_flags"] == []
    )
    page = client.get(f"/messages/{cid}", headers=tutor)
    assert "shares contact details" in page.text
    assert "shares contact details" not in client.get(f"/messages/{cid}", headers=student).text
    # After a confirmed booking, sharing details is nothing to remind anyone of.
    hold = book(client, student, tutor_id, local_slot("Europe/Berlin", 3, 10))
    assert hold.status_code == 201, hold.text
    booking_id = hold.json()["id"]
    admin = account(client, "admin")
    confirmed = client.post(
        f"/api/v1/bookings/{booking_id}/events", json={"event": "confirm"}, headers=admin
    )
    assert confirmed.status_code == 200, confirmed.text
    later = send(client, student, cid, "My e-mail is olivia@example.com", booking_id=booking_id)
    assert later.status_code == 201
    assert later.json()["contact_flags"] == []
    assert later.json()["booking"]["id"] == booking_id
    # A booking of someone else cannot be attached.
    assert send(client, student, cid, "x", booking_id=booking_id + 999).status_code == 422


def test_reports_reach_admins_who_may_then_read_the_conversation(
    client: TestClient[Any],
) -> None:
    cid, _, tutor, _, student = conversation(client)
    offending = send(client, tutor, cid, "Pay me in cash, outside Duet").json()
    admin = account(client, "admin")
    assert client.get(f"/api/v1/conversations/{cid}/messages", headers=admin).status_code == 404
    # Reporting needs a known reason; one's own messages cannot be reported.
    bad = client.post(
        f"/api/v1/messages/{offending['id']}/report", json={"reason": "meh"}, headers=student
    )
    assert bad.status_code == 422
    own = client.post(
        f"/api/v1/messages/{offending['id']}/report", json={"reason": "spam"}, headers=tutor
    )
    assert own.status_code == 422
    filed = client.post(
        f"/api/v1/messages/{offending['id']}/report",
        json={"reason": "off_platform_payment", "details": "Asked for cash"},
        headers=student,
    )
    assert filed.status_code == 201, filed.text
    queue = client.get("/api/v1/admin/reports", headers=admin).json()
    assert len(queue) == 1
    assert queue[0]["excerpt"] == "Pay me in cash, outside Duet"
    assert queue[0]["link"].startswith(f"/messages/{cid}")
    assert client.get("/api/v1/admin/reports", headers=student).status_code == 403
    queue_page = client.get("/admin/reports", headers=admin).text
    assert "Pay me in cash, outside Duet" in queue_page and "Asks to pay outside Duet" in queue_page
    tutor_email = client.get("/api/v1/me", headers=tutor).json()["email"]
    assert f"Written by {tutor_email}" in queue_page
    # While the report is open, the admin can read (not write) the conversation.
    read = client.get(f"/api/v1/conversations/{cid}/messages", headers=admin)
    assert read.status_code == 200
    assert len(read.json()["items"]) == 2
    assert "report about it is open" in client.get(f"/messages/{cid}", headers=admin).text
    assert send(client, admin, cid, "admin here").status_code == 404
    handled = client.post(
        f"/api/v1/admin/reports/{queue[0]['id']}/handle",
        json={"outcome": "resolved", "note": "Warned the tutor"},
        headers=admin,
    )
    assert handled.status_code == 200 and handled.json()["status"] == "resolved"
    again = client.post(
        f"/api/v1/admin/reports/{queue[0]['id']}/handle",
        json={"outcome": "dismissed"},
        headers=admin,
    )
    assert again.status_code == 409
    # Once handled, the conversation is private again.
    assert client.get(f"/api/v1/conversations/{cid}/messages", headers=admin).status_code == 404
