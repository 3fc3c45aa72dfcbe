"""Demo courses: two published courses with quizzes; a demo student can finish one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lessons import progress
from lessons.certificates.signing import signer_for
from lessons.courses import catalogue, enrolment, service
from lessons.courses.models import Course
from lessons.demo import EAR_TRAINING, JAZZ
from lessons.discussions.models import DiscussionThread
from lessons.quizzes import grading
from lessons.quizzes import service as quizzes
from lessons.quizzes.models import Question
from marketplace.accounts.models import User
from marketplace.app import demo_extras
from marketplace.seed.load import DEMO_PASSWORD, seed_demo
from marketplace.settings import Settings
from tests.helpers import login
from tests.payouts.flow import Env, ledger_is_balanced, pay
from tests.scheduling.helpers import sql


async def test_demo_courses_are_published_idempotent_and_completable(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    extras = demo_extras(settings)
    await seed_demo(sessions, "EUR", tutor_count=8, extras=extras)
    await seed_demo(sessions, "EUR", tutor_count=8, extras=extras)  # idempotent
    async with sessions() as session:
        courses = list(await session.scalars(select(Course).order_by(Course.id)))
        assert [c.title for c in courses] == [EAR_TRAINING, JAZZ]
        assert all(c.is_published for c in courses)
        _, total = await catalogue.public_courses(session)
        assert total == 2
        music = await session.scalar(
            select(func.count()).select_from(Question).where(Question.kind == "music")
        )
        assert music and music >= 6
        clips = list(
            await session.scalars(select(Question.audio_key).where(Question.audio_key.is_not(None)))
        )
        assert all(settings.media.root.joinpath(k).stat().st_size > 1000 for k in clips)
        student = await session.scalar(select(User).where(User.email.like("student1@%")))
        assert student is not None
        # Discussions on the free course, seeded once: a pinned welcome, an answered question.
        threads = list(
            await session.scalars(select(DiscussionThread).order_by(DiscussionThread.id))
        )
        assert [(t.course_id, t.pinned) for t in threads] == [
            (courses[0].id, True),
            (courses[0].id, False),
        ]
        assert threads[1].answer_post_id is not None and threads[1].tutor_replied
        assert threads[1].reply_count == 3
    free = courses[0]
    assert free.is_free and not courses[1].is_free
    signer = signer_for(settings.courses.signing_key, settings.web.base_url)
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        e = await enrolment.enrol(session, free.id, student.id)
        plan = await service.outline(session, free)
        for item in plan.items:
            if item.kind == "text":
                await progress.record(session, signer, free, e, item, now, completed=True)
        for quiz in plan.quizzes.values():
            _, attempt = await quizzes.start_attempt(session, quiz.id, student.id, now)
            questions = await quizzes.drawn_questions(session, attempt)
            answers: dict[str, Any] = {
                str(q.id): grading.correct_answer(q.kind, q.spec) for q in questions
            }
            _, done = await quizzes.submit(session, signer, attempt.id, student.id, answers, now)
            assert done.percent == 100.0, [q.kind for q in questions]
        await session.refresh(e)
        assert e.completed_at is not None and e.progress_percent == 100


def test_demo_extras_without_settings_skip_courses(settings: Settings) -> None:
    assert len(demo_extras(replace(settings))) == len(demo_extras()) + 1


async def test_the_paid_demo_course_is_bought_through_the_demo_gateway(
    demo_env: Env, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """On the embedded default (no Stripe keys) a demo student buys "Jazz harmony for
    pianists" through the demo payment step and can open its first item."""
    await seed_demo(sessions, "EUR", tutor_count=8, extras=demo_extras(settings))
    client = demo_env.client
    [(jazz_id, price)] = sql(client, "SELECT id, price_minor FROM courses WHERE title = $1", JAZZ)
    student = login(client, "student1@demo.duet.example", DEMO_PASSWORD)
    r = client.post(f"/api/v1/courses/{jazz_id}/buy", headers=student)
    assert r.status_code == 200, r.text
    payment = r.json()
    assert payment["mode"] == "demo" and payment["amount_minor"] == price
    pay(demo_env, payment)
    [mine] = client.get("/api/v1/me/courses", headers=student).json()
    assert mine["course_id"] == jazz_id and mine["source"] == "purchase"
    detail = client.get(f"/api/v1/courses/{jazz_id}", headers=student).json()
    first = detail["modules"][0]["items"][0]
    assert first["body_html"]  # the first item's content is served to the buyer
    assert ledger_is_balanced(demo_env)["student/card"] == -price
