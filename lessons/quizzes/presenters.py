"""What leaves the server about quizzes.

``question_out`` builds the answering view by *whitelisting* fields: prompts, choice texts and
the shown order, never the spec itself, so the answer key, accepted answers, tolerances and
feedback cannot reach the browser before the attempt is submitted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lessons.quizzes import grading
from lessons.quizzes.models import Question, Quiz, QuizAttempt
from lessons.quizzes.schemas import (
    AttemptOut,
    ChoiceOut,
    QuestionOut,
    QuestionResultOut,
    ResultOut,
)
from marketplace.media_links import MediaLinks


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def question_out(q: Question, layout: dict[str, list[str]], links: MediaLinks) -> QuestionOut:
    spec = q.spec
    choices: list[ChoiceOut] = []
    left: list[ChoiceOut] = []
    if q.kind in ("single", "multiple", "music"):
        texts = {o["id"]: o["text"] for o in spec["options"]}
        choices = [ChoiceOut(i, texts[i]) for i in layout.get("choices", []) if i in texts]
    elif q.kind == "true_false":
        choices = [ChoiceOut("true", "True"), ChoiceOut("false", "False")]
    elif q.kind == "ordering":
        texts = {i["id"]: i["text"] for i in spec["items"]}
        choices = [ChoiceOut(i, texts[i]) for i in layout.get("choices", []) if i in texts]
    elif q.kind == "matching":
        lefts = {p["id"]: p["left"] for p in spec["pairs"]}
        rights = {p["right_id"]: p["right"] for p in spec["pairs"]}
        left = [ChoiceOut(i, lefts[i]) for i in layout.get("left", []) if i in lefts]
        choices = [ChoiceOut(i, rights[i]) for i in layout.get("choices", []) if i in rights]
    return QuestionOut(
        id=q.id,
        kind=q.kind,
        prompt=q.prompt,
        points=q.points,
        choices=choices,
        left=left,
        unit=str(spec.get("unit", "")) if q.kind == "numeric" else "",
        audio_url=links.url(q.audio_key) if q.audio_key else None,
    )


def attempt_out(
    attempt: QuizAttempt, questions: list[Question], links: MediaLinks, now: datetime
) -> AttemptOut:
    seconds_left = None
    if attempt.deadline_at is not None:
        seconds_left = max(0, int((attempt.deadline_at - now).total_seconds()))
    return AttemptOut(
        id=attempt.id,
        quiz_id=attempt.quiz_id,
        number=attempt.number,
        status=attempt.status,
        started_at=attempt.started_at.isoformat(),
        deadline_at=_iso(attempt.deadline_at),
        seconds_left=seconds_left,
        preview=attempt.preview,
        questions=[question_out(q, attempt.layout.get(str(q.id), {}), links) for q in questions],
    )


def result_out(
    quiz: Quiz,
    attempt: QuizAttempt,
    questions: list[Question],
    *,
    review: bool,
    attempts_left: int | None,
) -> ResultOut:
    """The score always; per-question correctness, answers and feedback only when reviewable."""
    out: list[QuestionResultOut] = []
    for q in questions:
        result: dict[str, Any] = attempt.results.get(str(q.id), {})
        item = QuestionResultOut(
            question_id=q.id, earned=float(result.get("earned", 0)), points=q.points
        )
        if review:
            item.correct = bool(result.get("correct"))
            item.your_answer = attempt.answers.get(str(q.id))
            item.correct_answer = grading.correct_answer(q.kind, q.spec)
            item.feedback = list(result.get("feedback", []))
        out.append(item)
    return ResultOut(
        attempt_id=attempt.id,
        quiz_id=quiz.id,
        number=attempt.number,
        status=attempt.status,
        score_points=float(attempt.score_points or 0),
        max_points=attempt.max_points,
        percent=float(attempt.percent or 0),
        passed=bool(attempt.passed),
        pass_percent=quiz.pass_percent,
        review_shown=review,
        attempts_left=attempts_left,
        questions=out,
    )


def answer_text(q: Question, answer: Any) -> str:
    """An answer (or the key) in words, for the review page."""
    spec = q.spec
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        return "—"
    if q.kind in ("single", "music"):
        return next((o["text"] for o in spec["options"] if o["id"] == answer), "—")
    if q.kind == "multiple" and isinstance(answer, list):
        texts = [o["text"] for o in spec["options"] if o["id"] in answer]
        return ", ".join(texts) or "—"
    if q.kind == "true_false":
        return "True" if answer is True or answer == "true" else "False"
    if q.kind == "ordering" and isinstance(answer, list):
        items = {i["id"]: i["text"] for i in spec["items"]}
        return " → ".join(items.get(a, "?") for a in answer)
    if q.kind == "matching" and isinstance(answer, dict):
        rights = {p["right_id"]: p["right"] for p in spec["pairs"]}
        return "; ".join(
            f"{p['left']} = {rights.get(answer.get(p['id'], ''), '—')}" for p in spec["pairs"]
        )
    if q.kind == "numeric":
        unit = spec.get("unit", "")
        return f"{answer} {unit}".strip()
    return str(answer)
