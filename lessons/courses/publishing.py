"""Publishing: whether a course (and each quiz in it) can be published, and doing it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.courses.models import Course, CourseStatus, ItemKind, MediaState
from lessons.courses.service import load_course, outline, tutor_is_approved
from lessons.quizzes import definitions
from lessons.quizzes.models import Question, Quiz
from marketplace.errors import Conflict, ValidationFailed


async def quiz_problems(session: AsyncSession, quiz: Quiz) -> list[str]:
    """Why ``quiz`` cannot be graded: its questions, its banks and its rules."""
    questions = list(await session.scalars(select(Question).where(Question.quiz_id == quiz.id)))
    found: list[str] = []
    if not questions:
        found.append("has no questions")
    for number, q in enumerate(sorted(questions, key=lambda q: q.position), start=1):
        for problem in definitions.problems(q.kind, q.spec, q.audio_key is not None):
            found.append(f"question {number} {problem}")
    banks: dict[str, int] = {}
    for q in questions:
        banks[q.bank] = banks.get(q.bank, 0) + 1
    for rule in quiz.draw_rules:
        have = banks.get(rule["bank"], 0)
        if have == 0:
            found.append(f"draws from the bank “{rule['bank']}”, which is empty")
        elif rule["count"] > have:
            found.append(
                f"draws {rule['count']} questions from “{rule['bank']}”, which has only {have}"
            )
    if quiz.review_policy == "after_last_attempt" and quiz.max_attempts is None:
        found.append("shows answers after the last attempt but has no attempt limit")
    return found


async def publish_problems(session: AsyncSession, course: Course) -> dict[str, str]:
    plan = await outline(session, course)
    problems: dict[str, str] = {}
    items = plan.items
    if not items:
        problems["items"] = "Add at least one item before publishing."
    elif not any(i.required for i in items):
        problems["items"] = "Mark at least one item as required (it defines completion)."
    for item in items:
        key = f"items[{item.id}]"
        if item.kind in (ItemKind.AUDIO.value, ItemKind.VIDEO.value, ItemKind.FILE.value):
            media = plan.media.get(item.id)
            if media is None:
                problems[key] = f"“{item.title}” has no file yet."
            elif media.status != MediaState.READY.value:
                problems[key] = f"“{item.title}” is still {media.status}."
        elif item.kind == ItemKind.TEXT.value and not item.body_markdown.strip():
            problems[key] = f"“{item.title}” has no text."
        elif item.kind == ItemKind.QUIZ.value:
            found = await quiz_problems(session, plan.quizzes[item.id])
            if found:
                problems[key] = f"The quiz “{item.title}” cannot be graded: {'; '.join(found)}."
    return problems


async def publish(session: AsyncSession, course: Course) -> Course:
    if not await tutor_is_approved(session, course.tutor_id):
        raise Conflict(
            "Your tutor profile must be approved before you publish a course.",
            code="tutor_not_approved",
        )
    problems = await publish_problems(session, course)
    if problems:
        raise ValidationFailed(problems, "This course cannot be published yet.")
    if not course.is_published:
        course.status = CourseStatus.PUBLISHED.value
        course.published_at = course.published_at or datetime.now(UTC)
    return course


async def unpublish(session: AsyncSession, course: Course) -> Course:
    """Hidden from the catalogue and closed to new students; enrolled students keep access."""
    course.status = CourseStatus.DRAFT.value
    return course


async def ensure_still_gradable(session: AsyncSession, quiz: Quiz) -> None:
    """A quiz in a published course may change, but never into one that cannot be graded."""
    course = await load_course(session, quiz.course_id)
    if not course.is_published:
        return
    await session.flush()
    found = await quiz_problems(session, quiz)
    if found:
        raise ValidationFailed(
            {"quiz": "; ".join(found)},
            "The course is published, so its quizzes must stay gradable: " + "; ".join(found),
        )
