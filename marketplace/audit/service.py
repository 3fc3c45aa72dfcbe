"""Recording and reading the audit trail.

Every action has a stable machine name declared in ``ACTIONS`` (the admin page filters by it
and exports it); ``record()`` refuses a name that is not declared, so a typo fails in tests
rather than hiding entries from a search. Actions an admin takes with a reason require one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit.models import AuditEntry
from marketplace.errors import ValidationFailed
from marketplace.request_context import current_request_id


@dataclass(frozen=True)
class ActionKind:
    label: str
    reason_required: bool = False


ACTIONS: Mapping[str, ActionKind] = {
    # Tutor approval and moderation (admins).
    "tutor.approve": ActionKind("Tutor approved"),
    "tutor.reject": ActionKind("Tutor rejected", reason_required=True),
    "tutor.suspend": ActionKind("Tutor suspended", reason_required=True),
    # Roles.
    "user.role_added": ActionKind("Role added to an account"),
    "user.admin_granted": ActionKind("Admin role granted"),
    # Booking decisions that are an admin's (participants' own changes are in the booking log).
    "booking.confirm": ActionKind("Booking confirmed by an admin"),
    "booking.complete": ActionKind("Booking completed by an admin"),
    "booking.end_lesson": ActionKind("Lesson room ended by an admin"),
    "booking.settle": ActionKind("Booking settled by an admin"),
    "booking.resolve_for_tutor": ActionKind("Dispute resolved for the tutor"),
    "booking.resolve_for_student": ActionKind("Dispute resolved for the student"),
    # Money.
    "refund.issued": ActionKind("Refund issued"),
    "transfer.created": ActionKind("Transfer to a tutor decided"),
    "dispute.won": ActionKind("Card dispute won"),
    "dispute.lost": ActionKind("Card dispute lost"),
    # Content moderation.
    "review.hide": ActionKind("Review hidden", reason_required=True),
    "review.restore": ActionKind("Review restored", reason_required=True),
    "review.dismiss_reports": ActionKind("Review reports dismissed", reason_required=True),
    "report.resolved": ActionKind("Report resolved"),
    "report.dismissed": ActionKind("Report dismissed"),
    "discussion_post.hide": ActionKind("Discussion post hidden", reason_required=True),
    "discussion_post.restore": ActionKind("Discussion post restored"),
    "certificate.revoke": ActionKind("Certificate revoked", reason_required=True),
    # Personal data (the user on their own account; the erasure job).
    "account.export_requested": ActionKind("Data export requested"),
    "account.deletion_requested": ActionKind("Account deletion confirmed"),
    "account.erased": ActionKind("Account erased"),
}

ROLES = ("admin", "tutor", "student", "user", "policy", "system", "payment", "operator")
"""Who acted: an admin; a tutor or student in that role (moderating their course); a ``user``
on their own account (adding a role); the refund ``policy`` applied to a participant's own
request; a timed job (``system``); the payment provider's webhook (``payment``); or an
``operator`` at the command line."""


async def record(
    session: AsyncSession,
    *,
    action: str,
    actor_role: str,
    actor_id: int | None,
    subject_kind: str,
    subject_id: int | str,
    reason: str = "",
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry in the caller's transaction (it commits or rolls back with the action)."""
    kind = ACTIONS.get(action)
    if kind is None:
        raise ValueError(f"undeclared audit action {action!r}")
    if actor_role not in ROLES:
        raise ValueError(f"unknown audit actor role {actor_role!r}")
    reason = reason.strip()
    if kind.reason_required and actor_role == "admin" and not reason:
        raise ValidationFailed({"reason": "Give the reason for the record."})
    entry = AuditEntry(
        action=action,
        actor_role=actor_role,
        actor_id=actor_id,
        subject_kind=subject_kind,
        subject_id=str(subject_id),
        reason=reason[:2000],
        details=dict(details or {}),
        request_id=current_request_id(),
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditQuery:
    actor_id: int | None = None
    action: str | None = None
    subject_kind: str | None = None
    subject_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive


def _filtered(query: AuditQuery) -> Select[AuditEntry]:
    stmt = select(AuditEntry)
    if query.actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == query.actor_id)
    if query.action:
        # "refund" finds every refund.* action; a full name finds exactly that one.
        if "." in query.action:
            stmt = stmt.where(AuditEntry.action == query.action)
        else:
            stmt = stmt.where(AuditEntry.action.startswith(query.action + ".", autoescape=True))
    if query.subject_kind:
        stmt = stmt.where(AuditEntry.subject_kind == query.subject_kind)
    if query.subject_id:
        stmt = stmt.where(AuditEntry.subject_id == query.subject_id)
    if query.since is not None:
        stmt = stmt.where(AuditEntry.at >= query.since)
    if query.until is not None:
        stmt = stmt.where(AuditEntry.at < query.until)
    return stmt


async def search(
    session: AsyncSession, query: AuditQuery, *, page: int, per_page: int
) -> tuple[list[AuditEntry], int]:
    """Newest first, one page, and the total count for the pager."""
    base = _filtered(query)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await session.scalars(
        base.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), int(total or 0)


EXPORT_LIMIT = 100_000
"""Rows in one CSV export; narrow the filter for more (the page says so)."""


async def export_rows(session: AsyncSession, query: AuditQuery) -> list[AuditEntry]:
    rows = await session.scalars(
        _filtered(query).order_by(AuditEntry.at, AuditEntry.id).limit(EXPORT_LIMIT)
    )
    return list(rows)


CSV_HEADER = (
    "id",
    "time_utc",
    "actor_id",
    "actor_role",
    "action",
    "subject_kind",
    "subject_id",
    "reason",
    "request_id",
    "details",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading ``'``
    (the OWASP advice for CSV injection), so ``=HYPERLINK(...)`` in a reason stays inert."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(rows: Iterable[AuditEntry]) -> str:
    import json

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow(
            [
                csv_cell(v)
                for v in (
                    r.id,
                    r.at.isoformat(),
                    r.actor_id if r.actor_id is not None else "",
                    r.actor_role,
                    r.action,
                    r.subject_kind,
                    r.subject_id,
                    r.reason,
                    r.request_id,
                    json.dumps(r.details, sort_keys=True) if r.details else "",
                )
            ]
        )
    return out.getvalue()
