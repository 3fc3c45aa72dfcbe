"""Helpers shared by the lessons API and pages."""

from __future__ import annotations

from typing import Any

from litestar import Request

from lessons.certificates.signing import Signer, signer_for
from marketplace import vocab
from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.web.access import Principal, require_principal
from marketplace.web.services import Services


def services_of(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def signer_of(services: Services) -> Signer:
    return signer_for(services.settings.courses.signing_key, services.settings.web.base_url)


def me(request: Request[Any, Any, Any]) -> Principal:
    return require_principal(request)


async def load_user(session: Any, user_id: int) -> User:
    user: User | None = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def language_choices() -> list[tuple[str, str]]:
    """(code, name) of every teaching language, by name, for the course forms."""
    return sorted(vocab.LANGUAGES.items(), key=lambda kv: kv[1])
