"""Filing and handling reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit import service as audit
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.reports.models import Report, ReportReason, ReportStatus

MAX_DETAILS = 2000


@dataclass(frozen=True)
class Subject:
    """What is reported, described by the feature that owns it."""

    kind: str  # "message"
    id: int
    context_kind: str  # "conversation"
    context_id: int
    author_id: int
    excerpt: str
    link: str  # where an admin handling the report can see it in context


def parse_reason(value: str) -> ReportReason:
    try:
        return ReportReason(value)
    except ValueError:
        known = ", ".join(r.value for r in ReportReason)
        raise ValidationFailed({"reason": f"Choose one of: {known}."}) from None


async def file_report(
    session: AsyncSession, reporter_id: int, subject: Subject, reason: str, details: str
) -> tuple[Report, bool]:
    """(report, created). Reporting the same thing again while it is open returns the first."""
    chosen = parse_reason(reason)
    details = details.strip()
    if len(details) > MAX_DETAILS:
        raise ValidationFailed({"details": f"Use at most {MAX_DETAILS} characters."})
    if chosen is ReportReason.OTHER and not details:
        raise ValidationFailed({"details": "Tell us briefly what is wrong."})
    if subject.author_id == reporter_id:
        raise ValidationFailed({"message_id": "You cannot report your own message."})
    existing = await session.scalar(
        select(Report).where(
            Report.reporter_id == reporter_id,
            Report.subject_kind == subject.kind,
            Report.subject_id == subject.id,
            Report.status == ReportStatus.OPEN.value,
        )
    )
    if existing is not None:
        return existing, False
    report = Report(
        reporter_id=reporter_id,
        subject_kind=subject.kind,
        subject_id=subject.id,
        context_kind=subject.context_kind,
        context_id=subject.context_id,
        author_id=subject.author_id,
        excerpt=subject.excerpt[:4000],
        link=subject.link,
        reason=chosen.value,
        details=details,
    )
    session.add(report)
    await session.flush()
    return report, True


async def has_open_report(session: AsyncSession, context_kind: str, context_id: int) -> bool:
    """Whether an admin is handling a report about something said in this context."""
    found = await session.scalar(
        select(
            exists().where(
                Report.context_kind == context_kind,
                Report.context_id == context_id,
                Report.status == ReportStatus.OPEN.value,
            )
        )
    )
    return bool(found)


async def reports(
    session: AsyncSession, status: ReportStatus | None = ReportStatus.OPEN, limit: int = 100
) -> list[Report]:
    query = select(Report).order_by(Report.created_at.desc(), Report.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Report.status == status.value)
    return list(await session.scalars(query))


async def handle(
    session: AsyncSession, report_id: int, admin_id: int, outcome: str, note: str
) -> Report:
    """Close an open report as ``resolved`` or ``dismissed`` with a note for the record."""
    if outcome not in (ReportStatus.RESOLVED.value, ReportStatus.DISMISSED.value):
        raise ValidationFailed({"outcome": "Choose resolved or dismissed."})
    if len(note) > MAX_DETAILS:
        raise ValidationFailed({"note": f"Use at most {MAX_DETAILS} characters."})
    report = await session.get(Report, report_id, with_for_update=True)
    if report is None:
        raise NotFound("No such report.", code="report_not_found")
    if report.status != ReportStatus.OPEN.value:
        raise Conflict(f"This report is already {report.status}.", code="report_closed")
    report.status = outcome
    report.resolution_note = note.strip()
    report.handled_by = admin_id
    report.handled_at = datetime.now(UTC)
    await session.flush()
    await audit.record(
        session,
        action=f"report.{outcome}",
        actor_role="admin",
        actor_id=admin_id,
        subject_kind="report",
        subject_id=report.id,
        reason=report.resolution_note,
        details={"subject": f"{report.subject_kind}:{report.subject_id}"},
    )
    return report
