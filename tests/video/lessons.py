"""Lessons for room tests: a tutor, a student, a confirmed booking, and API tokens for each."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects.postgresql import Range

from marketplace import db
from marketplace.accounts import service as accounts
from marketplace.accounts.models import TokenKind, User
from marketplace.accounts.passwords import hash_password
from scheduling.lifecycle import State
from scheduling.models import Booking

_numbers = itertools.count(1)
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Lesson:
    booking_id: int
    tutor_id: int
    student_id: int
    tutor: str  # bearer tokens
    student: str
    outsider: str
    admin: str
    tutor_email: str
    student_email: str


async def make_lesson(
    database_url: str,
    *,
    starts_in: timedelta = timedelta(minutes=-5),
    minutes: int = 60,
    status: State = State.CONFIRMED,
) -> Lesson:
    """A lesson starting ``starts_in`` from now (negative: already running)."""
    n = next(_numbers)
    engine = db.create_engine(database_url, pool_size=1)
    password_hash = hash_password(PASSWORD)
    try:
        async with db.create_session_factory(engine)() as session, session.begin():
            users: dict[str, User] = {}
            for role, roles in (
                ("tutor", ["tutor"]),
                ("student", ["student"]),
                ("outsider", ["student"]),
                ("admin", ["admin"]),
            ):
                user = User(
                    email=f"{role}{n}@room.example",
                    password_hash=password_hash,
                    full_name=f"{role.title()} {n}",
                    roles=roles,
                    time_zone="Europe/Berlin",
                )
                session.add(user)
                users[role] = user
            await session.flush()
            start = (datetime.now(UTC) + starts_in).replace(microsecond=0)
            end = start + timedelta(minutes=minutes)
            booking = Booking(
                tutor_id=users["tutor"].id,
                student_id=users["student"].id,
                status=status.value,
                starts_at=start,
                ends_at=end,
                period=Range(start, end, bounds="[)"),
                blocked=Range(start, end, bounds="[)"),
                duration_minutes=minutes,
                price_minor=4500,
                currency="EUR",
                tutor_time_zone="Europe/Berlin",
                hold_expires_at=None,
                sequence=1,
                cancel_reason="",
            )
            session.add(booking)
            await session.flush()
            tokens = {}
            for role, user in users.items():
                issued = await accounts.issue_token(
                    session, user, TokenKind.API, lifetime=timedelta(hours=2)
                )
                tokens[role] = issued.secret
            return Lesson(
                booking_id=booking.id,
                tutor_id=users["tutor"].id,
                student_id=users["student"].id,
                tutor=tokens["tutor"],
                student=tokens["student"],
                outsider=tokens["outsider"],
                admin=tokens["admin"],
                tutor_email=users["tutor"].email,
                student_email=users["student"].email,
            )
    finally:
        await engine.dispose()
