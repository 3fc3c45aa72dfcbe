"""A paid course's media reaches only those who may see it: strangers never get an address, the
public /media route serves none of it, and enrolled students play it through signed links
(seeking included); quiz audio prompts and lesson files likewise."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from marketplace.settings import Settings
from tests.conftest import run_jobs
from tests.helpers import account, fetch_sql, run_sql
from tests.lessons import media
from tests.lessons.helpers import course, item, module, question, stored_path, user
from tests.media_factory import wav

MUSIC = {
    "kind": "music",
    "prompt": "Which interval?",
    "options": [{"text": "Major third", "correct": True}, {"text": "Minor third"}],
    "clip": {"mode": "melodic", "notes": "C4 E4", "tempo": 90},
}


def _paid_course(client: TestClient[Any], queue: Any) -> dict[str, Any]:
    _, tutor = user(client, "tutor")
    c = course(client, tutor, price_minor=2500)
    cid = c["id"]
    m = module(client, tutor, cid, "Sound")
    audio = item(client, tutor, cid, m, "audio", "Listen")
    sheet = item(client, tutor, cid, m, "file", "Sheet")
    quiz = item(client, tutor, cid, m, "quiz", "Ear check")
    question(client, tutor, cid, quiz["quiz_id"], **MUSIC)
    for i, name, data, kind in (
        (audio, "take.wav", wav(2.0), "audio/wav"),
        (sheet, "sheet.pdf", media.pdf(), "application/pdf"),
    ):
        r = client.post(
            f"/api/v1/tutor/courses/{cid}/items/{i['id']}/upload",
            files={"file": (name, data, kind)},
            headers=tutor,
        )
        assert r.status_code == 202, r.text
    run_jobs(queue)
    for i in (audio, sheet):
        client.put(
            f"/api/v1/tutor/courses/{cid}/items/{i['id']}",
            json={"title": i["title"], "required": True},
            headers=tutor,
        )
    r = client.post(f"/api/v1/tutor/courses/{cid}/publish", headers=tutor)
    assert r.status_code == 200, r.text
    return {"id": cid, "tutor": tutor, "audio": audio, "sheet": sheet, "quiz": quiz}


def _media_urls(client: TestClient[Any], cid: int, headers: dict[str, str]) -> list[str]:
    r = client.get(f"/api/v1/courses/{cid}", headers=headers)
    assert r.status_code == 200, r.text
    urls = []
    for m in r.json()["modules"]:
        for i in m["items"]:
            if i["media"]:
                urls += [u for u in (i["media"]["url"], i["media"]["hls_url"]) if u]
    return urls


def test_strangers_never_get_media_addresses(
    client: TestClient[Any], queue: Any, settings: Settings
) -> None:
    built = _paid_course(client, queue)
    cid = built["id"]
    keys = [
        r["key"]
        for r in fetch_sql(
            client,
            "SELECT coalesce(playable_key, original_key) AS key FROM course_media m"
            " JOIN course_items i ON i.id = m.item_id JOIN course_modules d ON d.id = i.module_id"
            " WHERE d.course_id = $1",
            cid,
        )
    ]
    prompts = fetch_sql(client, "SELECT audio_key FROM quiz_questions WHERE audio_key <> ''")
    keys += [r["audio_key"] for r in prompts]
    assert len(keys) == 3 and all((settings.media.root / k).is_file() for k in keys)
    _, stranger = user(client, "student")
    for who in ({}, stranger):
        assert _media_urls(client, cid, who) == []
        client.cookies.clear()
        page = client.get(f"/courses/{cid}", headers=who)
        assert page.status_code == 200
        assert "/media/private/" not in page.text and "course-media" not in page.text
        item_page = client.get(
            f"/courses/{cid}/items/{built['audio']['id']}", headers=who, follow_redirects=False
        )
        assert item_page.status_code in (303, 404)
        assert "/media/private/" not in item_page.text
        attempt = client.post(f"/api/v1/quizzes/{built['quiz']['quiz_id']}/attempts", headers=who)
        assert attempt.status_code in (401, 403, 404), attempt.text
    # The files exist, but not at /media.
    for key in keys:
        assert client.get(f"/media/{key}").status_code == 404


def test_enrolled_student_plays_and_seeks_through_signed_links(
    client: TestClient[Any], queue: Any, settings: Settings
) -> None:
    built = _paid_course(client, queue)
    cid = built["id"]
    student_id, student = user(client, "student")
    run_sql(
        client,
        "INSERT INTO course_enrolments (course_id, student_id, source) VALUES ($1, $2, 'admin')",
        cid,
        student_id,
    )
    urls = _media_urls(client, cid, student)
    assert len(urls) == 2 and all(u.startswith("/media/private/") for u in urls)
    # The tutor's own view and the editor sign links too.
    assert all(u.startswith("/media/private/") for u in _media_urls(client, cid, built["tutor"]))
    client.cookies.clear()
    audio_url = next(u for u in urls if u.endswith(".m4a"))
    sheet_url = next(u for u in urls if u.endswith(".pdf"))
    stored = stored_path(settings.media.root, audio_url).read_bytes()
    # A link works for whoever holds it until it expires: a <video> element sends no token.
    whole = client.get(audio_url)
    assert whole.status_code == 200 and whole.content == stored
    assert whole.headers["content-type"] == "audio/mp4"
    assert whole.headers["cache-control"].startswith("private")
    part = client.get(audio_url, headers={"range": "bytes=100-599"})
    assert part.status_code == 206 and part.content == stored[100:600]
    assert part.headers["content-range"] == f"bytes 100-599/{len(stored)}"
    too_far = client.get(audio_url, headers={"range": f"bytes={len(stored)}-"})
    assert too_far.status_code == 416
    pdf = client.get(sheet_url)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    # The player page embeds the signed address.
    item_page = client.get(f"/courses/{cid}/items/{built['audio']['id']}", headers=student)
    assert item_page.status_code == 200
    assert 'src="/media/private/' in item_page.text
    # The quiz's generated audio prompt, on the attempt and on the page.
    attempt = client.post(f"/api/v1/quizzes/{built['quiz']['quiz_id']}/attempts", headers=student)
    assert attempt.status_code == 201, attempt.text
    prompt = attempt.json()["questions"][0]["audio_url"]
    assert prompt.startswith("/media/private/") and prompt.endswith(".m4a")
    client.cookies.clear()
    heard = client.get(prompt)
    assert heard.status_code == 200 and heard.headers["content-type"] == "audio/mp4"
    attempt_page = client.get(f"/quiz-attempts/{attempt.json()['id']}", headers=student)
    assert attempt_page.status_code == 200
    assert 'src="/media/private/' in attempt_page.text
    # Once the enrolment ends, the API hands out no more links.
    run_sql(
        client,
        "UPDATE course_enrolments SET ended_at = now(), end_reason = 'refunded'"
        " WHERE student_id = $1",
        student_id,
    )
    assert _media_urls(client, cid, student) == []


def test_lesson_files_are_not_public(client: TestClient[Any]) -> None:
    """Files shared in lesson notes go only through the lesson's download address."""
    stranger = account(client, "student")
    for prefix in ("lesson-files", "tmp", "quiz-audio", "course-media"):
        assert client.get(f"/media/{prefix}/ab/x", headers=stranger).status_code == 404
