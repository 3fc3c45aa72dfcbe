"""Monthly figures for the dashboards: one bounded query per chart.

Every query covers the twelve months the page shows (UTC month boundaries, ``[start, end)``)
and groups by month in PostgreSQL; months without rows read as zero. Money comes from the
ledger (``payouts.ledger``), which already nets refunds and lost disputes, in the
marketplace currency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, and_, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from lessons.courses.models import Course, Enrolment
from marketplace.profiles.models import ModerationDecision
from payouts.models import LedgerEntry, PaymentItem
from scheduling.lifecycle import State
from scheduling.models import Booking
from scheduling.payments import ITEM as BOOKING_ITEM
from search.counts import searches_by_month

# Lessons that took place with the tutor there: what a tutor counts as "taught".
TAUGHT = (
    State.COMPLETED.value,
    State.SETTLED.value,
    State.NO_SHOW_STUDENT.value,
    State.DISPUTED.value,
)


@dataclass(frozen=True)
class Months:
    """Consecutive calendar months, oldest first, as their first days."""

    firsts: list[date]

    @classmethod
    def ending(cls, today: date, count: int = 12) -> Months:
        year, month = today.year, today.month
        firsts = []
        for _ in range(count):
            firsts.append(date(year, month, 1))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return cls(firsts[::-1])

    @property
    def start(self) -> date:
        return self.firsts[0]

    @property
    def end(self) -> date:
        """The first day after the last month."""
        last = self.firsts[-1]
        return date(last.year + last.month // 12, last.month % 12 + 1, 1)

    @property
    def labels(self) -> list[str]:
        """ "March 2026": tooltips, descriptions and tables."""
        return [f"{d:%B %Y}" for d in self.firsts]

    @property
    def axis_labels(self) -> list[str]:
        """ "Mar" under the axis, with the year under the first month and each January."""
        return [
            f"{d:%b}\n{d:%Y}" if i == 0 or d.month == 1 else f"{d:%b}"
            for i, d in enumerate(self.firsts)
        ]

    def series(self, by_month: dict[date, Any], default: Any = 0) -> list[Any]:
        return [by_month.get(first, default) for first in self.firsts]

    def bounds(self, column: Any) -> ColumnElement[bool]:
        """``column`` (a timestamptz) inside these months, as UTC instants (index-friendly)."""
        start = datetime(self.start.year, self.start.month, 1, tzinfo=UTC)
        end = datetime(self.end.year, self.end.month, 1, tzinfo=UTC)
        return and_(column >= start, column < end)


def month_of(column: Any) -> ColumnElement[Any]:
    """The UTC calendar month of a timestamptz, as a date."""
    return cast(func.date_trunc("month", func.timezone("UTC", column)), Date)


def _by_month(rows: Iterable[Any]) -> dict[date, int]:
    return {row[0]: int(row[1] or 0) for row in rows}


# ------------------------------------------------------------------ a tutor's own figures


@dataclass(frozen=True)
class CourseFigures:
    course_id: int
    title: str
    enrolled: int
    completed: int

    @property
    def completion_percent(self) -> int | None:
        return round(100 * self.completed / self.enrolled) if self.enrolled else None


@dataclass(frozen=True)
class TutorFigures:
    months: Months
    currency: str
    earnings_minor: list[int]
    lessons: list[int]
    enrolments: list[int]
    completions: list[int]
    courses: list[CourseFigures]


async def tutor_figures(
    session: AsyncSession, tutor_id: int, currency: str, months: Months
) -> TutorFigures:
    # Earned: the tutor's share as it is credited (charges), less what refunds and lost
    # disputes took back, by the month it happened.
    month = month_of(LedgerEntry.created_at)
    earned = _by_month(
        await session.execute(
            select(month, func.sum(LedgerEntry.amount_minor))
            .where(
                LedgerEntry.party == "tutor",
                LedgerEntry.party_id == tutor_id,
                LedgerEntry.bucket == "pending",
                LedgerEntry.kind.in_(("charge", "refund", "dispute")),
                LedgerEntry.currency == currency,
                months.bounds(LedgerEntry.created_at),
            )
            .group_by(month)
        )
    )
    month = month_of(Booking.starts_at)
    taught = _by_month(
        await session.execute(
            select(month, func.count())
            .where(
                Booking.tutor_id == tutor_id,
                Booking.status.in_(TAUGHT),
                months.bounds(Booking.starts_at),
            )
            .group_by(month)
        )
    )
    # Enrolments and completions in one pass: each enrolment contributes its start and, when
    # finished, its completion, each in its own month.
    mine = (
        select(Enrolment.enrolled_at, Enrolment.completed_at)
        .join(Course, Course.id == Enrolment.course_id)
        .where(Course.tutor_id == tutor_id)
        .subquery()
    )
    events = union_all(
        select(mine.c.enrolled_at.label("at"), literal("enrolled").label("what")).where(
            months.bounds(mine.c.enrolled_at)
        ),
        select(mine.c.completed_at.label("at"), literal("completed").label("what")).where(
            months.bounds(mine.c.completed_at)
        ),
    ).subquery()
    month = month_of(events.c.at)
    enrolled: dict[date, int] = {}
    completed: dict[date, int] = {}
    for first, what, count in await session.execute(
        select(month, events.c.what, func.count()).group_by(month, events.c.what)
    ):
        (enrolled if what == "enrolled" else completed)[first] = int(count)
    per_course = await session.execute(
        select(
            Course.id,
            Course.title,
            func.count(Enrolment.id),
            func.count(Enrolment.completed_at),
        )
        .outerjoin(Enrolment, Enrolment.course_id == Course.id)
        .where(Course.tutor_id == tutor_id)
        .group_by(Course.id)
        .order_by(Course.title, Course.id)
    )
    return TutorFigures(
        months=months,
        currency=currency,
        earnings_minor=months.series(earned),
        lessons=months.series(taught),
        enrolments=months.series(enrolled),
        completions=months.series(completed),
        courses=[
            CourseFigures(cid, title, int(n), int(done)) for cid, title, n, done in per_course
        ],
    )


# ------------------------------------------------------------------ the marketplace's figures


@dataclass(frozen=True)
class MarketplaceFigures:
    months: Months
    currency: str
    bookings: list[int]
    gross_minor: list[int]
    take_minor: list[int]
    refunds_minor: list[int]
    """Negative: money that went back to students."""
    tutors_approved: list[int]
    searches: list[int]
    conversion_percent: list[float | None]
    """Paid lesson bookings per 100 searches; None in a month without searches."""


async def marketplace_figures(
    session: AsyncSession, currency: str, months: Months
) -> MarketplaceFigures:
    money = await _money_by_month(session, currency, months)
    approved = await _first_approvals_by_month(session, months)
    searches = await searches_by_month(session, months.start, months.end)
    bookings = months.series({m: v[0] for m, v in money.items()})
    counted = months.series(searches)
    return MarketplaceFigures(
        months=months,
        currency=currency,
        bookings=bookings,
        gross_minor=months.series({m: v[1] for m, v in money.items()}),
        take_minor=months.series({m: v[2] for m, v in money.items()}),
        refunds_minor=months.series({m: v[3] for m, v in money.items()}),
        tutors_approved=months.series(approved),
        searches=counted,
        conversion_percent=[
            round(100 * b / s, 1) if s else None for b, s in zip(bookings, counted, strict=True)
        ],
    )


async def _money_by_month(
    session: AsyncSession, currency: str, months: Months
) -> dict[date, tuple[int, int, int, int]]:
    """Month → (paid lesson bookings, gross volume, take, refunds), from the ledger alone."""
    month = month_of(LedgerEntry.created_at)
    student_card = and_(LedgerEntry.party == "student", LedgerEntry.bucket == "card")
    charge = and_(student_card, LedgerEntry.kind == "charge")
    rows = await session.execute(
        select(
            month,
            func.count().filter(and_(charge, PaymentItem.item_kind == BOOKING_ITEM)),
            # The student's card leg is negative for a charge and positive for a refund.
            -func.coalesce(func.sum(LedgerEntry.amount_minor).filter(charge), 0),
            # The platform's fee legs: credited with each charge, debited by refunds and lost
            # disputes, so this is the take that stays.
            func.coalesce(
                func.sum(LedgerEntry.amount_minor).filter(
                    and_(LedgerEntry.party == "platform", LedgerEntry.bucket == "fees")
                ),
                0,
            ),
            -func.coalesce(
                func.sum(LedgerEntry.amount_minor).filter(
                    and_(student_card, LedgerEntry.kind == "refund")
                ),
                0,
            ),
        )
        .outerjoin(PaymentItem, PaymentItem.id == LedgerEntry.item_id)
        .where(LedgerEntry.currency == currency, months.bounds(LedgerEntry.created_at))
        .group_by(month)
    )
    return {m: (int(b), int(g), int(t), int(r)) for m, b, g, t, r in rows}


async def _first_approvals_by_month(session: AsyncSession, months: Months) -> dict[date, int]:
    """Tutors approved for the first time, by month (a re-approval after a suspension or of
    changed details is not a new tutor)."""
    earlier = aliased(ModerationDecision)
    month = month_of(ModerationDecision.created_at)
    rows = await session.execute(
        select(month, func.count(func.distinct(ModerationDecision.tutor_id)))
        .where(
            ModerationDecision.action == "approve",
            months.bounds(ModerationDecision.created_at),
            ~select(earlier.id)
            .where(
                earlier.tutor_id == ModerationDecision.tutor_id,
                earlier.action == "approve",
                earlier.created_at < ModerationDecision.created_at,
            )
            .exists(),
        )
        .group_by(month)
    )
    return _by_month(rows)
