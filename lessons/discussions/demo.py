"""Demo discussions: three demo students on the free ear-training course, talking with its tutor.

They are students 2 to 4: the first demo student (whose login the seed prints) is left to enrol
by themselves, then finds the discussions already alive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.courses.enrolment import grant_enrolment
from lessons.courses.models import Course, EnrolmentSource
from lessons.demo import EAR_TRAINING
from lessons.discussions.models import DiscussionPost, DiscussionThread
from marketplace.accounts.models import User
from marketplace.seed.demo_data import EMAIL_DOMAIN
from marketplace.text import render_message

STUDENTS = [f"student{n}@{EMAIL_DOMAIN}" for n in (2, 3, 4)]

# (title, pinned, [(who, text)]); who is "tutor" or a student's index. The reply marked "✔"
# is the answer the tutor chose.
Script = list[tuple[str, bool, list[tuple[str | int, str]]]]


def _script() -> Script:
    return [
        (
            "Welcome! Introduce yourself here",
            True,
            [
                (
                    "tutor",
                    "Welcome to the course! Tell us **what you play** and what you would "
                    "like your ear to do for you: play songs by ear, sing in tune, transcribe "
                    "solos… I read every post and answer questions here twice a week.",
                ),
                (0, "Hi all! Adult beginner on piano. I'd love to pick out melodies by ear."),
                (1, "Hello from Porto 👋 I sing in a choir and want to hold my harmony part."),
            ],
        ),
        (
            "I keep confusing major and minor thirds",
            False,
            [
                (
                    0,
                    "In the interval quiz I get the thirds wrong about half the time. Is "
                    "there a trick to hear the difference?",
                ),
                (
                    2,
                    "✔ What helped me: sing the first two notes of *Oh When the Saints* "
                    "(major third) and of *Greensleeves* (minor third) before each answer.",
                ),
                (
                    "tutor",
                    "Great tip. Also listen for the **mood**: a major third sounds open and "
                    "bright, a minor third darker. Play both on one root, ten times a day for "
                    "a week, and it will click.",
                ),
                (0, "Thank you both, the song trick works! 8 out of 10 today."),
            ],
        ),
    ]


async def seed_discussions(session: AsyncSession, tutor_ids: list[int]) -> None:
    """Idempotent: does nothing when the demo course already has discussions."""
    course = await session.scalar(select(Course).where(Course.title == EAR_TRAINING))
    if course is None:
        return
    if await session.scalar(
        select(DiscussionThread.id).where(DiscussionThread.course_id == course.id).limit(1)
    ):
        return
    students = list(await session.scalars(select(User).where(User.email.in_(STUDENTS))))
    students.sort(key=lambda u: STUDENTS.index(u.email))
    if len(students) < len(STUDENTS):
        return
    for student in students:
        await grant_enrolment(
            session, course.id, student.id, source=EnrolmentSource.FREE.value, reference="demo"
        )
    start = datetime.now(UTC) - timedelta(days=3)
    for t, (title, pinned, posts) in enumerate(_script()):
        authors = [course.tutor_id if who == "tutor" else students[int(who)].id for who, _ in posts]
        thread = DiscussionThread(
            course_id=course.id,
            author_id=authors[0],
            title=title,
            pinned=pinned,
            created_at=start + timedelta(hours=20 * t),
        )
        session.add(thread)
        await session.flush()
        for i, ((who, text), author) in enumerate(zip(posts, authors, strict=True)):
            is_answer = text.startswith("✔ ")
            body = text.removeprefix("✔ ")
            at = start + timedelta(hours=20 * t + 3 * i)
            post = DiscussionPost(
                thread_id=thread.id,
                author_id=author,
                first=i == 0,
                body=body,
                body_html=render_message(body),
                by_tutor=who == "tutor",
                created_at=at,
            )
            session.add(post)
            await session.flush()
            if is_answer:
                thread.answer_post_id = post.id
            thread.last_post_at = at
            thread.last_author_id = author
        thread.reply_count = len(posts) - 1
        thread.tutor_replied = "tutor" in [who for who, _ in posts]
    await session.flush()
