"""``/tutor/dashboard`` (a tutor's own figures) and ``/admin/dashboard`` (the marketplace's)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar import Request, get
from litestar.response import Template

from dashboards.figures import Months, marketplace_figures, tutor_figures
from dashboards.views import marketplace_charts, tutor_charts
from marketplace.web.access import Access, require_principal
from marketplace.web.services import Services
from marketplace.web.templating import page

TEMPLATES = Path(__file__).parent / "templates"


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def _months() -> Months:
    return Months.ending(datetime.now(UTC).date())


@get("/tutor/dashboard", access=Access.TUTOR, include_in_schema=False)
async def tutor_dashboard(request: Request[Any, Any, Any]) -> Template:
    """Only the signed-in tutor's own figures: no id is taken from the request."""
    services = _services(request)
    me = require_principal(request)
    async with services.sessions() as session:
        figures = await tutor_figures(
            session, me.id, services.settings.marketplace.currency, _months()
        )
    return page(request, "dashboards/tutor.html", f=figures, charts=tutor_charts(figures))


@get("/admin/dashboard", access=Access.ADMIN, include_in_schema=False)
async def admin_dashboard(request: Request[Any, Any, Any]) -> Template:
    services = _services(request)
    async with services.sessions() as session:
        figures = await marketplace_figures(
            session, services.settings.marketplace.currency, _months()
        )
    return page(request, "dashboards/admin.html", f=figures, charts=marketplace_charts(figures))


ROUTES = [tutor_dashboard, admin_dashboard]
