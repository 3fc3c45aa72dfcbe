"""Every page form answers invalid input in place: a 4xx HTML page (never the error page, never
JSON), a summary at the top linked to each problem, the problem under its field (the control
``aria-invalid`` and described by it), and what was typed still in the form.

Each case logs in through the login form (a real session cookie) and posts with the page's own
CSRF token, as a browser does."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.helpers import COMPLETE_PROFILE, PASSWORD, fetch_sql, login, make_admin, register
from tests.lessons.helpers import SINGLE, course, item, module, published_course, question, user
from tests.reviews.helpers import completed_lesson, review
from tests.scheduling.helpers import approved_tutor, book, local_slot, student

# ------------------------------------------------------------------ reading the page


@dataclass
class Control:
    tag: str
    attrs: dict[str, str]
    text: str = ""  # a textarea's content
    selected: list[str] = field(default_factory=list)  # a select's chosen values

    @property
    def value(self) -> str:
        if self.tag == "textarea":
            return self.text.removeprefix("\n")
        if self.tag == "select":
            return self.selected[0] if self.selected else ""
        return self.attrs.get("value", "")


@dataclass
class Form:
    action: str
    controls: list[Control] = field(default_factory=list)

    def named(self, name: str) -> list[Control]:
        return [c for c in self.controls if c.attrs.get("name") == name]


class Page(HTMLParser):
    """The forms and their controls, the text of each element with an id, the summary."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.texts: dict[str, str] = {}
        self.summary_links: list[str] = []
        self.summary_text = ""
        self._form: Form | None = None
        self._textarea: Control | None = None
        self._select: Control | None = None
        self._open_ids: list[tuple[str, str]] = []  # (tag, id) still open
        self._summary_depth = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attr_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attr_list}
        if "error-summary" in attrs.get("class", "").split():
            self._summary_depth = 1
        elif self._summary_depth and tag == "div":
            self._summary_depth += 1
        if self._summary_depth and tag == "a":
            self.summary_links.append(attrs.get("href", ""))
        if "id" in attrs and tag not in ("input", "img", "br"):
            self._open_ids.append((tag, attrs["id"]))
            self.texts.setdefault(attrs["id"], "")
        if tag == "form":
            self._form = Form(attrs.get("action", ""))
            self.forms.append(self._form)
        elif tag in ("input", "select", "textarea") and self._form is not None:
            control = Control(tag, attrs)
            self._form.controls.append(control)
            if tag == "textarea":
                self._textarea = control
            elif tag == "select":
                self._select = control
        elif tag == "option" and self._select is not None and "selected" in attrs:
            self._select.selected.append(attrs.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        if self._summary_depth and tag == "div":
            self._summary_depth -= 1
        if self._open_ids and self._open_ids[-1][0] == tag:
            self._open_ids.pop()

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.text += data
        if self._summary_depth:
            self.summary_text += data
        for _, element_id in self._open_ids:
            self.texts[element_id] += data


def error_id(name: str) -> str:
    return name.replace("[", "-").replace("]", "").replace(".", "-") + "-error"


# ------------------------------------------------------------------ the cases


@dataclass
class Case:
    """``page`` shows the form posting to ``action``; ``data`` is what is typed; the problem
    belongs to ``problem`` (a field name), shown on control ``control`` (default: the same
    name); ``kept`` is what the form must show again. ``problem=None``: a form of buttons,
    whose problem can only be the page's summary."""

    page: str
    action: str
    data: dict[str, Any]
    problem: str | None
    kept: dict[str, str] = field(default_factory=dict)
    control: str | None = None
    files: dict[str, Any] | None = None
    status: int = 422


def _email(client: TestClient[Any], user_id: int) -> str:
    return str(fetch_sql(client, "SELECT email FROM users WHERE id = $1", user_id)[0][0])


def _log_in(client: TestClient[Any], email: str) -> None:
    """Through the login form, as a browser: the session cookie, no bearer token."""
    client.cookies.clear()
    token = _csrf(client, "/login")
    r = client.post(
        "/login",
        data={"_csrf_token": token, "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def _csrf(client: TestClient[Any], path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code, page.text[:300])
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match, path
    return match.group(1)


def _tutor(client: TestClient[Any]) -> int:
    tutor_id, _ = approved_tutor(client)
    _log_in(client, _email(client, tutor_id))
    return tutor_id


def _course_tutor(client: TestClient[Any]) -> tuple[int, dict[str, str]]:
    tutor_id, headers = user(client, "tutor")
    return tutor_id, headers


def signup(client: TestClient[Any]) -> Case:
    client.cookies.clear()
    return Case(
        "/signup",
        "/signup",
        {
            "role": "student",
            "full_name": "Zoë 🎸 Łukasz",
            "email": "zoe-at-example",
            "password": PASSWORD,
        },
        "email",
        kept={"full_name": "Zoë 🎸 Łukasz", "email": "zoe-at-example"},
    )


def login_form(client: TestClient[Any]) -> Case:
    register(client, "student", email="known@example.com")
    client.cookies.clear()
    return Case(
        "/login",
        "/login",
        {"email": "known@example.com", "password": "not the password", "next": "/"},
        "password",
        kept={"email": "known@example.com"},
        status=401,
    )


def _student_session(client: TestClient[Any]) -> dict[str, Any]:
    u = register(client, "student")
    _log_in(client, u["email"])
    return u


def account_details(client: TestClient[Any]) -> Case:
    _student_session(client)
    return Case(
        "/account",
        "/account",
        {"full_name": "Zoë Typed", "time_zone": "Mars/Olympus_Mons"},
        "time_zone",
        kept={"full_name": "Zoë Typed"},
    )


def account_password(client: TestClient[Any]) -> Case:
    _student_session(client)
    return Case(
        "/account",
        "/account/password",
        {"current_password": "not the password", "new_password": "a long enough one"},
        "current_password",
    )


def account_phone(client: TestClient[Any]) -> Case:
    _student_session(client)
    return Case("/account", "/account/phone", {"phone": "12"}, "phone", kept={"phone": "12"})


def tutor_profile(client: TestClient[Any]) -> Case:
    _tutor(client)
    return Case(
        "/tutor/profile",
        "/tutor/profile",
        {"display_name": "Ana Typed", "headline": "Fado", "price_30": "twelve", "price_60": "45"},
        "price_30",
        kept={"display_name": "Ana Typed", "price_30": "twelve", "price_60": "45"},
    )


def tutor_photo(client: TestClient[Any]) -> Case:
    _tutor(client)
    return Case(
        "/tutor/profile",
        "/tutor/profile/photo",
        {},
        "photo",
        files={"photo": ("me.jpg", b"not an image at all", "image/jpeg")},
    )


def time_off(client: TestClient[Any]) -> Case:
    _tutor(client)
    return Case(
        "/tutor/availability",
        "/tutor/availability/time-off",
        {"first_day": "2031-03-20", "last_day": "2031-03-10", "reason": "Tour in Japan"},
        "last_day",
        kept={"first_day": "2031-03-20", "last_day": "2031-03-10", "reason": "Tour in Japan"},
    )


def booking_rules(client: TestClient[Any]) -> Case:
    _tutor(client)
    return Case(
        "/tutor/availability",
        "/tutor/availability/rules",
        {"buffer_after_minutes": "15", "min_notice_minutes": "50000", "booking_window_days": "30"},
        "min_notice_minutes",
        kept={"buffer_after_minutes": "15", "min_notice_minutes": "50000"},
    )


def single_day(client: TestClient[Any]) -> Case:
    _tutor(client)
    return Case(
        "/tutor/availability",
        "/tutor/availability/overrides",
        {"date": "2031-03-20", "kind": "available", "start": "18:00", "end": "17:00"},
        "end",
        kept={"date": "2031-03-20", "start": "18:00", "end": "17:00"},
    )


def weekly_hours(client: TestClient[Any]) -> Case:
    _tutor(client)
    return Case(
        "/tutor/availability",
        "/tutor/availability/weekly",
        {"MO_0_start": "18:00", "MO_0_end": "09:00", "TU_0_start": "10:00", "TU_0_end": "12:00"},
        "MO_0",
        control="MO_0_end",
        kept={"MO_0_start": "18:00", "MO_0_end": "09:00", "TU_0_start": "10:00"},
    )


def calendar_import(client: TestClient[Any]) -> Case:
    _tutor(client)
    return Case(
        "/account/calendar",
        "/account/calendar/import",
        {"name": "Orchestra", "url": "ftp://example.com/busy.ics"},
        "url",
        kept={"name": "Orchestra", "url": "ftp://example.com/busy.ics"},
    )


_COURSE_FORM = {
    "title": "Blues in ten licks",
    "summary": "Short.",
    "instrument": "electric-guitar",
    "level": "beginner",
    "language": "en",
    "price": "twelve",
    "description": "From **shuffle** to turnaround.",
}


def new_course(client: TestClient[Any]) -> Case:
    _, headers = _course_tutor(client)
    _log_in(client, client.get("/api/v1/me", headers=headers).json()["email"])
    return Case(
        "/teach/courses",
        "/teach/courses",
        _COURSE_FORM,
        "price_minor",
        control="price",
        kept={k: v for k, v in _COURSE_FORM.items() if k != "summary"},
    )


def _editing(client: TestClient[Any]) -> tuple[dict[str, str], int, int]:
    _, headers = _course_tutor(client)
    c = course(client, headers)
    m = module(client, headers, c["id"], "Shuffle")
    _log_in(client, client.get("/api/v1/me", headers=headers).json()["email"])
    return headers, c["id"], m


def course_details(client: TestClient[Any]) -> Case:
    _, cid, _ = _editing(client)
    return Case(
        f"/teach/courses/{cid}",
        f"/teach/courses/{cid}",
        _COURSE_FORM,
        "price_minor",
        control="price",
        kept={"title": _COURSE_FORM["title"], "price": "twelve"},
    )


def new_module(client: TestClient[Any]) -> Case:
    _, cid, _ = _editing(client)
    title = "M" * 150
    return Case(
        f"/teach/courses/{cid}",
        f"/teach/courses/{cid}/modules",
        {"title": title},
        "title",
        {"title": title},
    )


def new_item(client: TestClient[Any]) -> Case:
    _, cid, m = _editing(client)
    title = "I" * 150
    return Case(
        f"/teach/courses/{cid}",
        f"/teach/courses/{cid}/items",
        {"module_id": str(m), "kind": "text", "title": title},
        "title",
        kept={"title": title},
    )


def item_details(client: TestClient[Any]) -> Case:
    headers, cid, m = _editing(client)
    it = item(client, headers, cid, m, "text", "Feel the shuffle", body="Swing.")
    path = f"/teach/courses/{cid}/items/{it['id']}"
    title = "T" * 150
    return Case(
        path,
        path,
        {"title": title, "body": "Typed body"},
        "title",
        {"title": title, "body": "Typed body"},
    )


def _quiz(client: TestClient[Any]) -> tuple[str, str]:
    headers, cid, m = _editing(client)
    quiz = item(client, headers, cid, m, "quiz", "Check yourself")
    question(client, headers, cid, quiz["quiz_id"], **SINGLE)
    return (
        f"/teach/courses/{cid}/items/{quiz['id']}",
        f"/teach/courses/{cid}/quizzes/{quiz['quiz_id']}",
    )


def quiz_settings(client: TestClient[Any]) -> Case:
    page, quiz = _quiz(client)
    return Case(
        page,
        f"{quiz}/settings",
        {"pass_percent": "150", "max_attempts": "3", "review_policy": "never"},
        "pass_percent",
        kept={"pass_percent": "150", "max_attempts": "3", "review_policy": "never"},
    )


def quiz_question(client: TestClient[Any]) -> Case:
    page, quiz = _quiz(client)
    return Case(
        page,
        f"{quiz}/questions",
        {
            "kind": "numeric",
            "prompt": "How many bars?",
            "points": "500",
            "value": "12",
            "bank": "main",
        },
        "points",
        kept={"prompt": "How many bars?", "points": "500", "value": "12", "kind": "numeric"},
    )


def _lesson(client: TestClient[Any]) -> tuple[int, int, dict[str, str]]:
    tutor_id, _ = approved_tutor(client)
    student_id, me = student(client)
    booking = book(client, me, tutor_id, local_slot("Europe/Berlin", 3, 10)).json()
    return booking["id"], student_id, me


def cancel_twice(client: TestClient[Any]) -> Case:
    booking_id, student_id, me = _lesson(client)
    cancelled = client.post(f"/api/v1/bookings/{booking_id}/cancel", json={}, headers=me)
    assert cancelled.status_code == 200, cancelled.text
    _log_in(client, _email(client, student_id))
    return Case(
        f"/lessons/{booking_id}/cancel",
        f"/lessons/{booking_id}/cancel",
        {"reason": "Ill"},
        None,
        status=409,
    )


def reschedule(client: TestClient[Any]) -> Case:
    booking_id, student_id, _ = _lesson(client)
    _log_in(client, _email(client, student_id))
    path = f"/lessons/{booking_id}/reschedule"
    return Case(path, path, {"starts_at": "soon"}, None)


def notes_homework(client: TestClient[Any]) -> Case:
    tutor_id, _ = approved_tutor(client)
    _, me = student(client)
    booking = book(client, me, tutor_id, local_slot("Europe/Berlin", 3, 10)).json()
    _log_in(client, _email(client, tutor_id))
    page = f"/lessons/{booking['id']}/notes"
    return Case(
        page,
        f"{page.rsplit('/', 1)[0]}/homework",
        {"title": "Scales", "details": "Hands together", "due_on": "someday"},
        "due_on",
        kept={"title": "Scales", "details": "Hands together", "due_on": "someday"},
    )


def notes_practice(client: TestClient[Any]) -> Case:
    booking_id, student_id, _ = _lesson(client)
    _log_in(client, _email(client, student_id))
    page = f"/lessons/{booking_id}/notes"
    return Case(
        page,
        f"/lessons/{booking_id}/practice",
        {"practiced_on": "2026-12-01", "minutes": "lots", "pieces": "Für Elise 🎹"},
        "minutes",
        kept={"minutes": "lots", "pieces": "Für Elise 🎹", "practiced_on": "2026-12-01"},
    )


def lesson_review(client: TestClient[Any]) -> Case:
    lesson = completed_lesson(client)
    _log_in(client, _email(client, lesson.student_id))
    path = f"/lessons/{lesson.booking_id}/review"
    return Case(
        path,
        path,
        {"rating": "", "text": "Lovely lesson ✨"},
        "rating",
        {"text": "Lovely lesson ✨"},
    )


def _reviewed(client: TestClient[Any]) -> Any:
    lesson = completed_lesson(client)
    written = review(client, lesson, 4, "Good, but started late.")
    assert written.status_code == 201, written.text
    return lesson, written.json()["id"]


def review_reply(client: TestClient[Any]) -> Case:
    lesson, review_id = _reviewed(client)
    _log_in(client, _email(client, lesson.tutor.id))
    return Case("/tutor/reviews", f"/reviews/{review_id}/reply", {"text": "   "}, "text")


def review_report(client: TestClient[Any]) -> Case:
    _, review_id = _reviewed(client)
    _student_session(client)
    path = f"/reviews/{review_id}/report"
    return Case(path, path, {"reason": "other", "details": ""}, "details")


def review_moderation(client: TestClient[Any]) -> Case:
    _, review_id = _reviewed(client)
    admin = register(client, "student")
    make_admin(client, admin["id"])
    _log_in(client, admin["email"])
    reported = client.post(
        f"/reviews/{review_id}/report",
        data={"_csrf_token": _csrf(client, f"/reviews/{review_id}/report"), "reason": "spam"},
        follow_redirects=False,
    )
    assert reported.status_code == 303, reported.text
    return Case(
        "/admin/reviews",
        f"/admin/reviews/{review_id}/moderate",
        {"action": "hide", "reason": "", "filter": "reported"},
        "reason",
    )


def _admin_session(client: TestClient[Any]) -> None:
    admin = register(client, "student")
    make_admin(client, admin["id"])
    _log_in(client, admin["email"])


def tutor_moderation(client: TestClient[Any]) -> Case:
    u = register(client, "tutor")
    headers = login(client, u["email"])
    assert client.put(
        "/api/v1/tutors/me/profile",
        json={**COMPLETE_PROFILE, "formats": ["online"]},
        headers=headers,
    ).is_success
    assert client.post("/api/v1/tutors/me/submit", headers=headers).is_success
    _admin_session(client)
    return Case(
        "/admin/tutors",
        f"/admin/tutors/{u['id']}/moderate",
        {"action": "reject", "reason": "meh"},
        "reason",
        kept={"reason": "meh"},
    )


def _conversation(client: TestClient[Any]) -> tuple[int, int, int]:
    """A conversation (id) between a tutor and a student with one message from the tutor."""
    tutor_id, tutor = approved_tutor(client)
    student_id, me = student(client)
    started = client.post(
        "/api/v1/conversations", json={"user_id": tutor_id, "body": "Hello!"}, headers=me
    )
    assert started.status_code == 201, started.text
    conversation_id = started.json()["conversation"]["id"]
    answered = client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"body": "Hi, welcome."},
        headers=tutor,
    )
    assert answered.status_code == 201, answered.text
    return conversation_id, answered.json()["id"], student_id


def first_message(client: TestClient[Any]) -> Case:
    tutor_id, _ = approved_tutor(client)
    _student_session(client)
    body = "x" * 4001
    return Case(
        f"/messages/new?to={tutor_id}",
        "/messages/new",
        {"to": str(tutor_id), "body": body},
        "body",
        kept={"body": body},
    )


def conversation_message(client: TestClient[Any]) -> Case:
    conversation_id, _, student_id = _conversation(client)
    _log_in(client, _email(client, student_id))
    body = "y" * 4001
    path = f"/messages/{conversation_id}"
    return Case(path, path, {"body": body}, "body", kept={"body": body})


def message_report(client: TestClient[Any]) -> Case:
    conversation_id, message_id, student_id = _conversation(client)
    _log_in(client, _email(client, student_id))
    return Case(
        f"/messages/{conversation_id}",
        f"/messages/{conversation_id}/report/{message_id}",
        {"reason": "spam", "details": "z" * 2001},
        "details",
        kept={"details": "z" * 2001, "reason": "spam"},
    )


def _forum(client: TestClient[Any]) -> tuple[int, dict[str, str], int]:
    _, tutor = user(client, "tutor")
    cid = published_course(client, tutor)["course"]["id"]
    student_id, me = user(client, "student")
    assert client.post(f"/api/v1/courses/{cid}/enrol", headers=me).status_code == 201
    return cid, me, student_id


def discussion_start(client: TestClient[Any]) -> Case:
    cid, _, student_id = _forum(client)
    _log_in(client, _email(client, student_id))
    path = f"/courses/{cid}/discussions"
    return Case(
        path, path, {"title": "", "body": "My draft ♩"}, "title", kept={"body": "My draft ♩"}
    )


def _thread(client: TestClient[Any]) -> tuple[int, int, int, int]:
    cid, me, student_id = _forum(client)
    started = client.post(
        f"/api/v1/courses/{cid}/discussions",
        json={"title": "Fingering?", "body": "Bar 3."},
        headers=me,
    )
    assert started.status_code == 201, started.text
    body = started.json()
    return cid, body["thread"]["id"], body["post"]["id"], student_id


def discussion_reply(client: TestClient[Any]) -> Case:
    cid, thread_id, _, student_id = _thread(client)
    _log_in(client, _email(client, student_id))
    path = f"/courses/{cid}/discussions/{thread_id}"
    body = "r" * 20001
    return Case(path, path, {"body": body}, "body", kept={"body": body})


def discussion_report(client: TestClient[Any]) -> Case:
    cid, thread_id, post_id, _ = _thread(client)
    _, other = user(client, "student")
    assert client.post(f"/api/v1/courses/{cid}/enrol", headers=other).status_code == 201
    _log_in(client, client.get("/api/v1/me", headers=other).json()["email"])
    return Case(
        f"/courses/{cid}/discussions/{thread_id}",
        f"/discussion-posts/{post_id}/report",
        {"reason": "spam", "details": "d" * 2001},
        "details",
        kept={"details": "d" * 2001},
    )


def certificate_revoke(client: TestClient[Any]) -> Case:
    from tests.lessons.helpers import finish_course

    _, tutor = user(client, "tutor")
    built = published_course(client, tutor)
    _, me = user(client, "student")
    assert (
        client.post(f"/api/v1/courses/{built['course']['id']}/enrol", headers=me).status_code == 201
    )
    finish_course(client, me, built)
    code = client.get("/api/v1/me/courses", headers=me).json()[0]["certificate_code"]
    _admin_session(client)
    return Case(
        f"/certificates/{code}",
        f"/certificates/{code}/revoke",
        {"reason": "Bad"},
        "reason",
        kept={"reason": "Bad"},
    )


def report_queue(client: TestClient[Any]) -> Case:
    _, message_id, student_id = _conversation(client)
    headers = login(client, _email(client, student_id))
    reported = client.post(
        f"/api/v1/messages/{message_id}/report", json={"reason": "spam"}, headers=headers
    )
    assert reported.status_code in (200, 201), reported.text
    report_id = reported.json()["id"]
    _admin_session(client)
    return Case(
        "/admin/reports",
        f"/admin/reports/{report_id}",
        {"outcome": "resolved", "note": "n" * 2001},
        "note",
        kept={"note": "n" * 2001},
    )


CASES: dict[str, Callable[[TestClient[Any]], Case]] = {
    f.__name__: f
    for f in (
        signup,
        login_form,
        account_details,
        account_password,
        account_phone,
        tutor_profile,
        tutor_photo,
        time_off,
        booking_rules,
        single_day,
        weekly_hours,
        calendar_import,
        new_course,
        course_details,
        new_module,
        new_item,
        item_details,
        quiz_settings,
        quiz_question,
        cancel_twice,
        reschedule,
        notes_homework,
        notes_practice,
        lesson_review,
        review_reply,
        review_report,
        review_moderation,
        tutor_moderation,
        first_message,
        conversation_message,
        message_report,
        discussion_start,
        discussion_reply,
        discussion_report,
        certificate_revoke,
        report_queue,
    )
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_refused_form_comes_back_with_its_problems_by_their_fields(
    client: TestClient[Any], name: str
) -> None:
    case = CASES[name](client)
    token = _csrf(client, case.page)
    answer = client.post(
        case.action,
        data={"_csrf_token": token, **case.data},
        files=case.files,
        follow_redirects=False,
    )
    assert answer.status_code == case.status, answer.text[:2000]
    assert answer.headers["content-type"].startswith("text/html")
    page = Page(answer.text)
    assert 'class="error-page"' not in answer.text
    assert page.summary_text.strip(), "no summary at the top"
    if case.problem is None:
        return
    eid = error_id(case.problem)
    message = page.texts.get(eid, "").strip()
    assert message, f"no problem shown under {case.problem}"
    assert f"#{eid}" in page.summary_links
    # People read labels and amounts, never identifiers or minor units.
    assert not re.search(r"\b[a-z]+_[a-z_]+\b|minor", message), message
    forms = [f for f in page.forms if f.action == case.action]
    assert forms, f"the page has no form posting to {case.action}"
    control_name = case.control or case.problem
    marked = [
        (form, c)
        for form in forms
        for c in form.named(control_name)
        if c.attrs.get("aria-invalid") == "true"
    ]
    assert marked, f"{control_name} is not marked invalid"
    form, control = marked[0]
    assert eid in control.attrs.get("aria-describedby", "").split()
    for name_, typed in case.kept.items():
        shown = form.named(name_)
        assert shown, f"no {name_} in the form"
        assert shown[0].value == typed, (name_, shown[0].value[:80], typed[:80])
