"""Course discussion pages through their forms (CSRF included)."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from tests.helpers import account
from tests.lessons import media
from tests.lessons.helpers import published_course, user
from tests.lessons.test_pages import _csrf, _page_login


def _setup(client: TestClient[Any]) -> tuple[int, dict[str, str], dict[str, str]]:
    _, tutor = user(client, "tutor")
    cid = published_course(client, tutor)["course"]["id"]
    _, student = user(client, "student")
    assert client.post(f"/api/v1/courses/{cid}/enrol", headers=student).status_code == 201
    return cid, tutor, student


def test_a_student_asks_with_a_file_and_errors_keep_the_draft(client: TestClient[Any]) -> None:
    cid, _, student = _setup(client)
    _page_login(client, student)
    forum = f"/courses/{cid}/discussions"
    assert 'data-testid="discussions-link"' in client.get(f"/courses/{cid}").text
    listing = client.get(forum)
    assert listing.status_code == 200 and "No discussions yet" in listing.text
    token = _csrf(client, forum)

    empty = client.post(forum, data={"_csrf_token": token, "title": "", "body": "my draft"})
    assert empty.status_code == 422 and "Give your question" in empty.text
    assert "my draft" in empty.text

    asked = client.post(
        forum,
        data={"_csrf_token": token, "title": "Is this fingering right?", "body": "See the PDF."},
        files={"file": ("fingering.pdf", media.pdf(), "application/pdf")},
        follow_redirects=False,
    )
    assert asked.status_code == 303, asked.text
    thread = asked.headers["location"]
    page = client.get(thread).text
    assert "Is this fingering right?" in page and "fingering.pdf" in page
    file_url = re.search(r'href="(/api/v1/discussion-posts/\d+/attachments/\d+)\?download=1"', page)
    assert file_url and client.get(file_url.group(1)).content.startswith(b"%PDF-")

    replied = client.post(
        thread, data={"_csrf_token": token, "body": "Also bar 3?"}, follow_redirects=False
    )
    assert replied.status_code == 303 and "#p" in replied.headers["location"]
    assert "Also bar 3?" in client.get(replied.headers["location"]).text
    assert "Is this fingering right?" in client.get(forum).text
    assert client.post(thread, data={"body": "no token"}).status_code == 403


def test_the_tutor_pins_locks_marks_and_removes(client: TestClient[Any]) -> None:
    cid, tutor, student = _setup(client)
    base = f"/api/v1/courses/{cid}/discussions"
    tid = client.post(
        base, json={"title": "Metronome speed?", "body": "How fast?"}, headers=student
    ).json()["thread"]["id"]
    post = client.post(f"{base}/{tid}/posts", json={"body": "60 bpm?"}, headers=student).json()
    pid = post["post"]["id"]
    _page_login(client, tutor)
    thread = f"/courses/{cid}/discussions/{tid}"
    token = _csrf(client, thread)
    page = client.get(thread).text
    assert "Pin to the top" in page and "Mark as the answer" in page

    def form(path: str, **data: str) -> Any:
        r = client.post(path, data={"_csrf_token": token, **data}, follow_redirects=False)
        assert r.status_code == 303, (path, r.text)
        return r

    form(f"{thread}/pin", pinned="on")
    form(f"/discussion-posts/{pid}/answer", answer="on")
    form(f"{thread}/lock", locked="on")
    page = client.get(thread).text
    assert "Unpin" in page and 'data-testid="answer-mark"' in page and "Reopen for replies" in page
    form(f"/discussion-posts/{pid}/hidden", hidden="on", reason="Off topic")
    assert "removed by a moderator: Off topic" in client.get(thread).text

    # The student sees the lock and the removal, and no moderation buttons.
    client.cookies.clear()
    _page_login(client, student)
    seen = client.get(thread).text
    assert 'data-testid="locked-note"' in seen and "Off topic" in seen
    assert "60 bpm?" not in seen and "Pin to the top" not in seen


def test_pages_refuse_strangers_and_redirect_anonymous(client: TestClient[Any]) -> None:
    cid, _, _ = _setup(client)
    forum = f"/courses/{cid}/discussions"
    anonymous = client.get(forum, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    _page_login(client, account(client, "student"))
    refused = client.get(forum)
    assert refused.status_code == 403 and "Enrol to join in" in refused.text
    assert 'data-testid="discussions-link"' not in client.get(f"/courses/{cid}").text


def test_reporting_from_the_page(client: TestClient[Any]) -> None:
    cid, tutor, student = _setup(client)
    base = f"/api/v1/courses/{cid}/discussions"
    tid = client.post(base, json={"title": "Welcome", "body": "Say hello!"}, headers=tutor).json()[
        "thread"
    ]["id"]
    pid = client.get(f"{base}/{tid}", headers=student).json()["posts"][0]["id"]
    _page_login(client, student)
    thread = f"/courses/{cid}/discussions/{tid}"
    token = _csrf(client, thread)
    assert "Tutor" in client.get(thread).text
    r = client.post(
        f"/discussion-posts/{pid}/report",
        data={"_csrf_token": token, "reason": "spam"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "notice=post_reported" in r.headers["location"]
    assert "Reported" in client.get(thread).text
