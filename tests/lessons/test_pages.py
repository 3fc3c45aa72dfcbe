"""Lessons pages through their forms (CSRF included): uploads, notes, errors shown in place."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from tests.helpers import PASSWORD
from tests.lessons import media
from tests.lessons.helpers import course, item, module, published_course, user


def _page_login(client: TestClient[Any], headers: dict[str, str]) -> None:
    email = client.get("/api/v1/me", headers=headers).json()["email"]
    token = _csrf(client, "/login")
    r = client.post(
        "/login",
        data={"_csrf_token": token, "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303


def _csrf(client: TestClient[Any], path: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, path
    return match.group(1)


def test_item_editor_uploads_through_the_form_and_shows_errors(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    c = course(client, tutor)
    m = module(client, tutor, c["id"], "Sheets")
    sheet = item(client, tutor, c["id"], m, "file", "Scale sheet")
    _page_login(client, tutor)
    editor = f"/teach/courses/{c['id']}/items/{sheet['id']}"
    token = _csrf(client, editor)
    bad = client.post(
        f"{editor}/upload",
        data={"_csrf_token": token},
        files={"file": ("x.pdf", b"not a pdf at all", "application/pdf")},
    )
    assert bad.status_code == 422 and "not a PDF" in bad.text
    ok = client.post(
        f"{editor}/upload",
        data={"_csrf_token": token},
        files={"file": ("scale.pdf", media.pdf(), "application/pdf")},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and "notice=uploaded" in ok.headers["location"]
    assert "scale.pdf" in client.get(editor).text
    missing = client.post(f"{editor}/upload", data={"_csrf_token": "forged"})
    assert missing.status_code == 403


def test_catalogue_course_and_my_courses_pages(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    built = published_course(client, tutor, price_minor=1900, title="Paid blues")
    cid = built["course"]["id"]
    listing = client.get("/courses")
    assert listing.status_code == 200 and "Paid blues" in listing.text and "€19" in listing.text
    _, student = user(client, "student")
    _page_login(client, student)
    token = _csrf(client, f"/courses/{cid}")
    r = client.post(f"/courses/{cid}/buy", data={"_csrf_token": token})
    assert r.status_code == 409 and "payout account is not set up" in r.text
    assert "You are not enrolled" in client.get("/my/courses").text
    assert client.get(f"/courses/{cid}/items/{built['text']['id']}").status_code == 404


def test_quiz_questions_are_added_and_edited_through_the_forms(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    built = published_course(client, tutor)
    cid, quiz = built["course"]["id"], built["quiz"]
    _page_login(client, tutor)
    editor = f"/teach/courses/{cid}/items/{quiz['id']}"
    page = client.get(editor)
    assert page.status_code == 200 and "Edit question 1" in page.text
    assert 'value="Minor pentatonic"' in page.text  # the edit form is filled in
    token = _csrf(client, editor)
    base = f"/teach/courses/{cid}/quizzes/{quiz['quiz_id']}/questions"
    added = client.post(
        base,
        data={
            "_csrf_token": token,
            "kind": "music",
            "prompt": "Which interval?",
            "option_0": "Perfect fifth",
            "correct": "0",
            "option_1": "Octave",
            "clip_mode": "melodic",
            "clip_notes": "C4 G4",
            "clip_tempo": "90",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    assert ".m4a" in client.get(editor).text  # the generated audio prompt is on the page
    key = client.get(f"/api/v1/tutor/courses/{cid}/quizzes/{quiz['quiz_id']}", headers=tutor).json()
    numeric = next(q for q in key["questions"] if q["kind"] == "numeric")
    edited = client.post(
        f"{base}/{numeric['id']}",
        data={
            "_csrf_token": token,
            "kind": "numeric",
            "prompt": "Bars in a blues?",
            "value": "12",
            "tolerance": "0",
            "tolerance_kind": "absolute",
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    # Removing the answer from a published quiz is refused and explained in place.
    broken = client.post(
        f"{base}/{numeric['id']}",
        data={"_csrf_token": token, "kind": "numeric", "prompt": "Bars in a blues?"},
    )
    assert broken.status_code == 422 and "has no correct number" in broken.text
