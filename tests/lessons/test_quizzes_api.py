"""Attempts over the API: no answer key before submission, limits enforced by the server."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import TestClient

from tests.helpers import account, fetch_sql, run_sql
from tests.lessons.helpers import (
    course,
    item,
    module,
    published_course,
    question,
    quiz_settings,
    user,
)
from tests.payouts.accounts import enable_payouts

EVERY_KIND: list[dict[str, Any]] = [
    {
        "kind": "single",
        "prompt": "Pick the tonic of G major.",
        "options": [
            {"text": "Gsecret", "correct": True, "feedback": "FEEDBACK-ONE"},
            {"text": "D"},
        ],
        "feedback_correct": "FEEDBACK-RIGHT",
        "feedback_incorrect": "FEEDBACK-WRONG",
    },
    {
        "kind": "multiple",
        "prompt": "Which are in C major?",
        "options": [{"text": "C", "correct": True}, {"text": "E", "correct": True}, {"text": "F#"}],
    },
    {"kind": "true_false", "prompt": "A fifth has seven semitones.", "answer": True},
    {"kind": "short", "prompt": "Relative minor of C?", "accepted": ["Aminor-secret", "Am"]},
    {"kind": "numeric", "prompt": "A4 in Hz?", "value": 440.123, "tolerance": 0.25, "unit": "Hz"},
    {"kind": "ordering", "prompt": "Order", "items": ["first-x", "second-x", "third-x"]},
    {
        "kind": "matching",
        "prompt": "Match",
        "pairs": [{"left": "m3", "right": "three"}, {"left": "M3", "right": "four"}],
    },
    {
        "kind": "music",
        "prompt": "Which interval?",
        "options": [{"text": "Major third", "correct": True}, {"text": "Minor third"}],
        "clip": {"mode": "melodic", "notes": "C4 E4", "tempo": 90},
    },
]
SECRETS = ["Aminor-secret", "440.123", "0.25", "FEEDBACK-ONE", "FEEDBACK-RIGHT", "FEEDBACK-WRONG"]


def _build(client: TestClient[Any], **settings: Any) -> tuple[dict[str, str], int, int, Any]:
    _, tutor = user(client, "tutor")
    c = course(client, tutor)
    m = module(client, tutor, c["id"], "All kinds")
    quiz = item(client, tutor, c["id"], m, "quiz", "Everything")
    for q in EVERY_KIND:
        quiz_view = question(client, tutor, c["id"], quiz["quiz_id"], **q)
    if settings:
        quiz_view = quiz_settings(client, tutor, c["id"], quiz["quiz_id"], **settings)
    assert client.post(f"/api/v1/tutor/courses/{c['id']}/publish", headers=tutor).status_code == 200
    return tutor, c["id"], quiz["quiz_id"], quiz_view


def test_answers_never_reach_the_student_before_submission(client: TestClient[Any]) -> None:
    _, course_id, quiz_id, key = _build(client, review_policy="after_submission")
    _, student = user(client, "student")
    assert client.post(f"/api/v1/courses/{course_id}/enrol", headers=student).status_code == 201
    payloads = [
        client.get(f"/api/v1/courses/{course_id}", headers=student),
        client.post(f"/api/v1/quizzes/{quiz_id}/attempts", headers=student),
    ]
    attempt = payloads[-1].json()
    payloads.append(client.get(f"/api/v1/quiz-attempts/{attempt['id']}", headers=student))
    payloads.append(client.post(f"/api/v1/quizzes/{quiz_id}/attempts", headers=student))  # resume
    payloads.append(client.get(f"/api/v1/quiz-attempts/{attempt['id']}/result", headers=student))
    payloads.append(client.get("/api/v1/courses"))
    client.cookies.clear()
    for response in payloads[:-2]:
        assert response.status_code in (200, 201), response.text
        text = response.text
        for secret in SECRETS:
            assert secret not in text, (secret, response.url)
        for forbidden in (
            '"correct"',
            '"accepted"',
            '"tolerance"',
            '"value"',
            '"right_id"',
            '"feedback"',
            '"spec"',
            '"definition"',
        ):
            assert forbidden not in text, (forbidden, response.url)
    assert payloads[-2].status_code == 409  # no result while the attempt is open
    # The ordering question is never shown in its correct order.
    by_kind = {q["kind"]: q for q in attempt["questions"]}
    assert [c["text"] for c in by_kind["ordering"]["choices"]] != ["first-x", "second-x", "third-x"]
    assert by_kind["music"]["audio_url"].endswith(".m4a")
    assert by_kind["numeric"]["unit"] == "Hz"
    # After submission the review (policy: after submission) shows the key and feedback.
    key_q = {q["kind"]: q for q in key["questions"]}
    assert key_q["short"]["definition"]["accepted"] == ["Aminor-secret", "Am"]
    r = client.post(
        f"/api/v1/quiz-attempts/{attempt['id']}/submit",
        json={"answers": {str(by_kind["short"]["id"]): "am"}},
        headers=student,
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["review_shown"] is True
    assert "Aminor-secret" in json.dumps(result)


def test_full_marks_partial_credit_and_pass_mark(client: TestClient[Any]) -> None:
    _, course_id, quiz_id, _ = _build(client, pass_percent=50)
    _, student = user(client, "student")
    client.post(f"/api/v1/courses/{course_id}/enrol", headers=student)
    a = client.post(f"/api/v1/quizzes/{quiz_id}/attempts", headers=student).json()
    q = {x["kind"]: x for x in a["questions"]}
    texts = {k: {c["text"]: c["id"] for c in v["choices"]} for k, v in q.items()}
    left = {c["text"]: c["id"] for c in q["matching"]["left"]}
    answers = {
        str(q["single"]["id"]): texts["single"]["Gsecret"],
        str(q["multiple"]["id"]): [texts["multiple"]["C"]],  # half credit
        str(q["true_false"]["id"]): True,
        str(q["short"]["id"]): " AM ",
        str(q["numeric"]["id"]): "440,3",
        str(q["ordering"]["id"]): [
            texts["ordering"][t] for t in ("first-x", "second-x", "third-x")
        ],
        str(q["matching"]["id"]): {left["m3"]: texts["matching"]["three"]},  # one of two
        str(q["music"]["id"]): texts["music"]["Minor third"],  # wrong
    }
    r = client.post(
        f"/api/v1/quiz-attempts/{a['id']}/submit", json={"answers": answers}, headers=student
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["score_points"] == 6.0 and result["max_points"] == 8
    assert result["percent"] == 75.0 and result["passed"] is True
    again = client.post(
        f"/api/v1/quiz-attempts/{a['id']}/submit", json={"answers": answers}, headers=student
    )
    assert again.status_code == 409 and again.json()["code"] == "attempt_closed"


def test_attempt_limit_and_review_after_last_attempt(client: TestClient[Any]) -> None:
    _, course_id, quiz_id, _ = _build(
        client, max_attempts=2, review_policy="after_last_attempt", pass_percent=100
    )
    _, student = user(client, "student")
    client.post(f"/api/v1/courses/{course_id}/enrol", headers=student)
    for number in (1, 2):
        a = client.post(f"/api/v1/quizzes/{quiz_id}/attempts", headers=student).json()
        assert a["number"] == number
        r = client.post(
            f"/api/v1/quiz-attempts/{a['id']}/submit", json={"answers": {}}, headers=student
        )
        assert r.json()["review_shown"] is (number == 2)
        assert r.json()["attempts_left"] == 2 - number
        if number == 1:
            assert "correct_answer" in r.text and r.json()["questions"][0]["correct_answer"] is None
    third = client.post(f"/api/v1/quizzes/{quiz_id}/attempts", headers=student)
    assert third.status_code == 409
    assert third.json()["code"] == "attempt_limit_reached"


def test_time_limit_is_enforced_by_the_server(client: TestClient[Any]) -> None:
    _, course_id, quiz_id, _ = _build(client, time_limit_minutes=5)
    _, student = user(client, "student")
    client.post(f"/api/v1/courses/{course_id}/enrol", headers=student)
    a = client.post(f"/api/v1/quizzes/{quiz_id}/attempts", headers=student).json()
    assert 290 <= a["seconds_left"] <= 300
    run_sql(
        client,
        "UPDATE quiz_attempts SET started_at = now() - interval '6 minutes', "
        "deadline_at = now() - interval '1 minute' WHERE id = $1",
        a["id"],
    )
    late = client.post(
        f"/api/v1/quiz-attempts/{a['id']}/submit", json={"answers": {}}, headers=student
    )
    assert late.status_code == 409 and late.json()["code"] == "time_limit_exceeded"
    # The expired attempt counts and is closed when next seen; a new one can start.
    result = client.get(f"/api/v1/quiz-attempts/{a['id']}/result", headers=student)
    assert result.status_code == 200 and result.json()["status"] == "expired"
    assert result.json()["score_points"] == 0
    nxt = client.post(f"/api/v1/quizzes/{quiz_id}/attempts", headers=student)
    assert nxt.status_code == 201 and nxt.json()["number"] == 2


def test_question_banks_draw_at_random(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    c = course(client, tutor)
    m = module(client, tutor, c["id"], "Banks")
    quiz = item(client, tutor, c["id"], m, "quiz", "Draw")
    for n in range(6):
        question(
            client,
            tutor,
            c["id"],
            quiz["quiz_id"],
            kind="numeric",
            prompt=f"Q{n}",
            value=n,
            bank="easy" if n < 4 else "hard",
        )
    quiz_settings(
        client,
        tutor,
        c["id"],
        quiz["quiz_id"],
        draw_rules=[{"bank": "easy", "count": 2}, {"bank": "hard", "count": 1}],
    )
    client.post(f"/api/v1/tutor/courses/{c['id']}/publish", headers=tutor)
    seen: set[tuple[str, ...]] = set()
    for _ in range(6):
        _, student = user(client, "student")
        client.post(f"/api/v1/courses/{c['id']}/enrol", headers=student)
        a = client.post(f"/api/v1/quizzes/{quiz['quiz_id']}/attempts", headers=student).json()
        prompts = sorted(q["prompt"] for q in a["questions"])
        assert len(prompts) == 3
        assert sum(p in ("Q4", "Q5") for p in prompts) == 1
        seen.add(tuple(prompts))
    assert len(seen) > 1


def test_ungradable_quizzes_are_refused_at_publish(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    c = course(client, tutor)
    m = module(client, tutor, c["id"], "M")
    quiz = item(client, tutor, c["id"], m, "quiz", "Broken")
    publish = f"/api/v1/tutor/courses/{c['id']}/publish"
    empty = client.post(publish, headers=tutor)
    assert empty.status_code == 422 and "has no questions" in json.dumps(empty.json())
    question(
        client,
        tutor,
        c["id"],
        quiz["quiz_id"],
        kind="single",
        prompt="?",
        options=[{"text": "a"}, {"text": "b"}],
    )
    no_correct = client.post(publish, headers=tutor)
    assert no_correct.status_code == 422 and "no correct option" in json.dumps(no_correct.json())
    view = question(
        client, tutor, c["id"], quiz["quiz_id"], kind="true_false", prompt="?", answer=True
    )
    bad = view["questions"][0]["id"]
    client.delete(
        f"/api/v1/tutor/courses/{c['id']}/quizzes/{quiz['quiz_id']}/questions/{bad}", headers=tutor
    )
    quiz_settings(
        client, tutor, c["id"], quiz["quiz_id"], draw_rules=[{"bank": "nope", "count": 1}]
    )
    empty_bank = client.post(publish, headers=tutor)
    assert empty_bank.status_code == 422 and "which is empty" in json.dumps(empty_bank.json())
    quiz_settings(client, tutor, c["id"], quiz["quiz_id"], draw_rules=[])
    assert client.post(publish, headers=tutor).status_code == 200
    # Once published it cannot be edited into an ungradable quiz.
    qid = client.get(
        f"/api/v1/tutor/courses/{c['id']}/quizzes/{quiz['quiz_id']}", headers=tutor
    ).json()["questions"][0]["id"]
    gone = client.delete(
        f"/api/v1/tutor/courses/{c['id']}/quizzes/{quiz['quiz_id']}/questions/{qid}", headers=tutor
    )
    assert gone.status_code == 422


def test_tutor_preview_attempts_do_not_count(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    built = published_course(client, tutor)
    a = client.post(f"/api/v1/quizzes/{built['quiz']['quiz_id']}/attempts", headers=tutor)
    assert a.status_code == 201 and a.json()["preview"] is True
    _, stranger = user(client, "student")
    r = client.post(f"/api/v1/quizzes/{built['quiz']['quiz_id']}/attempts", headers=stranger)
    assert r.status_code == 404 and r.json()["code"] == "not_enrolled"
    other = client.get(f"/api/v1/quiz-attempts/{a.json()['id']}", headers=stranger)
    assert other.status_code == 404


def test_admins_take_no_quiz_preview_of_a_paid_course(client: TestClient[Any]) -> None:
    tutor_id, tutor = user(client, "tutor")
    enable_payouts(client, tutor_id)
    built = published_course(client, tutor, price_minor=4900)
    assert built["course"]["free"] is False
    admin = account(client, "admin")
    r = client.post(f"/api/v1/quizzes/{built['quiz']['quiz_id']}/attempts", headers=admin)
    assert r.status_code == 404 and r.json()["code"] == "not_enrolled"
    assert fetch_sql(client, "SELECT count(*) AS n FROM quiz_attempts")[0]["n"] == 0


def test_editing_a_question_keeps_the_ids_of_unchanged_choices(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    built = published_course(client, tutor)
    cid, qid = built["course"]["id"], built["quiz"]["quiz_id"]
    _, student = user(client, "student")
    client.post(f"/api/v1/courses/{cid}/enrol", headers=student)
    a = client.post(f"/api/v1/quizzes/{qid}/attempts", headers=student).json()
    single = next(q for q in a["questions"] if q["kind"] == "single")
    right = next(c["id"] for c in single["choices"] if c["text"] == "Minor pentatonic")
    # The tutor fixes a typo in a wrong option while the attempt is open.
    edited = {
        "kind": "single",
        "prompt": "Which scale is the blues built on?",
        "options": [
            {"text": "Minor pentatonic", "correct": True},
            {"text": "Lydian mode"},
            {"text": "Whole tone"},
        ],
    }
    r = client.put(
        f"/api/v1/tutor/courses/{cid}/quizzes/{qid}/questions/{single['id']}",
        json=edited,
        headers=tutor,
    )
    assert r.status_code == 200, r.text
    again = client.get(f"/api/v1/quiz-attempts/{a['id']}", headers=student).json()
    shown = next(q for q in again["questions"] if q["id"] == single["id"])
    assert right in [c["id"] for c in shown["choices"]]
    result = client.post(
        f"/api/v1/quiz-attempts/{a['id']}/submit",
        json={"answers": {str(single["id"]): right}},
        headers=student,
    ).json()
    assert next(q for q in result["questions"] if q["question_id"] == single["id"])["correct"]
