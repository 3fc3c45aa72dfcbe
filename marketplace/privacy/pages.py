"""Pages: the "Your data" section's actions and the account deletion confirmation."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from marketplace.accounts.api import cleared_session_cookie
from marketplace.errors import ValidationFailed
from marketplace.privacy import presenters, service
from marketplace.privacy.blockers import blockers_for
from marketplace.privacy.registry import FORMER_MEMBER
from marketplace.web.access import Access, require_principal
from marketplace.web.forms import form_data, redirect
from marketplace.web.services import Services
from marketplace.web.templating import page


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


@post("/account/data-export", access=Access.USER, include_in_schema=False)
async def request_export(request: Request[Any, Any, Any]) -> Any:
    """Errors (one already running) come back as the error page, linked to the account."""
    async with _services(request).transaction() as session:
        await service.request_export(session, require_principal(request).id)
    return redirect("/account", "export_requested")


async def _delete_page(
    request: Request[Any, Any, Any], status_code: int = 200, errors: dict[str, str] | None = None
) -> Template:
    user_id = require_principal(request).id
    async with _services(request).sessions() as session:
        found = await blockers_for(session, user_id)
    return page(
        request,
        "privacy/delete.html",
        status_code=status_code,
        blockers=found,
        kept=presenters.KEPT,
        former=FORMER_MEMBER,
        errors=errors or {},
    )


@get("/account/delete", access=Access.USER, include_in_schema=False)
async def delete_form(request: Request[Any, Any, Any]) -> Template:
    return await _delete_page(request)


@post("/account/delete", access=Access.USER, include_in_schema=False)
async def delete_account(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_data(request)
    services = _services(request)
    try:
        async with services.transaction() as session:
            await service.request_deletion(
                session, require_principal(request).id, form.get("password", "")
            )
    except ValidationFailed as exc:
        return await _delete_page(request, status_code=exc.status_code, errors=exc.fields)
    except service.DeletionBlocked as exc:
        return await _delete_page(request, status_code=exc.status_code, errors={})
    return redirect("/", "account_deleted", cookies=[cleared_session_cookie(services)])


ROUTES = [request_export, delete_form, delete_account]
