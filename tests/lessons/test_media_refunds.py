"""A refund ends a course's media links at once, and downloading or playing media counts (once
per item) toward the refund rule, so a course cannot be downloaded whole and then refunded."""

from __future__ import annotations

from typing import Any

from tests.conftest import run_jobs
from tests.lessons.helpers import course, item, module
from tests.lessons.sales import buy, selling_tutor, user
from tests.media_factory import wav
from tests.payouts.flow import Env, deliver, pay
from tests.scheduling.helpers import sql


def _bought_media_course(env: Env, texts: int) -> tuple[int, list[int], dict[str, str], int]:
    """A paid course with two audio items and ``texts`` text items (all required), bought and
    paid: (course id, audio item ids, student headers, student id)."""
    client = env.client
    _, tutor = selling_tutor(env)
    cid = course(client, tutor, price_minor=2900)["id"]
    m = module(client, tutor, cid, "Listen")
    audio = [item(client, tutor, cid, m, "audio", f"Take {n}") for n in (1, 2)]
    for a in audio:
        r = client.post(
            f"/api/v1/tutor/courses/{cid}/items/{a['id']}/upload",
            files={"file": ("take.wav", wav(1.5), "audio/wav")},
            headers=tutor,
        )
        assert r.status_code == 202, r.text
    for n in range(texts):
        item(client, tutor, cid, m, "text", f"Read {n}", body="Practise slowly.")
    run_jobs(env.queue)
    assert client.post(f"/api/v1/tutor/courses/{cid}/publish", headers=tutor).status_code == 200
    student_id, student = user(client, "student")
    pay(env, buy(env, student, cid))
    return cid, [a["id"] for a in audio], student, student_id


def _media_url(env: Env, cid: int, item_id: int, headers: dict[str, str]) -> str:
    outline = env.client.get(f"/api/v1/courses/{cid}", headers=headers).json()
    found = next(i for m in outline["modules"] for i in m["items"] if i["id"] == item_id)
    url: str = found["media"]["url"]
    assert url.startswith("/media/private/") and ".enrolment-" in url
    return url


def _offer(env: Env, headers: dict[str, str]) -> Any:
    [mine] = env.client.get("/api/v1/me/courses", headers=headers).json()
    return mine


def test_a_refund_ends_the_media_links_at_once(demo_env: Env) -> None:
    env = demo_env
    cid, audio, student, _ = _bought_media_course(env, texts=10)
    url = _media_url(env, cid, audio[0], student)
    first = env.client.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.headers["cache-control"] == "private, no-cache"  # asked again every time
    assert _offer(env, student)["refundable"]  # one item of twelve: still under 20%

    refunded = env.client.post(f"/api/v1/courses/{cid}/refund", headers=student)
    assert refunded.status_code == 200, refunded.text
    deliver(env)
    after = env.client.get(url)
    assert after.status_code == 403 and after.json()["code"] == "media_access_ended"
    ranged = env.client.get(url, headers={"Range": "bytes=100-"})
    assert ranged.status_code == 403

    # A link bound to the enrolment does not serve another course's files either.
    tampered = url.replace(".enrolment-", ".enrolment-9")
    assert env.client.get(tampered).status_code == 403


def test_downloads_count_once_per_item_toward_the_refund_limit(demo_env: Env) -> None:
    env = demo_env
    cid, audio, student, student_id = _bought_media_course(env, texts=4)  # six items
    first = _media_url(env, cid, audio[0], student)
    for headers in ({}, {"Range": "bytes=0-"}, {"Range": "bytes=500-"}):
        assert env.client.get(first, headers=headers).status_code in (200, 206)
    fetched = sql(
        env.client,
        "SELECT p.item_id, p.media_fetched_at, p.completed_at FROM course_item_progress p "
        "JOIN course_enrolments e ON e.id = p.enrolment_id WHERE e.student_id = $1",
        student_id,
    )
    assert [(r["item_id"], r["completed_at"]) for r in fetched] == [(audio[0], None)]
    offer = _offer(env, student)
    assert offer["refundable"], offer  # one of six (16%) is under the 20% limit
    assert offer["progress_percent"] == 0  # a download is no completion

    second = _media_url(env, cid, audio[1], student)
    assert env.client.get(second).status_code == 200  # a plain download, no Range
    offer = _offer(env, student)
    assert not offer["refundable"]
    assert "downloaded, played or completed 33%" in offer["refund_refusal"]
    refused = env.client.post(f"/api/v1/courses/{cid}/refund", headers=student)
    assert refused.status_code == 409 and refused.json()["code"] == "refund_not_allowed"
    assert "less than 20%" in refused.json()["message"]
    assert env.client.get(second).status_code == 200  # still enrolled: the links still work


def test_the_item_page_player_fetches_nothing_until_played(demo_env: Env) -> None:
    env = demo_env
    cid, audio, student, _ = _bought_media_course(env, texts=4)
    from tests.lessons.test_pages import _page_login

    _page_login(env.client, student)
    page = env.client.get(f"/courses/{cid}/items/{audio[0]}")
    assert page.status_code == 200
    assert 'preload="none"' in page.text and ".enrolment-" in page.text
