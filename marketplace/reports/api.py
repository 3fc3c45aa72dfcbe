"""Admins handle reports: JSON API and the queue page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Template
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.errors import DomainError
from marketplace.reports import service
from marketplace.reports.models import REASON_LABELS, Report, ReportReason, ReportStatus
from marketplace.web.access import Access, require_principal
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.services import Services
from marketplace.web.templating import page


class ReportOut(msgspec.Struct):
    id: int
    status: str
    reason: str
    details: str
    subject_kind: str
    subject_id: int
    context_kind: str
    context_id: int
    reporter_id: int
    author_id: int | None
    excerpt: str
    link: str
    created_at: datetime
    resolution_note: str
    handled_at: datetime | None


class HandleIn(msgspec.Struct, forbid_unknown_fields=True):
    outcome: str
    note: Annotated[str, msgspec.Meta(max_length=5000)] = ""


def report_out(r: Report) -> ReportOut:
    return ReportOut(
        r.id,
        r.status,
        r.reason,
        r.details,
        r.subject_kind,
        r.subject_id,
        r.context_kind,
        r.context_id,
        r.reporter_id,
        r.author_id,
        r.excerpt,
        r.link,
        r.created_at,
        r.resolution_note,
        r.handled_at,
    )


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def _status(value: str) -> ReportStatus | None:
    if value == "all":
        return None
    try:
        return ReportStatus(value)
    except ValueError:
        from marketplace.errors import ValidationFailed

        raise ValidationFailed({"status": "Use open, resolved, dismissed or all."}) from None


class AdminReportController(Controller):
    path = "/api/v1/admin/reports"
    tags = ["admin"]

    @get("/", access=Access.ADMIN)
    async def list_reports(
        self,
        request: Request[Any, Any, Any],
        status: Annotated[str, QueryParameter(max_length=20)] = "open",
    ) -> list[ReportOut]:
        async with _services(request).sessions() as session:
            rows = await service.reports(session, _status(status))
        return [report_out(r) for r in rows]

    @post("/{report_id:int}/handle", access=Access.ADMIN, status_code=200)
    async def handle(
        self, request: Request[Any, Any, Any], report_id: FromPath[int], data: JSONBody[HandleIn]
    ) -> ReportOut:
        """``{"outcome": "resolved"|"dismissed", "note"}``; 409 ``report_closed`` if done."""
        async with _services(request).transaction() as session:
            report = await service.handle(
                session, report_id, require_principal(request).id, data.outcome, data.note
            )
        return report_out(report)


@get("/admin/reports", access=Access.ADMIN, include_in_schema=False)
async def reports_page(
    request: Request[Any, Any, Any],
    status: Annotated[str, QueryParameter(max_length=20)] = "open",
) -> Template:
    return await _reports_page(request, status)


async def _reports_page(
    request: Request[Any, Any, Any],
    status: str = "open",
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    async with _services(request).sessions() as session:
        rows = await service.reports(session, _status(status))
        people = {r.reporter_id for r in rows} | {r.author_id for r in rows if r.author_id}
        names = dict(
            (await session.execute(select(User.id, User.email).where(User.id.in_(people)))).all()
        )
    labels = {r.value: REASON_LABELS[r] for r in ReportReason}
    return page(
        request,
        "reports/queue.html",
        status_code=status_code,
        reports=rows,
        labels=labels,
        status=status,
        names=names,
        errors=errors or {},
        problem=problem,
    )


@post("/admin/reports/{report_id:int}", access=Access.ADMIN, include_in_schema=False)
async def handle_report_page(
    request: Request[Any, Any, Any], report_id: FromPath[int]
) -> Response[Any]:
    form = await form_data(request)
    try:
        async with _services(request).transaction() as session:
            await service.handle(
                session,
                report_id,
                require_principal(request).id,
                str(form.get("outcome", "")),
                str(form.get("note", "")),
            )
    except DomainError as exc:
        return await _reports_page(request, **form_failure(exc, "note"))
    return redirect("/admin/reports", notice="report_handled")


ROUTES = [AdminReportController, reports_page, handle_report_page]
