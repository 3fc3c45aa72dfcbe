"""The review pages and the sections reviews adds to the tutor and lesson pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from litestar.testing import TestClient

from tests.helpers import account
from tests.reviews.helpers import completed_lesson, review, tutor
from tests.scheduling.helpers import book, local_slot, student


def _csrf(client: TestClient[Any], path: str, headers: dict[str, str]) -> str:
    html = client.get(path, headers=headers).text
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def _post(
    client: TestClient[Any], path: str, headers: dict[str, str], form_page: str, **data: str
) -> Any:
    token = _csrf(client, form_page, headers)
    return client.post(
        path, data={"_csrf_token": token, **data}, headers=headers, follow_redirects=False
    )


def test_a_student_reviews_from_the_lesson_page(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    page = client.get(f"/lessons/{lesson.booking_id}", headers=lesson.student).text
    assert "How was your lesson?" in page and f"/lessons/{lesson.booking_id}/review" in page
    form = client.get(f"/lessons/{lesson.booking_id}/review", headers=lesson.student)
    assert form.status_code == 200 and 'name="rating"' in form.text
    path = f"/lessons/{lesson.booking_id}/review"

    missing = _post(client, path, lesson.student, path, text="Lovely")
    assert missing.status_code == 422 and "Choose from 1 to 5 stars." in missing.text
    assert missing.headers["content-type"].startswith("text/html")  # a page, not its source
    assert "Lovely" in missing.text  # what was typed is kept

    saved = _post(
        client, path, lesson.student, path, rating="5", teaching="4", text="Clear and kind."
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/lessons/{lesson.booking_id}?notice=review_published"
    page = client.get(f"/lessons/{lesson.booking_id}", headers=lesson.student).text
    assert "Your review" in page and "Clear and kind." in page and "Edit your review" in page
    public = client.get(f"/tutors/{lesson.tutor.id}").text
    assert "Clear and kind." in public and "Verified lesson" in public
    assert 'data-testid="review-average">5.0<' in public

    edit_form = client.get(path, headers=lesson.student).text
    assert 'value="5" checked' in edit_form and "Save changes" in edit_form
    edited = _post(client, path, lesson.student, path, rating="4", text="Clear, kind, fast.")
    assert edited.headers["location"].endswith("notice=review_updated")
    assert "Clear, kind, fast." in client.get(f"/tutors/{lesson.tutor.id}").text


def test_review_pages_refuse_what_the_api_refuses(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    _, stranger = student(client)
    assert client.get(f"/lessons/{lesson.booking_id}/review", headers=stranger).status_code == 403
    teacher = tutor(client)
    _, me = student(client)
    held = book(client, me, teacher.id, local_slot("Europe/Berlin", 6, 10)).json()
    early = client.get(f"/lessons/{held['id']}/review", headers=me)
    assert early.status_code == 409 and "only a completed lesson" in early.text
    assert "How was your lesson?" not in client.get(f"/lessons/{held['id']}", headers=me).text
    late = completed_lesson(client, teacher, ended_ago=timedelta(days=15))
    page = client.get(f"/lessons/{late.booking_id}", headers=late.student).text
    assert "Reviews for this lesson closed on" in page


def test_the_tutor_replies_from_the_lesson_page_and_the_dashboard(
    client: TestClient[Any],
) -> None:
    teacher = tutor(client)
    admin = account(client, "admin")
    first = completed_lesson(client, teacher, admin=admin)
    second = completed_lesson(client, teacher, admin=admin)
    first_id = review(client, first, 2, "Started late.").json()["id"]
    second_id = review(client, second, 5, "Great!").json()["id"]

    dashboard = client.get("/tutor/reviews", headers=teacher.headers).text
    assert "Waiting for your reply (2)" in dashboard and "Search ranks you by" in dashboard
    lesson_page = client.get(f"/lessons/{first.booking_id}", headers=teacher.headers).text
    assert "Started late." in lesson_page and f"/reviews/{first_id}/reply" in lesson_page

    empty = _post(client, f"/reviews/{first_id}/reply", teacher.headers, "/tutor/reviews", text="")
    assert empty.status_code == 422 and "Write your reply." in empty.text
    replied = _post(
        client,
        f"/reviews/{first_id}/reply",
        teacher.headers,
        "/tutor/reviews",
        text="Sorry about that — it will not happen again.",
        next=f"/lessons/{first.booking_id}",
    )
    assert replied.status_code == 303
    assert replied.headers["location"] == f"/lessons/{first.booking_id}?notice=reply_published"
    assert (
        "Waiting for your reply (1)" in client.get("/tutor/reviews", headers=teacher.headers).text
    )
    evil = _post(
        client,
        f"/reviews/{second_id}/reply",
        teacher.headers,
        "/tutor/reviews",
        text="Thanks!",
        next="https://evil.example/",
    )
    assert evil.headers["location"] == "/tutor/reviews?notice=reply_published"  # no open redirect
    public = client.get(f"/tutors/{teacher.id}").text
    assert "Reply from" in public and "it will not happen again" in public


def test_sorting_and_pages_on_the_tutor_page(client: TestClient[Any]) -> None:
    teacher = tutor(client)
    admin = account(client, "admin")
    for stars in (4, 1, 5, *[3] * 9):
        review(client, completed_lesson(client, teacher, admin=admin), stars, f"{stars} stars")
    base = f"/tutors/{teacher.id}"

    def shown(query: str = "") -> list[int]:
        html = client.get(base + query).text
        return [int(n) for n in re.findall(r'aria-label="(\d) out of 5 stars"', html)]

    assert shown("?reviews_sort=highest")[:3] == [5, 4, 3] and len(shown()) == 10
    assert shown("?reviews_sort=lowest")[0] == 1
    second = client.get(base + "?reviews_sort=lowest&reviews_page=2").text
    assert "Page 2 of 2" in second and len(re.findall(r'data-testid="review"', second)) == 2
    clamped = client.get(base + "?reviews_page=99&reviews_sort=nonsense")
    assert clamped.status_code == 200 and "Page 2 of 2" in clamped.text
    assert client.get(base + "?reviews_page=x").status_code == 200
    html = client.get(base).text
    assert 'data-testid="stars-3">9<' in html and 'data-testid="review-count">12 reviews' in html
    assert 'class="rv-headline-rating"' in html and "· 12 reviews" in html
    fresh = tutor(client)
    empty = client.get(f"/tutors/{fresh.id}").text
    assert "No reviews yet" in empty and "rv-headline-rating" not in empty


def test_report_and_moderate_from_the_pages(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    review_id = review(client, lesson, 1, "Spam spam spam, visit my site").json()["id"]
    assert f"/reviews/{review_id}/report" in client.get(f"/tutors/{lesson.tutor.id}").text
    anonymous = client.get(f"/reviews/{review_id}/report", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    _, reader = student(client)
    form = f"/reviews/{review_id}/report"
    vague = _post(client, form, reader, form, reason="other")
    assert vague.status_code == 422 and "Tell us what is wrong" in vague.text
    sent = _post(client, form, reader, form, reason="spam")
    assert sent.status_code == 303
    assert sent.headers["location"].startswith(f"/tutors/{lesson.tutor.id}?notice=review_reported")
    again = _post(client, form, reader, form, reason="spam")
    assert again.status_code == 409 and "reported this review already" in again.text
    assert again.headers["content-type"].startswith("text/html")

    admin = account(client, "admin")
    queue = client.get("/admin/reviews", headers=admin).text
    assert "Spam spam spam" in queue and "Spam or advertising" in queue
    action = f"/admin/reviews/{review_id}/moderate"
    no_reason = _post(client, action, admin, "/admin/reviews", action="hide", reason=" ")
    assert no_reason.status_code == 422 and "Give the reason" in no_reason.text
    hidden = _post(client, action, admin, "/admin/reviews", action="hide", reason="Advertising")
    assert hidden.status_code == 303
    assert "Spam spam spam" not in client.get(f"/tutors/{lesson.tutor.id}").text
    hidden_list = client.get("/admin/reviews?filter=hidden", headers=admin).text
    assert "Spam spam spam" in hidden_list and "Advertising" in hidden_list
    mine = client.get(f"/lessons/{lesson.booking_id}", headers=lesson.student).text
    assert "A moderator hid this review" in mine and "Edit your review" not in mine
    dash = client.get("/tutor/reviews", headers=lesson.tutor.headers).text
    assert "hidden by a moderator" in dash and "Waiting for your reply (0)" in dash
