"""Who is calling, and whether they may.

Every route handler declares ``access=`` (public, user, student, tutor or admin); the app-wide
guard refuses a handler that declares nothing, so an endpoint cannot be public by accident.
Callers authenticate with ``Authorization: Bearer <token>`` (API clients) or the HttpOnly session
cookie (browsers). A cookie-authenticated API call that changes something must also send the
CSRF token in ``X-CSRFToken``; page forms are covered by Litestar's CSRF middleware.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import WebSocketException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from marketplace.accounts import service as accounts
from marketplace.accounts.models import AuthToken, Role, TokenKind, User
from marketplace.errors import DomainError, Forbidden, NotAuthenticated

SESSION_COOKIE = "duet_session"
CSRF_COOKIE = "duet_csrf"
CSRF_HEADER = "x-csrftoken"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# /metrics has its own token (METRICS_TOKEN), which is no user's: it must not be resolved as one.
_SKIP_PREFIXES = ("/static/", "/media/", "/favicon", "/metrics")


class Access(StrEnum):
    PUBLIC = "public"
    USER = "user"
    STUDENT = "student"
    TUTOR = "tutor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, detached from any database session."""

    id: int
    email: str
    full_name: str
    roles: tuple[str, ...]
    time_zone: str
    token_id: int
    via: str  # "bearer" or "cookie"

    def has(self, role: Role) -> bool:
        return role.value in self.roles

    @property
    def is_admin(self) -> bool:
        return self.has(Role.ADMIN)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def require_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    user = principal_of(connection)
    if user is None:
        raise NotAuthenticated("Log in to continue.")
    return user


class AuthMiddleware(ASGIMiddleware):
    """Resolves the bearer token or session cookie into ``scope["user"]`` (None when anonymous)."""

    scopes = ("http", "websocket")  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope["user"] = None
        scope["auth"] = None
        if not scope["path"].startswith(_SKIP_PREFIXES):
            connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
            try:
                scope["user"] = await _authenticate(connection)
            except DomainError as exc:
                _raise_for_socket(scope, exc)
                raise
        await next_app(scope, receive, send)


async def _authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        secret, kind, via = header[7:].strip(), TokenKind.API, "bearer"
    elif cookie := connection.cookies.get(SESSION_COOKIE):
        secret, kind, via = cookie, TokenKind.SESSION, "cookie"
    else:
        return None
    if not secret or len(secret) > 200:
        return None
    services = connection.app.state.services
    engine = services.hot_engine or services.engine
    try:
        found = await _resolve(engine, secret, kind)
    except DBAPIError as exc:
        # A pooled connection that died (the database restarted) fails before the statement
        # runs; the pool has dropped it, so the lookup is tried once more on a fresh one.
        if not exc.connection_invalidated:
            raise
        found = await _resolve(engine, secret, kind)
    if found is None:
        if via == "bearer":
            # A presented but dead token is an error, not anonymity: the client should know.
            raise NotAuthenticated(
                "This token is not valid or has been revoked.", code="invalid_token"
            )
        return None
    user, token = found
    return Principal(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        roles=tuple(user.roles),
        time_zone=user.time_zone,
        token_id=token.id,
        via=via,
    )


async def _resolve(
    engine: AsyncEngine, secret: str, kind: TokenKind
) -> tuple[User, AuthToken] | None:
    """The token lookup in as few round trips as it can be: on the pool without the pre-ping
    (one round trip per checkout), in autocommit (one statement, two every few minutes when it
    records the token's use: BEGIN and COMMIT would be two more). Still read on every request,
    so a revoked token stops working at once."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return await accounts.resolve_token(session, secret, kind)


def _raise_for_socket(scope: Any, exc: DomainError) -> None:
    """A WebSocket cannot carry a JSON error: it is closed with 4000 + the HTTP status
    (4401 not logged in, 4403 not allowed) before it is accepted."""
    if scope["type"] == "websocket":
        raise WebSocketException(detail=exc.message, code=4000 + exc.status_code) from exc


async def access_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    # Async although it never awaits: Litestar runs a sync guard in a worker thread, a hand-off
    # to another thread and back on every request.
    try:
        _guard(connection, handler)
    except DomainError as exc:
        _raise_for_socket(connection.scope, exc)
        raise


def _guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    access = handler.opt.get("access")
    if access is None:
        if connection.scope["path"].startswith("/schema") or _is_preflight(handler):
            return  # Litestar's own OpenAPI documents and OPTIONS answers: public by design.
        raise Forbidden("This endpoint declares no access rule.", code="access_undeclared")
    access = Access(access)
    if access is Access.PUBLIC:
        return
    user = require_principal(connection)
    _check_api_csrf(connection, user)
    if access is Access.USER:
        return
    if not user.has(Role(access.value)):
        raise Forbidden(f"This needs a {access.value} account.", code=f"{access.value}_only")


def _is_preflight(handler: BaseRouteHandler) -> bool:
    return set(getattr(handler, "http_methods", ())) == {"OPTIONS"}


def _check_api_csrf(connection: ASGIConnection[Any, Any, Any, Any], user: Principal) -> None:
    if user.via != "cookie" or connection.scope.get("method") not in UNSAFE_METHODS:
        return
    if not connection.scope["path"].startswith("/api/"):
        return  # pages: Litestar's CSRF middleware has checked the form already
    sent = connection.headers.get(CSRF_HEADER, "")
    expected = connection.cookies.get(CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden(
            "Send the CSRF token in the X-CSRFToken header, or use a bearer token.",
            code="csrf_failed",
        )


def session_lifetime(days: int) -> timedelta:
    return timedelta(days=days)
