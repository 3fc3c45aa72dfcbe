"""Demo reviews: past lessons the demo tutors gave, and what their students said about them.

``seed_reviews`` is a ``DemoExtra`` (the composition root passes it to ``duet seed-demo``). For
each demo tutor without past lessons yet it books lessons in the past and moves each through the
lifecycle (held → confirmed → completed → settled, with ``transition()`` at the times it would
have happened), then adds reviews — varied ratings, most with text, some with sub-ratings, many
answered by the tutor. Tutors get anything from no lessons to sixty, so ranking by the Bayesian
score has something to do. Demo students get a completed lesson waiting for their review, so a
person trying Duet can write one. Idempotent: tutors with past lessons are left alone.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import Role, User
from marketplace.accounts.passwords import hash_password
from marketplace.profiles.models import TutorProfile
from marketplace.seed.demo_data import EMAIL_DOMAIN
from marketplace.seed.load import DEMO_PASSWORD
from marketplace.settings import ReviewSettings
from reviews import demo_text
from reviews.jobs import send_invite
from reviews.models import Review, ReviewStatus
from reviews.service import REVIEWABLE, recompute_stats
from scheduling import lifecycle
from scheduling.lifecycle import HOLD, Actor, State
from scheduling.models import Booking, BookingTransition

logger = logging.getLogger(__name__)
DISPUTE_WINDOW = timedelta(hours=72)  # the default; demo lessons are far enough in the past
REVIEW_WINDOW = timedelta(days=14)
LESSON_HOURS = (9, 10, 11, 14, 15, 16, 17, 18, 19)
# Days ago of the demo students' own lessons, kept free of the tutors' other demo lessons.
RESERVED_DAYS = {1, 2, 3, 40}
_DATE_TRANSITIONS = text(
    """
    UPDATE booking_transitions AS t SET created_at = CASE t.event
        WHEN 'confirm' THEN b.created_at + interval '2 minutes'
        WHEN 'complete' THEN b.ends_at + interval '1 minute'
        WHEN 'settle' THEN b.ends_at + :window + interval '1 minute'
        ELSE t.created_at END
    FROM bookings AS b
    WHERE b.id = t.booking_id AND b.id IN :ids
    """
).bindparams(bindparam("ids", expanding=True))


@dataclass(frozen=True)
class PlannedReview:
    rating: int
    teaching: int | None
    communication: int | None
    punctuality: int | None
    text: str
    after: timedelta  # written this long after the lesson ended
    reply: str | None
    reply_after: timedelta


@dataclass(frozen=True)
class PlannedLesson:
    student_id: int
    days_ago: int
    hour: int | None  # in the tutor's zone; None: a daytime hour for the student too
    review: PlannedReview | None


def past_student_email(n: int) -> str:
    return f"past.student{n:02d}@{EMAIL_DOMAIN}"


async def _past_students(session: AsyncSession) -> list[tuple[int, str]]:
    """The demo tutors' former students (created once, all with the demo password)."""
    wanted = {
        past_student_email(i + 1): (name, zone)
        for i, (name, zone) in enumerate(demo_text.PAST_STUDENTS)
    }
    have = dict(
        (await session.execute(select(User.email, User.id).where(User.email.in_(wanted)))).all()
    )
    missing = [email for email in wanted if email not in have]
    if missing:
        password = hash_password(DEMO_PASSWORD)
        for email in missing:
            name, zone = wanted[email]
            user = User(
                email=email,
                password_hash=password,
                full_name=name,
                time_zone=zone,
                roles=[Role.STUDENT.value],
            )
            session.add(user)
            await session.flush()
            have[email] = user.id
    return [(have[email], wanted[email][0]) for email in wanted]


async def _demo_students(session: AsyncSession) -> list[int]:
    """Ids of student1…student3 of the demo, in that order (absent ones are skipped)."""
    emails = [f"student{i}@{EMAIL_DOMAIN}" for i in (1, 2, 3)]
    found = dict(
        (await session.execute(select(User.email, User.id).where(User.email.in_(emails)))).all()
    )
    return [found[e] for e in emails if e in found]


# Tutors differ: most are loved, some are fine, a few disappoint. (share of tutors, chance of
# 1★ … 5★ for one of their lessons); on average about 4.5 stars, as marketplaces see.
_TIERS = (
    (0.55, (0.01, 0.01, 0.03, 0.15, 0.80)),
    (0.35, (0.02, 0.04, 0.10, 0.34, 0.50)),
    (0.10, (0.08, 0.10, 0.22, 0.35, 0.25)),
)


def _stars(rng: random.Random, chances: tuple[float, ...]) -> int:
    return rng.choices((1, 2, 3, 4, 5), weights=chances)[0]


def _sub(rng: random.Random, stars: int) -> int:
    return max(1, min(5, stars + rng.choice((-1, 0, 0, 0, 1))))


def _review(
    rng: random.Random,
    stars: int,
    tutor_first: str,
    instrument: str,
    student: str,
    *,
    reply_rate: float,
) -> PlannedReview:
    detailed = rng.random() < 0.6
    text, reply = demo_text.lesson_words(
        rng, stars, tutor_first, student.split()[0], instrument, text=rng.random() < 0.8
    )
    # Tutors answer criticism more often than praise.
    replies = rng.random() < (reply_rate + (0.3 if stars <= 3 else 0))
    return PlannedReview(
        rating=stars,
        teaching=_sub(rng, stars) if detailed else None,
        communication=_sub(rng, stars) if detailed else None,
        punctuality=_sub(rng, stars) if detailed else None,
        text=text,
        after=timedelta(minutes=rng.randint(45, 6 * 24 * 60)),
        reply=reply if replies else None,
        reply_after=timedelta(minutes=rng.randint(30, 3 * 24 * 60)),
    )


def plan_lessons(
    tutor_id: int,
    rank: int,
    tutor_first: str,
    instrument: str,
    pool: list[tuple[int, str]],
    demo_students: list[int],
) -> list[PlannedLesson]:
    """The tutor's past lessons, the same on every run for the same tutor id. ``rank`` 0 and 1
    are the tutors whose logins the seed prints: they get the demo students' lessons."""
    rng = random.Random(f"duet-demo-reviews-{tutor_id}")  # noqa: S311 - the same every run
    roll = rng.random()
    if rank == 0:
        count = 34
    elif rank == 1:
        count = 12
    elif roll < 0.22:
        count = 0
    elif roll < 0.55:
        count = rng.randint(1, 4)
    elif roll < 0.85:
        count = rng.randint(5, 18)
    else:
        count = rng.randint(20, 60)
    chances = rng.choices([t[1] for t in _TIERS], weights=[t[0] for t in _TIERS])[0]
    reply_rate = rng.choice((0.0, 0.25, 0.5, 0.8))
    if rank == 0:  # the first printed tutor login: well liked, and answers most reviews
        chances, reply_rate = _TIERS[0][1], 0.85
    days = rng.sample([d for d in range(4, 400) if d not in RESERVED_DAYS], count)
    lessons = []
    for days_ago in days:
        student_id, student_name = rng.choice(pool)
        review = None
        if rng.random() < 0.85:
            stars = _stars(rng, chances)
            review = _review(
                rng, stars, tutor_first, instrument, student_name, reply_rate=reply_rate
            )
        lessons.append(PlannedLesson(student_id, days_ago, rng.choice(LESSON_HOURS), review))
    if rank == 0 and len(demo_students) >= 1:
        # Olivia: last month's lesson, reviewed and answered; one two days ago to review now.
        lessons.append(
            PlannedLesson(
                demo_students[0],
                40,
                None,
                PlannedReview(
                    5, 5, 5, 5,
                    f"{tutor_first} made the first steps easy and fun. I practise every day now!",
                    timedelta(hours=5), "Thank you, Olivia! See you soon.", timedelta(hours=20),
                ),
            )
        )  # fmt: skip
        lessons.append(PlannedLesson(demo_students[0], 2, None, None))
    if rank == 1 and len(demo_students) >= 3:
        # Tiago has a lesson to review; Maya reviewed hers yesterday and may still edit it.
        lessons.append(PlannedLesson(demo_students[1], 3, None, None))
        lessons.append(
            PlannedLesson(
                demo_students[2],
                1,
                None,
                PlannedReview(
                    4, 4, 5, None, "Lovely first lesson, lots of good exercises to take home.",
                    timedelta(hours=1), None, timedelta(0),
                ),
            )
        )  # fmt: skip
    return lessons


def _shared_hour(tutor: ZoneInfo, student: ZoneInfo, now: datetime) -> int:
    """A lesson hour in the tutor's zone that is daytime for the student as well."""
    for hour in (17, 16, 18, 15, 19, 14, 10, 11, 12, 9, 20, 13, 8, 21):
        at = datetime.combine(now.date(), time(hour), tzinfo=tutor).astimezone(student)
        if 9 <= at.hour <= 20:
            return hour
    return 17


def _lesson_start(days_ago: int, hour: int, zone: ZoneInfo, now: datetime) -> datetime:
    day = (now.astimezone(zone) - timedelta(days=days_ago)).date()
    start = datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
    while start > now - timedelta(hours=3):  # late-evening "yesterday" may still be ahead
        start -= timedelta(days=1)
    return start


async def _add_lessons(
    session: AsyncSession, profile: TutorProfile, zone_name: str, plan: list[PlannedLesson]
) -> int:
    """Book, confirm, complete (and settle) each planned lesson, then add its review."""
    now = datetime.now(UTC)
    zone = ZoneInfo(zone_name)
    prices = {p.duration_minutes: p.price_minor for p in profile.prices}
    minutes = 60 if 60 in prices else min(prices)
    rng = random.Random(f"duet-demo-booked-{profile.user_id}")  # noqa: S311 - demo data
    student_zones = dict(
        (
            await session.execute(
                select(User.id, User.time_zone).where(
                    User.id.in_([p.student_id for p in plan if p.hour is None])
                )
            )
        ).all()
    )
    bookings = []
    for lesson in plan:
        hour = lesson.hour
        if hour is None:
            hour = _shared_hour(zone, ZoneInfo(student_zones.get(lesson.student_id, "UTC")), now)
        start = _lesson_start(lesson.days_ago, hour, zone, now)
        end = start + timedelta(minutes=minutes)
        booked = start - timedelta(days=rng.randint(1, 14), minutes=rng.randint(0, 600))
        booking = Booking(
            tutor_id=profile.user_id,
            student_id=lesson.student_id,
            status=State.HELD.value,
            starts_at=start,
            ends_at=end,
            period=Range(start, end, bounds="[)"),
            blocked=Range(start, end, bounds="[)"),
            duration_minutes=minutes,
            price_minor=prices[minutes],
            currency=profile.currency,
            tutor_time_zone=zone_name,
            hold_expires_at=booked + lifecycle.HOLD_DURATION,
            sequence=0,
            cancel_reason="",
            created_at=booked,
            updated_at=booked,
        )
        bookings.append((lesson, booking, booked))
    session.add_all([b for _, b, _ in bookings])
    await session.flush()
    for _, booking, booked in bookings:
        session.add(
            BookingTransition(
                booking_id=booking.id,
                event=HOLD.event,
                from_status="",
                to_status=State.HELD.value,
                actor=Actor.STUDENT.value,
                actor_id=booking.student_id,
                created_at=booked,
            )
        )
        steps = [
            ("confirm", Actor.PAYMENT, booked + timedelta(minutes=2)),
            ("complete", Actor.SYSTEM, booking.ends_at + timedelta(minutes=1)),
        ]
        settles = booking.ends_at + DISPUTE_WINDOW + timedelta(minutes=1)
        if settles < now:
            steps.append(("settle", Actor.SYSTEM, settles))
        for event, actor, at in steps:
            await lifecycle.transition(
                session, booking, event, actor, dispute_window=DISPUTE_WINDOW, now=at
            )
    await session.flush()
    # transition() records "now"; date the record when each step would have happened.
    await session.execute(
        _DATE_TRANSITIONS, {"ids": [b.id for _, b, _ in bookings], "window": DISPUTE_WINDOW}
    )
    reviews = 0
    for lesson, booking, _ in bookings:
        if (plan_review := lesson.review) is None:
            continue
        written = min(
            booking.ends_at + plan_review.after,
            booking.ends_at + REVIEW_WINDOW - timedelta(hours=1),
            now - timedelta(minutes=5),
        )
        replied = (
            min(written + plan_review.reply_after, now - timedelta(minutes=1))
            if plan_review.reply
            else None
        )
        session.add(
            Review(
                booking_id=booking.id,
                tutor_id=booking.tutor_id,
                student_id=booking.student_id,
                rating=plan_review.rating,
                teaching=plan_review.teaching,
                communication=plan_review.communication,
                punctuality=plan_review.punctuality,
                body=plan_review.text,
                lesson_starts_at=booking.starts_at,
                lesson_minutes=booking.duration_minutes,
                status=ReviewStatus.PUBLISHED.value,
                reply=plan_review.reply,
                replied_at=replied,
                created_at=written,
                updated_at=replied or written,
            )
        )
        reviews += 1
    await session.flush()
    await recompute_stats(session, profile.user_id)
    for lesson, booking, _ in bookings:
        if lesson.review is None:  # what completing the lesson would have sent
            await send_invite(session, booking.id, ReviewSettings(), now)
    return reviews


async def seed_reviews(session: AsyncSession, tutor_ids: list[int]) -> None:
    """Past lessons and reviews for every demo tutor who has no past lessons yet."""
    ids = sorted(tutor_ids)
    if not ids:
        return
    taught = set(
        await session.scalars(
            select(Booking.tutor_id)
            .where(Booking.tutor_id.in_(ids), Booking.status.in_(sorted(REVIEWABLE)))
            .distinct()
        )
    )
    pending = [t for t in ids if t not in taught]
    if not pending:
        return
    pool = await _past_students(session)
    demo_students = await _demo_students(session)
    profiles = {
        p.user_id: p
        for p in await session.scalars(
            select(TutorProfile).where(TutorProfile.user_id.in_(pending))
        )
    }
    zones = dict(
        (await session.execute(select(User.id, User.time_zone).where(User.id.in_(pending)))).all()
    )
    for tutor_id in pending:
        profile = profiles.get(tutor_id)
        if profile is None or not profile.prices or not profile.instruments:
            continue
        plan = plan_lessons(
            tutor_id,
            ids.index(tutor_id),
            profile.display_name.split()[0],
            profile.instruments[0].instrument,
            pool,
            demo_students,
        )
        if not plan:
            continue
        try:
            # One tutor's lessons are all-or-nothing; a clash with a real booking skips them.
            async with session.begin_nested():
                await _add_lessons(session, profile, zones.get(tutor_id, "UTC"), plan)
        except IntegrityError as exc:
            logger.warning("demo lessons for tutor %s skipped: %s", tutor_id, exc.orig)
