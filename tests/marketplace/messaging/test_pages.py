"""Messaging pages without JavaScript: the Message button, writing, the inbox, the badge."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from tests.marketplace.messaging.helpers import conversation, pair, send


def csrf(client: TestClient[Any], path: str, headers: dict[str, str]) -> str:
    html = client.get(path, headers=headers).text
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, f"{path} carries a CSRF token"
    return match.group(1)


def badge(html: str) -> str | None:
    match = re.search(r"data-unread-total( hidden)?>.*?</span>(\d+)</span>", html)
    assert match, "the header has an unread badge"
    return None if match.group(1) else match.group(2)


def test_the_message_button_leads_to_a_first_message(client: TestClient[Any]) -> None:
    tutor_id, tutor, _, student = pair(client)
    tutor_page = client.get(f"/tutors/{tutor_id}", headers=student).text
    assert f'href="/messages/new?to={tutor_id}"' in tutor_page
    # The tutor does not see a button to message themselves.
    assert "data-message-tutor" not in client.get(f"/tutors/{tutor_id}", headers=tutor).text
    token = csrf(client, f"/messages/new?to={tutor_id}", student)
    empty = client.post(
        "/messages/new", data={"_csrf_token": token, "to": tutor_id, "body": " "}, headers=student
    )
    assert empty.status_code == 422 and "Write a message first." in empty.text
    sent = client.post(
        "/messages/new",
        data={"_csrf_token": token, "to": tutor_id, "body": "Hello *there*"},
        headers=student,
        follow_redirects=False,
    )
    assert sent.status_code == 303
    location = sent.headers["location"]
    assert re.fullmatch(r"/messages/\d+#m1", location)
    # Once a thread exists, the button goes straight to it.
    again = client.get(f"/messages/new?to={tutor_id}", headers=student, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == location.split("#")[0]
    # The tutor sees the badge, the inbox line, then reads it.
    home = client.get("/", headers=tutor).text
    assert badge(home) == "1"
    inbox = client.get("/messages", headers=tutor).text
    assert "Hello there" in inbox
    view = client.get(location.split("#")[0], headers=tutor).text
    assert "<em>there</em>" in view
    assert badge(view) is None  # opening the conversation read it
    assert badge(client.get("/", headers=tutor).text) is None


def test_reply_block_and_privacy_from_the_page(client: TestClient[Any]) -> None:
    cid, _, tutor, _, student = conversation(client)
    token = csrf(client, f"/messages/{cid}", tutor)
    reply = client.post(
        f"/messages/{cid}",
        data={"_csrf_token": token, "body": "Yes, adults welcome."},
        headers=tutor,
        follow_redirects=False,
    )
    assert reply.status_code == 303 and reply.headers["location"] == f"/messages/{cid}#m2"
    too_long = client.post(
        f"/messages/{cid}", data={"_csrf_token": token, "body": "x" * 5000}, headers=tutor
    )
    assert too_long.status_code == 422 and "too long" in too_long.text
    private = client.post(
        f"/messages/{cid}/privacy",
        data={"_csrf_token": token, "private": "on"},
        headers=tutor,
        follow_redirects=False,
    )
    assert private.status_code == 303
    blocked = client.post(
        f"/messages/{cid}/block", data={"_csrf_token": token}, headers=tutor, follow_redirects=False
    )
    assert blocked.status_code == 303
    view = client.get(f"/messages/{cid}", headers=student).text
    assert "You cannot write to" in view and "data-composer" not in view
    assert send(client, student, cid, "hello?").status_code == 403
    unblock = client.post(
        f"/messages/{cid}/unblock",
        data={"_csrf_token": token},
        headers=tutor,
        follow_redirects=False,
    )
    assert unblock.status_code == 303
    assert "data-composer" in client.get(f"/messages/{cid}", headers=student).text


def test_search_on_the_inbox_page(client: TestClient[Any]) -> None:
    cid, _, tutor, _, student = conversation(client)
    send(client, tutor, cid, "Bring the Czerny book")
    assert "Czerny" in client.get("/messages?q=czerny", headers=student).text
    assert "No conversation matches" in client.get("/messages?q=tuba", headers=student).text
