"""Offline recipients: an in-app line always, an SMS at most once per quiet period, and never
the text of a private conversation."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import TestClient

from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.helpers import confirm_phone, run_sql
from tests.marketplace.messaging.helpers import conversation, send
from tests.scheduling.helpers import sql

PHONE = "+442079460123"


def _sms(client: TestClient[Any]) -> list[Any]:
    return [dict(r) for r in sql(client, "SELECT body, status FROM sms_messages ORDER BY id")]


def _with_phone(client: TestClient[Any], headers: dict[str, str]) -> None:
    """The student confirms a mobile number; the confirmation text itself is not counted."""
    confirm_phone(client, headers, PHONE)
    run_sql(client, "DELETE FROM sms_messages")


def test_offline_student_gets_one_sms_per_quiet_period(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    cid, _, tutor, student_id, student = conversation(client)
    _with_phone(client, student)
    run_jobs(queue)  # the student's own first message notified the (offline) tutor in-app
    for text in ["Yes, I teach adults!", "We start by ear.", "See you soon."]:
        assert send(client, tutor, cid, text).status_code == 201
        run_jobs(queue)
    sms = _sms(client)
    assert len(sms) == 1
    assert sms[0]["status"] == "outbox"
    assert "Yes, I teach adults!" in sms[0]["body"]
    assert f"/messages/{cid}" in sms[0]["body"]
    # One in-app line for the conversation, kept up to date.
    notes = client.get("/api/v1/me/notifications", headers=student).json()
    lines = [n for n in notes["items"] if n["link"] == f"/messages/{cid}"]
    assert len(lines) == 1
    assert lines[0]["title"].startswith("3 new messages from")
    assert lines[0]["body"] == "See you soon."
    # After the quiet period, the next message texts again.
    run_sql(
        client,
        "UPDATE conversation_participants SET sms_sent_at = now() - interval '61 minutes' "
        "WHERE user_id = $1",
        student_id,
    )
    send(client, tutor, cid, "Bring your own headphones.")
    run_jobs(queue)
    assert len(_sms(client)) == 2
    # Running a job twice adds nothing.
    last = sql(client, "SELECT max(id) AS id FROM messages")[0]["id"]
    queue.enqueue("messaging.notify_offline", last)
    run_jobs(queue)
    assert len(_sms(client)) == 2


def test_private_conversations_never_leave_their_text(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    cid, _, tutor, _, student = conversation(client)
    _with_phone(client, student)
    client.put(f"/api/v1/conversations/{cid}/privacy", json={"private": True}, headers=student)
    send(client, tutor, cid, "My secret practice plan")
    run_jobs(queue)
    sms = _sms(client)
    assert len(sms) == 1
    assert "secret" not in sms[0]["body"]
    assert "sent you a message" in sms[0]["body"]
    notes = client.get("/api/v1/me/notifications", headers=student).json()["items"]
    assert all("secret" not in n["body"] and "secret" not in n["title"] for n in notes)
    assert any(n["link"] == f"/messages/{cid}" for n in notes)


def test_a_connected_recipient_is_not_notified(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    cid, _, tutor, _, student = conversation(client)
    _with_phone(client, student)
    run_jobs(queue)
    with client.websocket_connect("/ws/messages", headers=student) as ws:
        json.loads(ws.receive_text(timeout=5))  # hello: the student is online
        send(client, tutor, cid, "Are you there?")
        run_jobs(queue)
    assert _sms(client) == []
    notes = client.get("/api/v1/me/notifications", headers=student).json()["items"]
    assert [n for n in notes if n["link"] == f"/messages/{cid}"] == []


def test_a_message_already_read_is_not_notified(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    cid, _, tutor, _, student = conversation(client)
    _with_phone(client, student)
    run_jobs(queue)
    send(client, tutor, cid, "Quick one")
    client.post(f"/api/v1/conversations/{cid}/read", json={}, headers=student)
    run_jobs(queue)
    assert _sms(client) == []


def test_reading_the_conversation_reads_its_notification(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    cid, _, tutor, _, student = conversation(client)
    send(client, tutor, cid, "Hello from your tutor")
    run_jobs(queue)
    unread = client.get("/api/v1/me/notifications", headers=student).json()["unread"]
    assert unread == 1
    client.post(f"/api/v1/conversations/{cid}/read", json={}, headers=student)
    assert client.get("/api/v1/me/notifications", headers=student).json()["unread"] == 0
