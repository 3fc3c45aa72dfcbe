"""An enrolled student plays a course's audio and video in Chromium through signed links, and
seeks (byte ranges); a stranger's browser gets no address and the public route refuses the file."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.conftest import run_jobs
from tests.helpers import PASSWORD, run_sql
from tests.lessons import media
from tests.lessons.helpers import course, item, module, user
from tests.media_factory import wav

pytestmark = pytest.mark.browser


def _login(page: Any, base: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**notice=logged_in")


def _plays_and_seeks(page: Any, selector: str, to: float) -> dict[str, Any]:
    # The player does not preload (a fetch counts toward the refund rule): press play first.
    page.evaluate(
        "(selector) => { const el = document.querySelector(selector); el.muted = true; "
        "el.play().then(() => el.pause(), () => {}); }",
        selector,
    )
    page.wait_for_function(
        f"() => document.querySelector('{selector}').readyState >= 1", timeout=20_000
    )
    result: dict[str, Any] = page.evaluate(
        """([selector, to]) => new Promise((resolve) => {
            const el = document.querySelector(selector);
            el.muted = true;
            el.addEventListener("seeked", () => resolve({
                time: el.currentTime, duration: el.duration, error: el.error && el.error.code,
                src: el.currentSrc,
            }), { once: true });
            el.currentTime = to;
        })""",
        [selector, to],
    )
    return result


def test_enrolled_student_plays_and_seeks(
    live_server: str, browser_page: Any, client: TestClient[Any], queue: Any
) -> None:
    _, tutor = user(client, "tutor")
    c = course(client, tutor, price_minor=1900)
    cid = c["id"]
    m = module(client, tutor, cid, "Hear it")
    audio = item(client, tutor, cid, m, "audio", "Listen")
    video = item(client, tutor, cid, m, "video", "Watch")
    for i, name, data, kind in (
        (audio, "take.wav", wav(4.0), "audio/wav"),
        (video, "clip.webm", media.video(4.0), "video/webm"),
    ):
        r = client.post(
            f"/api/v1/tutor/courses/{cid}/items/{i['id']}/upload",
            files={"file": (name, data, kind)},
            headers=tutor,
        )
        assert r.status_code == 202, r.text
    run_jobs(queue)
    for i in (audio, video):
        client.put(
            f"/api/v1/tutor/courses/{cid}/items/{i['id']}",
            json={"title": i["title"], "required": True},
            headers=tutor,
        )
    assert client.post(f"/api/v1/tutor/courses/{cid}/publish", headers=tutor).status_code == 200
    student_id, student = user(client, "student")
    student_email = client.get("/api/v1/me", headers=student).json()["email"]
    _, stranger = user(client, "student")
    stranger_email = client.get("/api/v1/me", headers=stranger).json()["email"]
    run_sql(
        client,
        "INSERT INTO course_enrolments (course_id, student_id, source) VALUES ($1, $2, 'admin')",
        cid,
        student_id,
    )
    page = browser_page
    partial: list[str] = []
    page.on(
        "response",
        lambda r: partial.append(r.url) if "/media/private/" in r.url and r.status == 206 else None,
    )

    _login(page, live_server, student_email)
    page.goto(f"{live_server}/courses/{cid}/items/{audio['id']}")
    heard = _plays_and_seeks(page, "audio[data-player]", 2.5)
    assert heard["error"] is None and 3.5 < heard["duration"] < 4.5, heard
    assert abs(heard["time"] - 2.5) < 0.2 and "/media/private/" in heard["src"]
    page.goto(f"{live_server}/courses/{cid}/items/{video['id']}")
    seen = _plays_and_seeks(page, "video", 3.0)
    assert seen["error"] is None and seen["src"].endswith(".mp4"), seen
    assert abs(seen["time"] - 3.0) < 0.3
    assert partial, "the browser fetched the media in byte ranges"
    src = str(heard["src"]).removeprefix(live_server)

    # A stranger's browser: no address on the page, and the public route does not serve the key.
    _login(page, live_server, stranger_email)
    page.goto(f"{live_server}/courses/{cid}")
    assert "/media/private/" not in page.content()
    key = src.removeprefix("/media/private/").split("/", 2)[2]
    assert page.request.get(f"{live_server}/media/{key}").status == 404
