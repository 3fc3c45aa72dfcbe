"""Small helpers shared by the scheduling API and pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request

from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.web.access import Principal, require_principal
from marketplace.web.services import Services
from scheduling import service


def services_of(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def caller_of(principal: Principal) -> service.Caller:
    return service.Caller(principal.id, principal.is_admin)


def dispute_window(services: Services) -> timedelta:
    return timedelta(hours=services.settings.scheduling.dispute_window_hours)


async def load_me(session: Any, request: Request[Any, Any, Any]) -> User:
    user: User | None = await session.get(User, require_principal(request).id)
    if user is None:
        raise NotFound("No such user.")
    return user
