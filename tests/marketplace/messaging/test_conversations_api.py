"""Conversations over the JSON API: who may write, numbering, unread counts, read receipts."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.helpers import account
from tests.marketplace.messaging.helpers import conversation, pair, send, start


def test_student_writes_to_a_tutor_and_the_thread_is_reused(client: TestClient[Any]) -> None:
    tutor_id, tutor, student_id, student = pair(client)
    first = start(client, student, tutor_id, "Do you teach **adults**?")
    assert first.status_code == 201, first.text
    body = first.json()
    cid = body["conversation"]["id"]
    assert body["conversation"]["student_id"] == student_id
    assert body["conversation"]["tutor_id"] == tutor_id
    assert body["message"]["seq"] == 1
    assert body["message"]["html"] == "<p>Do you teach <strong>adults</strong>?</p>"
    again = start(client, student, tutor_id, "And children?")
    assert again.status_code == 200
    assert again.json()["conversation"]["id"] == cid
    assert again.json()["message"]["seq"] == 2
    # The tutor answers in the same thread.
    reply = send(client, tutor, cid, "Yes, both!")
    assert reply.status_code == 201
    assert reply.json()["seq"] == 3
    listed = client.get("/api/v1/conversations", headers=tutor).json()
    assert [c["id"] for c in listed["items"]] == [cid]
    assert listed["items"][0]["other"]["id"] == student_id


def test_who_may_start_a_conversation(client: TestClient[Any]) -> None:
    _, tutor, student_id, student = pair(client)
    # A tutor cannot cold-message a student who never booked them.
    refused = start(client, tutor, student_id)
    assert refused.status_code == 403
    assert refused.json()["code"] == "cannot_message"
    # Nobody messages themselves, or someone who does not exist.
    own = start(client, student, student_id)
    assert own.status_code == 422
    assert "user_id" in own.json()["fields"]
    assert start(client, student, 999_999).status_code == 404
    # A tutor who is not public (draft) cannot be written to.
    draft = account(client, "tutor")
    draft_id = client.get("/api/v1/me", headers=draft).json()["id"]
    assert start(client, student, draft_id).status_code == 403
    assert client.get("/api/v1/conversations", headers=student).json()["items"] == []


def test_bad_messages_are_refused_and_nothing_is_stored(client: TestClient[Any]) -> None:
    cid, _, tutor, _, student = conversation(client)
    for body in ["", "   \n  "]:
        response = send(client, student, cid, body)
        assert response.status_code == 422, body
        assert response.json()["fields"]["body"]
    too_long = send(client, student, cid, "x" * 4001)
    assert too_long.status_code == 422
    assert too_long.json()["message"] == "The message is too long."
    wrong_type = client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": 5}, headers=student
    )
    assert wrong_type.status_code == 422
    unknown = client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": "x", "evil": 1}, headers=student
    )
    assert unknown.status_code == 422
    messages = client.get(f"/api/v1/conversations/{cid}/messages", headers=tutor).json()
    assert [m["seq"] for m in messages["items"]] == [1]


def test_outsiders_get_nothing(client: TestClient[Any]) -> None:
    cid, _, _, _, student = conversation(client)
    message_id = client.get(f"/api/v1/conversations/{cid}/messages", headers=student).json()[
        "items"
    ][0]["id"]
    for role in ["student", "tutor", "admin"]:
        stranger = account(client, role)
        for method, path, body in [
            ("GET", f"/api/v1/conversations/{cid}", None),
            ("GET", f"/api/v1/conversations/{cid}/messages", None),
            ("GET", f"/api/v1/conversations/{cid}/messages?after_seq=0", None),
            ("POST", f"/api/v1/conversations/{cid}/messages", {"body": "hi"}),
            ("POST", f"/api/v1/conversations/{cid}/read", {}),
            ("PUT", f"/api/v1/conversations/{cid}/privacy", {"private": True}),
            ("GET", f"/api/v1/conversations/{cid}/attachments/1", None),
            ("POST", f"/api/v1/messages/{message_id}/report", {"reason": "spam"}),
        ]:
            response = client.request(method, path, json=body, headers=stranger)
            assert response.status_code == 404, (role, method, path, response.text)
            assert "Do you teach" not in response.text
        assert client.get("/api/v1/conversations", headers=stranger).json()["items"] == []
        assert client.get("/api/v1/conversations/unread", headers=stranger).json()["total"] == 0
        page = client.get(f"/messages/{cid}", headers=stranger)
        assert page.status_code == 404
        assert "Do you teach" not in page.text


def test_unread_counts_and_read_receipts(client: TestClient[Any]) -> None:
    cid, _, tutor, _, student = conversation(client)
    send(client, student, cid, "Second question")
    unread = client.get("/api/v1/conversations/unread", headers=tutor).json()
    assert unread == {"total": 2, "conversations": {str(cid): 2}}
    assert client.get("/api/v1/conversations/unread", headers=student).json()["total"] == 0
    # Reading up to 1 leaves one; the cursor never moves back.
    assert client.post(
        f"/api/v1/conversations/{cid}/read", json={"seq": 1}, headers=tutor
    ).json() == {"total": 1, "conversations": {str(cid): 1}}
    client.post(f"/api/v1/conversations/{cid}/read", json={"seq": 0}, headers=tutor)
    assert client.get("/api/v1/conversations/unread", headers=tutor).json()["total"] == 1
    # The student sees how far the tutor has read.
    assert client.get(f"/api/v1/conversations/{cid}", headers=student).json()["their_read_seq"] == 1
    client.post(f"/api/v1/conversations/{cid}/read", json={}, headers=tutor)
    assert client.get("/api/v1/conversations/unread", headers=tutor).json()["total"] == 0
    # A reply counts for the other side and marks the writer's own side read.
    send(client, tutor, cid, "Answer")
    assert client.get("/api/v1/conversations/unread", headers=student).json()["total"] == 1
    assert client.get("/api/v1/conversations/unread", headers=tutor).json()["total"] == 0
    # A cursor past the end is clamped to the newest message.
    client.post(f"/api/v1/conversations/{cid}/read", json={"seq": 999}, headers=student)
    shown = client.get(f"/api/v1/conversations/{cid}", headers=student).json()
    assert shown["my_read_seq"] == 3 and shown["unread"] == 0


def test_catch_up_pages_after_a_sequence_number(client: TestClient[Any]) -> None:
    cid, _, tutor, _, student = conversation(client)
    for i in range(5):
        send(client, student, cid, f"message {i}")
    page = client.get(
        f"/api/v1/conversations/{cid}/messages?after_seq=2&limit=2", headers=tutor
    ).json()
    assert [m["seq"] for m in page["items"]] == [3, 4]
    assert page["more"] is True
    rest = client.get(f"/api/v1/conversations/{cid}/messages?after_seq=4", headers=tutor).json()
    assert [m["seq"] for m in rest["items"]] == [5, 6]
    assert rest["more"] is False
    older = client.get(
        f"/api/v1/conversations/{cid}/messages?before_seq=3&limit=5", headers=tutor
    ).json()
    assert [m["seq"] for m in older["items"]] == [1, 2]


def test_a_resend_with_the_same_client_id_is_not_duplicated(client: TestClient[Any]) -> None:
    cid, _, tutor, _, student = conversation(client)
    first = send(client, student, cid, "Once", client_id="abc-1")
    again = send(client, student, cid, "Once", client_id="abc-1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    items = client.get(f"/api/v1/conversations/{cid}/messages", headers=tutor).json()["items"]
    assert [m["body"] for m in items] == ["Do you teach adults who read no music?", "Once"]


def test_search_over_own_conversations(client: TestClient[Any]) -> None:
    cid, _, tutor, _, student = conversation(client)
    send(client, tutor, cid, "We could start with Clair de Lune")
    found = client.get("/api/v1/conversations?q=clair", headers=student).json()["items"]
    assert [c["id"] for c in found] == [cid]
    assert client.get("/api/v1/conversations?q=banjo", headers=student).json()["items"] == []
    # Someone else's words are not searchable by an outsider.
    outsider = account(client, "student")
    assert client.get("/api/v1/conversations?q=clair", headers=outsider).json()["items"] == []


def test_privacy_flag(client: TestClient[Any]) -> None:
    cid, _, tutor, _, _ = conversation(client)
    response = client.put(
        f"/api/v1/conversations/{cid}/privacy", json={"private": True}, headers=tutor
    )
    assert response.status_code == 200
    assert response.json()["private"] is True
