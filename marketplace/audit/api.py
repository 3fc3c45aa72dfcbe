"""The audit trail for admins: a JSON search, a CSV export and the page."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter
from litestar.response import Template
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.audit import service
from marketplace.audit.models import AuditEntry
from marketplace.errors import ValidationFailed
from marketplace.web.access import Access
from marketplace.web.services import Services
from marketplace.web.templating import page

Actor = Annotated[str | None, QueryParameter(max_length=254)]
ActionName = Annotated[str | None, QueryParameter(max_length=64, pattern=r"^[a-z_.]*$")]
SubjectKind = Annotated[str | None, QueryParameter(max_length=32, pattern=r"^[a-z_]*$")]
SubjectId = Annotated[str | None, QueryParameter(max_length=64)]
Since = Annotated[date | None, QueryParameter(name="from")]
Until = Annotated[date | None, QueryParameter(name="to")]
PageNo = Annotated[int, QueryParameter(ge=1, le=100_000)]
PerPage = Annotated[int, QueryParameter(ge=1, le=200)]


class AuditEntryOut(msgspec.Struct):
    id: int
    at: datetime
    actor_id: int | None
    actor_role: str
    actor_email: str | None
    action: str
    action_label: str
    subject_kind: str
    subject_id: str
    reason: str
    details: dict[str, Any]
    request_id: str


class AuditPageOut(msgspec.Struct):
    entries: list[AuditEntryOut]
    total: int
    page: int
    per_page: int
    pages: int


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


async def _query(
    session: AsyncSession,
    actor: str | None,
    action: str | None,
    subject_kind: str | None,
    subject_id: str | None,
    since: date | None,
    until: date | None,
) -> service.AuditQuery | None:
    """The filter; None when the actor named by e-mail does not exist (nothing matches)."""
    if since and until and until < since:
        raise ValidationFailed({"to": "The end date is before the start date."})
    actor = (actor or "").strip()
    actor_id: int | None = None
    if actor.isdigit():
        actor_id = int(actor)
        if actor_id > 2**63 - 1:
            raise ValidationFailed({"actor": "Give a user id or an e-mail address."})
    elif actor:
        if "@" not in actor:
            raise ValidationFailed({"actor": "Give a user id or an e-mail address."})
        found = await session.scalar(select(User.id).where(func.lower(User.email) == actor.lower()))
        if found is None:
            return None
        actor_id = found
    return service.AuditQuery(
        actor_id=actor_id,
        action=(action or "").strip() or None,
        subject_kind=(subject_kind or "").strip() or None,
        subject_id=(subject_id or "").strip() or None,
        since=datetime.combine(since, time(), UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(), UTC) if until else None,
    )


async def _emails(session: AsyncSession, rows: list[AuditEntry]) -> dict[int, str]:
    ids = {r.actor_id for r in rows if r.actor_id is not None}
    if not ids:
        return {}
    found = await session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return {i: e for i, e in found.all()}


def _out(r: AuditEntry, emails: dict[int, str]) -> AuditEntryOut:
    kind = service.ACTIONS.get(r.action)
    return AuditEntryOut(
        id=r.id,
        at=r.at,
        actor_id=r.actor_id,
        actor_role=r.actor_role,
        actor_email=emails.get(r.actor_id) if r.actor_id is not None else None,
        action=r.action,
        action_label=kind.label if kind else r.action,
        subject_kind=r.subject_kind,
        subject_id=r.subject_id,
        reason=r.reason,
        details=r.details,
        request_id=r.request_id,
    )


async def _search(
    request: Request[Any, Any, Any], filters: dict[str, Any], page_no: int, per_page: int
) -> AuditPageOut:
    async with _services(request).sessions() as session:
        query = await _query(session, **filters)
        rows, total = (
            await service.search(session, query, page=page_no, per_page=per_page)
            if query is not None
            else ([], 0)
        )
        emails = await _emails(session, rows)
    return AuditPageOut(
        entries=[_out(r, emails) for r in rows],
        total=total,
        page=page_no,
        per_page=per_page,
        pages=max(1, -(-total // per_page)),
    )


class AuditController(Controller):
    path = "/api/v1/admin/audit"
    tags = ["admin"]

    @get("/", access=Access.ADMIN)
    async def search(
        self,
        request: Request[Any, Any, Any],
        actor: Actor = None,
        action: ActionName = None,
        subject_kind: SubjectKind = None,
        subject_id: SubjectId = None,
        since: Since = None,
        until: Until = None,
        page: PageNo = 1,
        per_page: PerPage = 50,
    ) -> AuditPageOut:
        """Newest first. ``actor``: a user id or e-mail; ``action``: a full name
        (``refund.issued``) or a family (``refund``); ``from``/``to``: UTC dates, inclusive."""
        filters = dict(
            actor=actor,
            action=action,
            subject_kind=subject_kind,
            subject_id=subject_id,
            since=since,
            until=until,
        )
        return await _search(request, filters, page, per_page)

    @get("/export.csv", access=Access.ADMIN, media_type="text/csv")
    async def export(
        self,
        request: Request[Any, Any, Any],
        actor: Actor = None,
        action: ActionName = None,
        subject_kind: SubjectKind = None,
        subject_id: SubjectId = None,
        since: Since = None,
        until: Until = None,
    ) -> Response[str]:
        """The same filters as the search, oldest first, as CSV (at most 100,000 rows). Cells
        that a spreadsheet would read as a formula start with ``'``."""
        async with _services(request).sessions() as session:
            query = await _query(session, actor, action, subject_kind, subject_id, since, until)
            rows = await service.export_rows(session, query) if query is not None else []
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return Response(
            service.to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="duet-audit-{stamp}.csv"',
                "Cache-Control": "no-store",
            },
        )


@get("/admin/audit", access=Access.ADMIN, include_in_schema=False)
async def audit_page(
    request: Request[Any, Any, Any],
    actor: Actor = None,
    action: ActionName = None,
    subject_kind: SubjectKind = None,
    subject_id: SubjectId = None,
    since: Since = None,
    until: Until = None,
    page_no: Annotated[int, QueryParameter(name="page", ge=1, le=100_000)] = 1,
) -> Template:
    filters = dict(
        actor=actor,
        action=action,
        subject_kind=subject_kind,
        subject_id=subject_id,
        since=since,
        until=until,
    )
    result = await _search(request, filters, page_no, 50)
    shown = {
        "actor": actor or "",
        "action": action or "",
        "subject_kind": subject_kind or "",
        "subject_id": subject_id or "",
        "from": since.isoformat() if since else "",
        "to": until.isoformat() if until else "",
    }
    return page(
        request,
        "audit/trail.html",
        result=result,
        filters=shown,
        actions=sorted(service.ACTIONS.items()),
        export_limit=service.EXPORT_LIMIT,
    )


ROUTES = [AuditController, audit_page]
