"""Course discussions over the API: who may read and write, moderation, reports, files, limits."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.app import create_app
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from tests.helpers import account, fetch_sql, run_sql
from tests.lessons.helpers import published_course, user
from tests.marketplace.messaging.test_attachments import pdf
from tests.media_factory import png


@dataclass
class Forum:
    course_id: int
    tutor_id: int
    tutor: dict[str, str]
    student_id: int
    student: dict[str, str]
    classmate: dict[str, str]

    @property
    def base(self) -> str:
        return f"/api/v1/courses/{self.course_id}/discussions"


def forum(client: TestClient[Any]) -> Forum:
    tutor_id, tutor = user(client, "tutor")
    built = published_course(client, tutor)
    cid = built["course"]["id"]
    student_id, student = user(client, "student")
    _, classmate = user(client, "student")
    for who in (student, classmate):
        assert client.post(f"/api/v1/courses/{cid}/enrol", headers=who).status_code == 201
    return Forum(cid, tutor_id, tutor, student_id, student, classmate)


def ask(client: TestClient[Any], f: Forum, who: dict[str, str], title: str, body: str) -> Any:
    return client.post(f.base, json={"title": title, "body": body}, headers=who)


def reply(client: TestClient[Any], f: Forum, who: dict[str, str], tid: int, body: str) -> Any:
    return client.post(f"{f.base}/{tid}/posts", json={"body": body}, headers=who)


COUNTS = {
    "discussion_threads": "SELECT count(*) AS n FROM discussion_threads",
    "discussion_posts": "SELECT count(*) AS n FROM discussion_posts",
}


def count(client: TestClient[Any], table: str) -> int:
    return int(fetch_sql(client, COUNTS[table])[0]["n"])


def test_students_ask_and_the_tutor_answers(client: TestClient[Any]) -> None:
    f = forum(client)
    asked = ask(client, f, f.student, "  Swing  feel? ", "How *much* should I swing the eighths?")
    assert asked.status_code == 201, asked.text
    thread = asked.json()["thread"]
    assert thread["title"] == "Swing feel?" and thread["reply_count"] == 0
    assert asked.json()["post"]["first"] and "<em>much</em>" in asked.json()["post"]["html"]
    tid = thread["id"]

    answer = reply(client, f, f.tutor, tid, "About a **triplet** feel: long-short.")
    assert answer.status_code == 201, answer.text
    assert answer.json()["post"]["by_tutor"] is True
    assert answer.json()["thread"]["tutor_replied"] is True
    other = reply(client, f, f.classmate, tid, "I count 'one-and-a' and skip the 'and'.")
    assert other.json()["post"]["by_tutor"] is False

    shown = client.get(f"{f.base}/{tid}", headers=f.classmate)
    assert shown.status_code == 200
    body = shown.json()
    assert body["role"] == "student" and body["total_posts"] == 3
    assert [p["author_id"] for p in body["posts"]][1] == f.tutor_id
    assert body["thread"]["reply_count"] == 2

    # The tutor marks the classmate's reply as the answer; one answer per thread.
    first_answer = answer.json()["post"]["id"]
    second = other.json()["post"]["id"]
    assert client.put(
        f"/api/v1/discussion-posts/{first_answer}/answer", json={"answer": True}, headers=f.tutor
    ).json()["answered"]
    client.put(f"/api/v1/discussion-posts/{second}/answer", json={"answer": True}, headers=f.tutor)
    posts = client.get(f"{f.base}/{tid}", headers=f.student).json()["posts"]
    assert [p["is_answer"] for p in posts] == [False, False, True]
    refused = client.put(
        f"/api/v1/discussion-posts/{second}/answer", json={"answer": False}, headers=f.student
    )
    assert refused.status_code == 403 and refused.json()["code"] == "course_tutor_only"
    opening = posts[0]["id"]
    question_itself = client.put(
        f"/api/v1/discussion-posts/{opening}/answer", json={"answer": True}, headers=f.tutor
    )
    assert question_itself.status_code == 422

    # In-app notifications: the tutor hears of the question, the asker of each reply.
    kinds = fetch_sql(
        client, "SELECT user_id, kind FROM notifications WHERE kind LIKE 'discussion%' ORDER BY id"
    )
    assert (f.tutor_id, "discussion_thread") in [(r["user_id"], r["kind"]) for r in kinds]
    assert [r["user_id"] for r in kinds].count(f.student_id) == 2


def test_only_the_course_people_read_and_write(client: TestClient[Any]) -> None:
    f = forum(client)
    tid = ask(client, f, f.student, "Tuning", "Which tuning do you use?").json()["thread"]["id"]
    stranger = account(client, "student")
    other_tutor = account(client, "tutor")
    for who in (stranger, other_tutor):
        for method, path, body in [
            ("GET", f.base, None),
            ("POST", f.base, {"title": "x", "body": "y"}),
            ("GET", f"{f.base}/{tid}", None),
            ("POST", f"{f.base}/{tid}/posts", {"body": "y"}),
            ("PUT", f"{f.base}/{tid}/pin", {"pinned": True}),
        ]:
            r = client.request(method, path, json=body, headers=who)
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["code"] == "not_enrolled"
    assert client.get(f.base).status_code == 401
    missing = client.get("/api/v1/courses/999999/discussions", headers=f.student)
    assert missing.status_code == 404
    # A thread of another course is not found through this one.
    g = forum(client)
    assert client.get(f"{g.base}/{tid}", headers=g.student).status_code == 404
    # Admins read and moderate, but do not post.
    admin = account(client, "admin")
    assert client.get(f"{f.base}/{tid}", headers=admin).json()["role"] == "admin"
    refused = reply(client, f, admin, tid, "hello")
    assert refused.status_code == 403 and refused.json()["code"] == "admins_do_not_post"
    assert count(client, "discussion_posts") == 1


def test_an_ended_enrolment_closes_the_discussions(client: TestClient[Any]) -> None:
    f = forum(client)
    assert client.get(f.base, headers=f.student).status_code == 200
    run_sql(
        client,
        "UPDATE course_enrolments SET ended_at = now(), end_reason = 'refunded' "
        "WHERE student_id = $1",
        f.student_id,
    )
    r = client.get(f.base, headers=f.student)
    assert r.status_code == 403 and r.json()["code"] == "not_enrolled"


def test_draft_course_discussions_are_not_found_for_others(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    draft = client.post(
        "/api/v1/tutor/courses",
        json={"title": "Draft", "instrument": "piano", "level": "beginner", "language": "en"},
        headers=tutor,
    ).json()
    base = f"/api/v1/courses/{draft['id']}/discussions"
    assert client.get(base, headers=account(client, "student")).status_code == 404
    assert client.get(base, headers=tutor).status_code == 200


def test_pinning_and_locking(client: TestClient[Any]) -> None:
    f = forum(client)
    old = ask(client, f, f.student, "Old question", "first").json()["thread"]["id"]
    ask(client, f, f.classmate, "Newer question", "second")
    titles = [t["title"] for t in client.get(f.base, headers=f.student).json()["items"]]
    assert titles == ["Newer question", "Old question"]

    refused = client.put(f"{f.base}/{old}/pin", json={"pinned": True}, headers=f.student)
    assert refused.status_code == 403 and refused.json()["code"] == "course_tutor_only"
    pinned = client.put(f"{f.base}/{old}/pin", json={"pinned": True}, headers=f.tutor)
    assert pinned.status_code == 200 and pinned.json()["pinned"]
    titles = [t["title"] for t in client.get(f.base, headers=f.student).json()["items"]]
    assert titles == ["Old question", "Newer question"]

    assert client.put(f"{f.base}/{old}/lock", json={"locked": True}, headers=f.tutor).json()[
        "locked"
    ]
    locked = reply(client, f, f.classmate, old, "can I still?")
    assert locked.status_code == 409 and locked.json()["code"] == "thread_locked"
    assert reply(client, f, f.tutor, old, "Closing note from the tutor.").status_code == 201
    client.put(f"{f.base}/{old}/lock", json={"locked": False}, headers=f.tutor)
    assert reply(client, f, f.classmate, old, "open again").status_code == 201


def test_bad_input_is_refused_and_nothing_is_stored(client: TestClient[Any]) -> None:
    f = forum(client)
    cases = [
        ({"title": "", "body": "text"}, "title"),
        ({"title": "x" * 141, "body": "text"}, "title"),
        ({"title": "Empty", "body": "   "}, "body"),
        ({"title": "Long", "body": "x" * 8001}, "body"),
        ({"title": "Files", "body": "see", "attachment_ids": [999_999]}, "attachment_ids"),
    ]
    for body, field in cases:
        r = client.post(f.base, json=body, headers=f.student)
        assert r.status_code == 422, (body, r.text)
        assert field in r.json()["fields"], r.text
    unknown = client.post(f.base, json={"title": "x", "body": "y", "extra": 1}, headers=f.student)
    assert unknown.status_code == 422
    assert count(client, "discussion_threads") == 0 and count(client, "discussion_posts") == 0
    tid = ask(client, f, f.student, "Fine", "ok").json()["thread"]["id"]
    assert reply(client, f, f.classmate, tid, "").status_code == 422
    assert (
        client.post(f"{f.base}/999999/posts", json={"body": "x"}, headers=f.student).status_code
        == 404
    )
    assert count(client, "discussion_posts") == 1


def test_hostile_markdown_is_made_safe(client: TestClient[Any]) -> None:
    f = forum(client)
    hostile = (
        "<script>alert(1)</script> [click](javascript:alert(1)) "
        '<img src=x onerror="alert(1)"> [site](https://example.com)'
    )
    html = ask(client, f, f.student, "Links", hostile).json()["post"]["html"]
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html  # shown as text, never run
    assert 'href="https://example.com"' in html and "noopener" in html


def test_removal_by_the_tutor_hides_the_text_from_students(client: TestClient[Any]) -> None:
    f = forum(client)
    tid = ask(client, f, f.student, "Gear", "What amp?").json()["thread"]["id"]
    spam = reply(client, f, f.classmate, tid, "Buy cheap pedals at my shop!").json()["post"]["id"]
    path = f"/api/v1/discussion-posts/{spam}/hidden"
    by_student = client.put(path, json={"hidden": True, "reason": "spam"}, headers=f.student)
    assert by_student.status_code == 403
    no_reason = client.put(path, json={"hidden": True, "reason": " "}, headers=f.tutor)
    assert no_reason.status_code == 422
    assert (
        client.put(
            path, json={"hidden": True, "reason": "Advertising"}, headers=f.tutor
        ).status_code
        == 204
    )

    seen = client.get(f"{f.base}/{tid}", headers=f.student).json()
    removed = seen["posts"][1]
    assert (
        removed["hidden"] and removed["html"] is None and removed["hidden_reason"] == "Advertising"
    )
    assert seen["thread"]["reply_count"] == 0
    assert client.get(f"{f.base}/{tid}", headers=f.tutor).json()["posts"][1]["html"]
    searched = client.get(f.base, params={"q": "pedals"}, headers=f.student).json()
    assert searched["total"] == 0
    assert client.put(path, json={"hidden": False}, headers=f.tutor).status_code == 204
    assert client.get(f.base, params={"q": "pedals"}, headers=f.student).json()["total"] == 1
    recorded = fetch_sql(
        client, "SELECT hidden_at, hidden_by FROM discussion_posts WHERE id = $1", spam
    )
    assert recorded[0]["hidden_at"] is None


def test_reports_reach_the_admin_queue(client: TestClient[Any]) -> None:
    f = forum(client)
    tid = ask(client, f, f.student, "Help", "Question").json()["thread"]["id"]
    rude = reply(client, f, f.classmate, tid, "Rude words").json()["post"]["id"]
    path = f"/api/v1/discussion-posts/{rude}/report"
    own = client.post(path, json={"reason": "spam"}, headers=f.classmate)
    assert own.status_code == 422
    bad = client.post(path, json={"reason": "because"}, headers=f.student)
    assert bad.status_code == 422
    filed = client.post(
        path, json={"reason": "harassment", "details": "not kind"}, headers=f.student
    )
    assert filed.status_code == 201, filed.text
    again = client.post(path, json={"reason": "harassment"}, headers=f.student)
    assert again.json()["id"] == filed.json()["id"]
    stranger = client.post(path, json={"reason": "spam"}, headers=account(client, "student"))
    assert stranger.status_code == 403
    queue = client.get("/api/v1/admin/reports", headers=account(client, "admin")).json()
    items = queue["items"] if isinstance(queue, dict) else queue
    mine = [r for r in items if r["subject_kind"] == "discussion_post"]
    assert len(mine) == 1 and mine[0]["link"].endswith(f"/discussions/{tid}#p{rude}")


def test_files_are_served_only_to_the_course_people(client: TestClient[Any]) -> None:
    f = forum(client)
    up = client.post(
        f"{f.base}/attachments", files={"data": ("score.pdf", pdf())}, headers=f.student
    )
    assert up.status_code == 201, up.text
    assert up.json()["kind"] == "pdf" and up.json()["url"] is None
    wrong = client.post(
        f"{f.base}/attachments", files={"data": ("score.pdf", b"not a pdf")}, headers=f.student
    )
    assert wrong.status_code == 422
    image = client.post(
        f"{f.base}/attachments", files={"data": ("chord.png", png())}, headers=f.student
    ).json()
    posted = client.post(
        f.base,
        json={"title": "My score", "body": "", "attachment_ids": [up.json()["id"], image["id"]]},
        headers=f.student,
    )
    assert posted.status_code == 201, posted.text
    files = posted.json()["post"]["attachments"]
    assert [a["kind"] for a in files] == ["pdf", "image"]
    url = files[0]["url"]
    got = client.get(url, headers=f.classmate)
    assert got.status_code == 200 and got.content.startswith(b"%PDF-")
    assert got.headers["content-type"].startswith("application/pdf")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert client.get(url, headers=account(client, "student")).status_code == 403
    assert client.get(url).status_code == 401
    # An attachment is bound once: reusing it in another post is refused.
    again = client.post(
        f.base,
        json={"title": "Again", "body": "x", "attachment_ids": [up.json()["id"]]},
        headers=f.student,
    )
    assert again.status_code == 422
    # Someone else's upload cannot be attached.
    theirs = client.post(
        f"{f.base}/attachments", files={"data": ("b.pdf", pdf())}, headers=f.classmate
    ).json()
    stolen = client.post(
        f.base,
        json={"title": "Stolen", "body": "x", "attachment_ids": [theirs["id"]]},
        headers=f.student,
    )
    assert stolen.status_code == 422


@pytest.fixture
def strict_client(settings: Settings, queue: DramatiqQueue) -> Iterator[TestClient[Any]]:
    strict = replace(
        settings,
        courses=replace(
            settings.courses, discussion_posts_per_minute=3, discussion_threads_per_day=2
        ),
    )
    with TestClient(create_app(strict, queue=queue), base_url="http://127.0.0.1:8000") as c:
        yield c


def test_rate_limits_on_posts_and_threads(strict_client: TestClient[Any]) -> None:
    client = strict_client
    f = forum(client)
    tid = ask(client, f, f.student, "One", "first").json()["thread"]["id"]  # post 1, thread 1
    assert ask(client, f, f.student, "Two", "second").status_code == 201  # post 2, thread 2
    third_thread = ask(client, f, f.student, "Three", "third")
    assert third_thread.status_code == 429 and third_thread.json()["code"] == "rate_limited"
    assert reply(client, f, f.student, tid, "reply").status_code == 201  # post 3
    limited = reply(client, f, f.student, tid, "one too many")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert reply(client, f, f.classmate, tid, "my own allowance").status_code == 201


def test_two_replies_at_once_are_both_counted(client: TestClient[Any]) -> None:
    f = forum(client)
    tid = ask(client, f, f.student, "Race", "go").json()["thread"]["id"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = list(
            pool.map(
                lambda who: reply(client, f, who, tid, "at the same moment").status_code,
                [f.student, f.classmate],
            )
        )
    assert codes == [201, 201]
    shown = client.get(f"{f.base}/{tid}", headers=f.tutor).json()
    assert shown["thread"]["reply_count"] == 2 and shown["total_posts"] == 3
