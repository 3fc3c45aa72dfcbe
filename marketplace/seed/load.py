"""``duet seed-demo``: believable demo tutors, students and an admin, idempotently.

Each account is keyed by its e-mail address: running the seed again creates only what is missing
and leaves everything else as it is (including anything a person changed while trying Duet).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace import places
from marketplace.accounts.models import PhoneNumber, Role, User
from marketplace.accounts.passwords import hash_password
from marketplace.profiles.models import (
    LessonPrice,
    StudentInstrument,
    StudentProfile,
    TutorInstrument,
    TutorProfile,
    TutorStatus,
)
from marketplace.seed.demo_data import DemoStudent, DemoTutor, demo_students, demo_tutors
from marketplace.text import render_markdown

DEMO_PASSWORD = "play-it-again"  # noqa: S105 - published demo credential, local data only
ADMIN_EMAIL = "admin@demo.duet.example"
BATCH = 25

Progress = Callable[[int, int], None]
# Demo data owned by higher packages (availability, ...), passed in by the composition root so
# the kernel never imports them: called with the ids of every demo tutor; must be idempotent.
# It may return lines to print with the demo logins (a demo lesson to join, ...).
DemoExtra = Callable[[AsyncSession, list[int]], Awaitable[Sequence[str] | None]]


@dataclass(frozen=True)
class SeedResult:
    created_tutors: int
    created_students: int
    created_admin: bool
    logins: list[tuple[str, str, str]]  # (role, e-mail, password)
    notes: list[str] = field(default_factory=list)  # from the extras


async def seed_demo(
    sessions: async_sessionmaker[AsyncSession],
    currency: str,
    *,
    tutor_count: int = 200,
    progress: Progress | None = None,
    extras: Sequence[DemoExtra] = (),
) -> SeedResult:
    # One argon2 hash for every demo account: hashing 200 passwords would take seconds and the
    # demo password is public anyway. Real accounts each get their own salt.
    password_hash = hash_password(DEMO_PASSWORD)
    tutors = demo_tutors(tutor_count)
    students = demo_students()
    async with sessions() as session, session.begin():
        existing = set(await session.scalars(select(User.email)))
        created_admin = ADMIN_EMAIL not in existing
        if created_admin:
            session.add(
                User(
                    email=ADMIN_EMAIL,
                    password_hash=password_hash,
                    full_name="Duet Admin",
                    roles=[Role.ADMIN.value],
                )
            )
        new_students = [s for s in students if s.email not in existing]
        for student in new_students:
            await _add_student(session, student, password_hash)
    new_tutors = [t for t in tutors if t.email not in existing]
    done = 0
    for start in range(0, len(new_tutors), BATCH):
        # Batches keep transactions short and let progress move; each batch is all-or-nothing.
        async with sessions() as session, session.begin():
            for tutor in new_tutors[start : start + BATCH]:
                await _add_tutor(session, tutor, password_hash, currency)
        done += len(new_tutors[start : start + BATCH])
        if progress:
            progress(done, len(new_tutors))
    notes = await run_extras(sessions, extras, tutor_count=tutor_count)
    logins = [("admin", ADMIN_EMAIL, DEMO_PASSWORD)]
    logins += [("student", s.email, DEMO_PASSWORD) for s in students[:2]]
    logins += [("tutor", t.email, DEMO_PASSWORD) for t in tutors[:2]]
    return SeedResult(
        created_tutors=len(new_tutors),
        created_students=len(new_students),
        created_admin=created_admin,
        logins=logins,
        notes=notes,
    )


async def run_extras(
    sessions: async_sessionmaker[AsyncSession],
    extras: Sequence[DemoExtra],
    *,
    tutor_count: int = 200,
) -> list[str]:
    """Run the extras over the demo tutors that exist; ``duet run`` calls this on every start,
    so time-bound demo data (a lesson whose room is open) is fresh."""
    notes: list[str] = []
    if not extras:
        return notes
    emails = [t.email for t in demo_tutors(tutor_count)]
    async with sessions() as session, session.begin():
        tutor_ids = list(await session.scalars(select(User.id).where(User.email.in_(emails))))
        for extra in extras:
            notes += await extra(session, tutor_ids) or []
    return notes


async def _add_student(session: AsyncSession, demo: DemoStudent, password_hash: str) -> None:
    user = User(
        email=demo.email,
        password_hash=password_hash,
        full_name=demo.full_name,
        time_zone=demo.time_zone,
        roles=[Role.STUDENT.value],
    )
    session.add(user)
    await session.flush()
    session.add(
        StudentProfile(
            user_id=user.id,
            instruments=[StudentInstrument(instrument=i, level=lv) for i, lv in demo.instruments],
        )
    )
    if demo.phone_e164:
        # Demo numbers are fictional ranges; they count as confirmed so reminders show up in
        # the SMS outbox as they would on a real phone.
        session.add(PhoneNumber(user_id=user.id, e164=demo.phone_e164, confirmed_at=func.now()))


async def _add_tutor(
    session: AsyncSession, demo: DemoTutor, password_hash: str, currency: str
) -> None:
    city = places.get_city(demo.city_geoname_id)
    user = User(
        email=demo.email,
        password_hash=password_hash,
        full_name=demo.full_name,
        time_zone=demo.time_zone,
        roles=[Role.TUTOR.value, Role.STUDENT.value],
    )
    session.add(user)
    await session.flush()
    now = datetime.now(UTC)
    session.add(
        TutorProfile(
            user_id=user.id,
            status=TutorStatus.APPROVED.value,
            display_name=demo.display_name,
            headline=demo.headline,
            bio_markdown=demo.bio_markdown,
            bio_html=render_markdown(demo.bio_markdown),
            genres=list(demo.genres),
            languages=list(demo.languages),
            formats=list(demo.formats),
            travel_radius_km=demo.travel_radius_km,
            city_geoname_id=city.geoname_id if city else None,
            city_name=city.name if city else "",
            country_code=city.country_code if city else "",
            latitude=city.latitude if city else None,
            longitude=city.longitude if city else None,
            currency=currency,
            trial_price_minor=demo.trial_price_minor,
            submitted_at=now,
            approved_at=now,
            instruments=[
                TutorInstrument(instrument=slug, levels=list(levels), position=i)
                for i, (slug, levels) in enumerate(demo.instruments)
            ],
            prices=[LessonPrice(duration_minutes=d, price_minor=p) for d, p in demo.prices],
        )
    )
