"""Taking quizzes: drawing an attempt, enforcing limits, grading, and what a review may show.

The server decides everything: which questions an attempt has (a random draw from each bank),
the order of questions and options, the deadline (``started_at`` + the time limit, checked
on submit with a small grace for the network), and how many attempts a student has. An attempt
past its deadline is closed as ``expired`` with the answers it has (none) the next time anyone
looks; submitting it is a 409 ``time_limit_exceeded``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lessons import progress
from lessons.certificates.signing import Signer
from lessons.courses.models import Course, CourseItem, Enrolment
from lessons.courses.publishing import ensure_still_gradable
from lessons.courses.service import load_course
from lessons.quizzes import definitions, grading, tones
from lessons.quizzes.models import AttemptStatus, Question, Quiz, QuizAttempt, ReviewPolicy
from lessons.quizzes.schemas import QuestionIn, QuizSettingsIn
from marketplace.errors import Conflict, FieldErrors, NotFound, ValidationFailed
from marketplace.media import MediaStorage, new_key
from marketplace.wording import plural

GRACE = timedelta(seconds=5)
MAX_QUESTIONS = 200


# ---------------------------------------------------------------- authoring


async def quiz_for_course(session: AsyncSession, course: Course, quiz_id: int) -> Quiz:
    quiz = await session.get(Quiz, quiz_id)
    if quiz is None or quiz.course_id != course.id:
        raise NotFound("No such quiz in this course.", code="quiz_not_found")
    return quiz


async def questions_of(session: AsyncSession, quiz: Quiz) -> list[Question]:
    return list(
        await session.scalars(
            select(Question)
            .where(Question.quiz_id == quiz.id)
            .order_by(Question.position, Question.id)
        )
    )


async def update_settings(session: AsyncSession, quiz: Quiz, data: QuizSettingsIn) -> Quiz:
    errors = FieldErrors()
    if not 0 <= data.pass_percent <= 100:
        errors.add("pass_percent", "The pass mark is a percentage from 0 to 100.")
    if data.time_limit_minutes is not None and not 1 <= data.time_limit_minutes <= 1440:
        errors.add("time_limit_minutes", "The time limit is 1 to 1440 minutes, or none.")
    if data.max_attempts is not None and not 1 <= data.max_attempts <= 100:
        errors.add("max_attempts", "Allow 1 to 100 attempts, or leave it unlimited.")
    if data.review_policy not in {p.value for p in ReviewPolicy}:
        errors.add("review_policy", "Choose when students see the answers.")
    banks: set[str] = set()
    for i, rule in enumerate(data.draw_rules):
        if not rule.bank.strip() or rule.bank in banks:
            errors.add(f"draw_rules[{i}].bank", "Name each bank once.")
        if not 1 <= rule.count <= MAX_QUESTIONS:
            errors.add(f"draw_rules[{i}].count", "Draw at least one question.")
        banks.add(rule.bank)
    errors.raise_if_any()
    quiz.pass_percent = data.pass_percent
    quiz.time_limit_seconds = data.time_limit_minutes * 60 if data.time_limit_minutes else None
    quiz.max_attempts = data.max_attempts
    quiz.shuffle_questions = data.shuffle_questions
    quiz.shuffle_options = data.shuffle_options
    quiz.review_policy = data.review_policy
    quiz.draw_rules = [{"bank": r.bank.strip(), "count": r.count} for r in data.draw_rules]
    await ensure_still_gradable(session, quiz)
    return quiz


async def save_question(
    session: AsyncSession,
    storage: MediaStorage,
    quiz: Quiz,
    data: QuestionIn,
    question_id: int | None = None,
) -> Question:
    """Add (or replace) a question; a music question's clip is synthesised here, once."""
    spec = definitions.build_spec(data)
    if question_id is None:
        count = await session.scalar(
            select(func.count()).select_from(Question).where(Question.quiz_id == quiz.id)
        )
        if (count or 0) >= MAX_QUESTIONS:
            raise Conflict(f"A quiz has at most {MAX_QUESTIONS} questions.", code="too_many")
        last = await session.scalar(
            select(func.max(Question.position)).where(Question.quiz_id == quiz.id)
        )
        question = Question(quiz_id=quiz.id, position=(last or 0) + 1)
        session.add(question)
    else:
        found = await session.get(Question, question_id)
        if found is None or found.quiz_id != quiz.id:
            raise NotFound("No such question.", code="question_not_found")
        question = found
    old_clip = (question.spec or {}).get("clip") if question_id else None
    if question_id is not None and question.kind == data.kind:
        spec = definitions.keep_ids(data.kind, question.spec, spec)
    question.kind = data.kind
    question.prompt = data.prompt.strip()
    question.points = data.points
    question.bank = data.bank.strip()
    question.feedback_correct = data.feedback_correct.strip()
    question.feedback_incorrect = data.feedback_incorrect.strip()
    question.spec = spec
    if data.kind == "music" and "clip" in spec:
        if spec["clip"] != old_clip or question.audio_key is None:
            clip = spec["clip"]
            audio = tones.clip_m4a(clip["mode"], clip["notes"], clip["tempo"])
            key = new_key("quiz-audio", ".m4a")
            storage.save(key, audio)
            question.audio_key = key
    else:
        question.audio_key = None
    await session.flush()
    await ensure_still_gradable(session, quiz)
    return question


async def delete_question(session: AsyncSession, quiz: Quiz, question_id: int) -> None:
    question = await session.get(Question, question_id)
    if question is None or question.quiz_id != quiz.id:
        raise NotFound("No such question.", code="question_not_found")
    await session.delete(question)
    await session.flush()
    await ensure_still_gradable(session, quiz)


# ---------------------------------------------------------------- attempts


@dataclass(frozen=True)
class QuizContext:
    quiz: Quiz
    course: Course
    item: CourseItem


async def context(session: AsyncSession, quiz_id: int) -> QuizContext:
    quiz = await session.get(Quiz, quiz_id)
    if quiz is None:
        raise NotFound("No such quiz.", code="quiz_not_found")
    course = await load_course(session, quiz.course_id)
    item = await session.get(CourseItem, quiz.item_id)
    assert item is not None
    return QuizContext(quiz, course, item)


async def _enrolment(session: AsyncSession, course: Course, student_id: int) -> Enrolment:
    enrolment = await session.scalar(
        select(Enrolment)
        .where(
            Enrolment.course_id == course.id,
            Enrolment.student_id == student_id,
            Enrolment.ended_at.is_(None),
        )
        .with_for_update()
    )
    if enrolment is None:
        raise NotFound("Enrol in the course to take its quizzes.", code="not_enrolled")
    return enrolment


def finished_count(attempts: list[QuizAttempt]) -> int:
    return sum(1 for a in attempts if a.status != AttemptStatus.IN_PROGRESS.value and not a.preview)


async def attempts_of(session: AsyncSession, quiz: Quiz, student_id: int) -> list[QuizAttempt]:
    return list(
        await session.scalars(
            select(QuizAttempt)
            .where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.student_id == student_id)
            .order_by(QuizAttempt.number)
        )
    )


def attempts_left(quiz: Quiz, attempts: list[QuizAttempt]) -> int | None:
    if quiz.max_attempts is None:
        return None
    return max(0, quiz.max_attempts - finished_count(attempts))


def _draw(quiz: Quiz, questions: list[Question], rng: random.Random) -> list[Question]:
    if quiz.draw_rules:
        drawn: list[Question] = []
        for rule in quiz.draw_rules:
            bank = [q for q in questions if q.bank == rule["bank"]]
            drawn += rng.sample(bank, min(rule["count"], len(bank)))
        drawn.sort(key=lambda q: (q.position, q.id))
    else:
        drawn = list(questions)
    if quiz.shuffle_questions:
        rng.shuffle(drawn)
    return drawn


def _layout(quiz: Quiz, question: Question, rng: random.Random) -> dict[str, list[str]]:
    """The order choices are shown in. Ordering items and matching partners are always
    shuffled (shown in the answer's order they would give it away); options on request."""
    spec = question.spec
    if question.kind in ("single", "multiple", "music"):
        ids = [o["id"] for o in spec["options"]]
        if quiz.shuffle_options:
            rng.shuffle(ids)
        return {"choices": ids}
    if question.kind == "ordering":
        ids = [i["id"] for i in spec["items"]]
        return {"choices": _derange(ids, rng)}
    if question.kind == "matching":
        left = [p["id"] for p in spec["pairs"]]
        right = [p["right_id"] for p in spec["pairs"]]
        if quiz.shuffle_options:
            rng.shuffle(left)
        return {"left": left, "choices": _derange(right, rng)}
    return {}


def _derange(ids: list[str], rng: random.Random) -> list[str]:
    shuffled = list(ids)
    if len(ids) < 2:
        return shuffled
    while shuffled == ids:
        rng.shuffle(shuffled)
    return shuffled


async def close_if_expired(
    session: AsyncSession, quiz: Quiz, attempt: QuizAttempt, now: datetime
) -> QuizAttempt:
    """An open attempt past its deadline (and the grace) is graded as it stands: unanswered."""
    if (
        attempt.status == AttemptStatus.IN_PROGRESS.value
        and attempt.deadline_at is not None
        and now > attempt.deadline_at + GRACE
    ):
        await _grade(session, quiz, attempt, {}, now, AttemptStatus.EXPIRED)
    return attempt


async def start_attempt(
    session: AsyncSession,
    quiz_id: int,
    student_id: int,
    now: datetime,
    *,
    rng: random.Random | None = None,
) -> tuple[QuizContext, QuizAttempt]:
    """The student's open attempt, or a new one; the course's tutor gets an uncounted preview.
    Anyone else needs an active enrolment (404 ``not_enrolled``): an admin takes no quiz, since
    a preview shows a paid course's questions to someone who has not bought it."""
    ctx = await context(session, quiz_id)
    preview = student_id == ctx.course.tutor_id
    enrolment = None if preview else await _enrolment(session, ctx.course, student_id)
    attempts = await attempts_of(session, ctx.quiz, student_id)
    for attempt in attempts:
        if attempt.status == AttemptStatus.IN_PROGRESS.value:
            await close_if_expired(session, ctx.quiz, attempt, now)
            if attempt.status == AttemptStatus.IN_PROGRESS.value:
                return ctx, attempt
    if not preview:
        left = attempts_left(ctx.quiz, attempts)
        if left == 0:
            raise Conflict(
                f"You have used all {plural(ctx.quiz.max_attempts or 0, 'attempt')} at this quiz.",
                code="attempt_limit_reached",
            )
    questions = await questions_of(session, ctx.quiz)
    if not questions:
        raise Conflict("This quiz has no questions yet.", code="quiz_empty")
    rng = rng or random.SystemRandom()
    drawn = _draw(ctx.quiz, questions, rng)
    attempt = QuizAttempt(
        quiz_id=ctx.quiz.id,
        student_id=student_id,
        enrolment_id=enrolment.id if enrolment else None,
        number=(max((a.number for a in attempts), default=0)) + 1,
        status=AttemptStatus.IN_PROGRESS.value,
        question_ids=[q.id for q in drawn],
        layout={str(q.id): _layout(ctx.quiz, q, rng) for q in drawn},
        answers={},
        results={},
        max_points=sum(q.points for q in drawn),
        started_at=now,
        deadline_at=now + timedelta(seconds=ctx.quiz.time_limit_seconds)
        if ctx.quiz.time_limit_seconds
        else None,
        preview=preview,
    )
    try:
        async with session.begin_nested():
            session.add(attempt)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "An attempt at this quiz is already open in another window.", code="attempt_open"
        ) from None
    return ctx, attempt


async def attempt_for(
    session: AsyncSession, attempt_id: int, student_id: int, now: datetime, *, lock: bool = False
) -> tuple[QuizContext, QuizAttempt]:
    attempt = await session.get(QuizAttempt, attempt_id, with_for_update=lock)
    if attempt is None or attempt.student_id != student_id:
        raise NotFound("No such attempt.", code="attempt_not_found")
    ctx = await context(session, attempt.quiz_id)
    await close_if_expired(session, ctx.quiz, attempt, now)
    return ctx, attempt


async def drawn_questions(session: AsyncSession, attempt: QuizAttempt) -> list[Question]:
    rows = {
        q.id: q
        for q in await session.scalars(
            select(Question).where(Question.id.in_(attempt.question_ids))
        )
    }
    # A question the tutor deleted after the draw is simply gone from the attempt.
    return [rows[qid] for qid in attempt.question_ids if qid in rows]


async def submit(
    session: AsyncSession,
    signer: Signer,
    attempt_id: int,
    student_id: int,
    answers: dict[str, Any],
    now: datetime,
) -> tuple[QuizContext, QuizAttempt]:
    attempt = await session.get(QuizAttempt, attempt_id, with_for_update=True)
    if attempt is None or attempt.student_id != student_id:
        raise NotFound("No such attempt.", code="attempt_not_found")
    ctx = await context(session, attempt.quiz_id)
    if attempt.status != AttemptStatus.IN_PROGRESS.value:
        raise Conflict("This attempt is already submitted.", code="attempt_closed")
    if attempt.deadline_at is not None and now > attempt.deadline_at + GRACE:
        raise Conflict(
            "The time limit for this attempt has passed; it was not accepted.",
            code="time_limit_exceeded",
        )
    if len(answers) > len(attempt.question_ids):
        raise ValidationFailed({"answers": "Answer only the questions of this attempt."})
    if attempt.enrolment_id is not None and not attempt.preview:
        enrolment = await session.get(Enrolment, attempt.enrolment_id, with_for_update=True)
        if enrolment is None or not enrolment.active:
            raise NotFound("Your access to this course has ended.", code="not_enrolled")
    await _grade(session, ctx.quiz, attempt, answers, now, AttemptStatus.SUBMITTED)
    if attempt.passed and not attempt.preview and attempt.enrolment_id is not None:
        enrolment = await session.get(Enrolment, attempt.enrolment_id)
        assert enrolment is not None
        await progress.quiz_passed(session, signer, ctx.course, enrolment, ctx.item, now)
    return ctx, attempt


async def _grade(
    session: AsyncSession,
    quiz: Quiz,
    attempt: QuizAttempt,
    answers: dict[str, Any],
    now: datetime,
    status: AttemptStatus,
) -> None:
    questions = await drawn_questions(session, attempt)
    results: dict[str, Any] = {}
    earned = 0.0
    total = 0
    for q in questions:
        answer = answers.get(str(q.id))
        mark = grading.grade(q.kind, q.spec, q.points, answer)
        feedback = list(mark.feedback)
        general = q.feedback_correct if mark.correct else q.feedback_incorrect
        if general:
            feedback.append(general)
        results[str(q.id)] = {
            "earned": mark.earned,
            "points": q.points,
            "correct": mark.correct,
            "feedback": feedback,
        }
        earned += mark.earned
        total += q.points
    attempt.answers = {str(q.id): answers.get(str(q.id)) for q in questions}
    attempt.results = results
    attempt.score_points = round(earned, 2)
    attempt.max_points = total
    attempt.percent = round(100 * earned / total, 2) if total else 0.0
    attempt.passed = attempt.percent + grading.EPSILON >= quiz.pass_percent
    attempt.status = status.value
    attempt.submitted_at = now
    await session.flush()


def review_shown(quiz: Quiz, attempt: QuizAttempt, attempts: list[QuizAttempt]) -> bool:
    """May the student see the answer key and the feedback of this finished attempt?"""
    if attempt.status == AttemptStatus.IN_PROGRESS.value:
        return False
    if attempt.preview or quiz.review_policy == ReviewPolicy.AFTER_SUBMISSION.value:
        return True
    if quiz.review_policy == ReviewPolicy.AFTER_LAST_ATTEMPT.value:
        return attempts_left(quiz, attempts) == 0
    return False


async def best_results(
    session: AsyncSession, quiz_ids: list[int], student_ids: list[int]
) -> dict[tuple[int, int], float]:
    """Best percentage per (quiz, student), for the tutor's progress table."""
    if not quiz_ids or not student_ids:
        return {}
    rows = await session.execute(
        select(QuizAttempt.quiz_id, QuizAttempt.student_id, func.max(QuizAttempt.percent))
        .where(
            QuizAttempt.quiz_id.in_(quiz_ids),
            QuizAttempt.student_id.in_(student_ids),
            QuizAttempt.preview.is_(False),
            QuizAttempt.status != AttemptStatus.IN_PROGRESS.value,
        )
        .group_by(QuizAttempt.quiz_id, QuizAttempt.student_id)
    )
    return {(q, s): float(p or 0) for q, s, p in rows.all()}
