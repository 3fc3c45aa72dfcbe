"""JSON API for accounts: register, log in and out, the current user, passwords, tokens, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import Cookie
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts import phone, service
from marketplace.accounts.login_limits import LoginLimits
from marketplace.accounts.models import AuthToken, TokenKind, User
from marketplace.accounts.schemas import (
    AccountIn,
    LoginIn,
    LoginOut,
    NewTokenOut,
    PasswordChangeIn,
    PhoneCodeIn,
    PhoneIn,
    PhoneOut,
    RegisterIn,
    RoleIn,
    TokenIn,
    TokenOut,
    UserOut,
)
from marketplace.errors import NotAuthenticated, NotFound
from marketplace.web.access import SESSION_COOKIE, Access, Principal, require_principal
from marketplace.web.services import Services

REGISTER_WINDOW = 60 * 60


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        time_zone=user.time_zone,
        roles=list(user.roles),
        created_at=user.created_at,
    )


def token_out(token: AuthToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        expires_at=token.expires_at,
    )


def services_of(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def client_ip(request: Request[Any, Any, Any]) -> str:
    """The client's address (behind a trusted proxy: the one it forwarded, see web/proxies.py)."""
    return request.client.host if request.client else "unknown"


def login_limits(request: Request[Any, Any, Any]) -> LoginLimits:
    services = services_of(request)
    return LoginLimits(
        services.limiter.counter,
        per_account=services.settings.web.login_attempts_per_window,
        per_address=services.settings.web.login_address_attempts_per_window,
    )


async def authenticate_limited(
    request: Request[Any, Any, Any], session: AsyncSession, *, email: str, password: str
) -> User:
    """``service.authenticate`` behind the login limits: refused while a limit is used up; a
    failure counts against the account and the address; a success clears the account's."""
    limits = login_limits(request)
    address = client_ip(request)
    await limits.check(email, address)
    try:
        user = await service.authenticate(session, email=email, password=password)
    except NotAuthenticated:
        await limits.failed(email, address)
        raise
    await limits.succeeded(email)
    return user


async def limit_registrations(request: Request[Any, Any, Any]) -> None:
    services = services_of(request)
    await services.limiter.check(
        f"register:{client_ip(request)}",
        limit=services.settings.web.registrations_per_window,
        window_seconds=REGISTER_WINDOW,
        what="sign-ups from your network",
    )


def session_cookie(services: Services, secret: str) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=secret,
        httponly=True,
        samesite="lax",
        secure=services.settings.web.cookies_secure,
        max_age=services.settings.web.session_days * 86400,
        path="/",
    )


def cleared_session_cookie(services: Services) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value="",
        max_age=0,
        httponly=True,
        samesite="lax",
        path="/",
        secure=services.settings.web.cookies_secure,
    )


async def start_session(services: Services, user: User) -> str:
    """Issue a page session for ``user`` in its own transaction; returns the cookie value."""
    async with services.transaction() as session:
        issued = await service.issue_token(
            session,
            user,
            TokenKind.SESSION,
            lifetime=timedelta(days=services.settings.web.session_days),
        )
    return issued.secret


async def limit_phone_codes(request: Request[Any, Any, Any], user_id: int) -> None:
    await services_of(request).limiter.check(
        f"phone-code:{user_id}",
        limit=phone.SENDS_PER_HOUR,
        window_seconds=60 * 60,
        what="confirmation codes",
    )


def phone_out(status: phone.PhoneStatus) -> PhoneOut:
    return PhoneOut(phone=status.e164, confirmed=status.confirmed, code_pending=status.code_pending)


async def end_session(services: Services, principal: Principal | None, cookie: str | None) -> None:
    async with services.transaction() as session:
        if principal is not None:
            await session.execute(
                update(AuthToken)
                .where(AuthToken.id == principal.token_id)
                .values(revoked_at=_now())
            )
        if cookie:
            found = await service.resolve_token(session, cookie, TokenKind.SESSION)
            if found is not None:
                found[1].revoked_at = _now()


def _now() -> datetime:
    return datetime.now(UTC)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/register", access=Access.PUBLIC, errors=(429,), status_code=HTTP_201_CREATED)
    async def register(
        self, request: Request[Any, Any, Any], data: JSONBody[RegisterIn]
    ) -> UserOut:
        """Create a student or tutor account. Log in afterwards to get a token."""
        await limit_registrations(request)
        services = services_of(request)
        async with services.transaction() as session:
            user = await service.register(
                session,
                email=data.email,
                password=data.password,
                full_name=data.full_name,
                role=data.role,
                time_zone=data.time_zone,
            )
        return user_out(user)

    @post("/login", access=Access.PUBLIC, errors=(429,), status_code=200)
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[LoginIn]
    ) -> Response[LoginOut]:
        """Returns a bearer token for API use and sets the page session cookie."""
        services = services_of(request)
        async with services.transaction() as session:
            user = await authenticate_limited(
                request, session, email=data.email, password=data.password
            )
            api = await service.issue_token(
                session,
                user,
                TokenKind.API,
                name="login",
                lifetime=timedelta(days=service.API_TOKEN_DAYS),
            )
            web = await service.issue_token(
                session,
                user,
                TokenKind.SESSION,
                lifetime=timedelta(days=services.settings.web.session_days),
            )
        body = LoginOut(
            token=api.secret,
            token_type="bearer",  # noqa: S106 - the auth scheme, not a secret
            expires_at=api.token.expires_at,
            user=user_out(user),
        )
        return Response(body, cookies=[session_cookie(services, web.secret)])

    @post("/logout", access=Access.USER, status_code=HTTP_204_NO_CONTENT)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[None]:
        """Revokes the token or session used for this call (and the session cookie, if sent)."""
        services = services_of(request)
        await end_session(services, require_principal(request), request.cookies.get(SESSION_COOKIE))
        return Response(
            None, status_code=HTTP_204_NO_CONTENT, cookies=[cleared_session_cookie(services)]
        )


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["account"]

    @get("/", access=Access.USER)
    async def me(self, request: Request[Any, Any, Any]) -> UserOut:
        async with services_of(request).sessions() as session:
            user = await session.get(User, require_principal(request).id)
        if user is None:
            raise NotFound("No such user.")
        return user_out(user)

    @put("/", access=Access.USER)
    async def update(self, request: Request[Any, Any, Any], data: JSONBody[AccountIn]) -> UserOut:
        async with services_of(request).transaction() as session:
            user = await _load_user(session, request)
            await service.update_account(
                session, user, full_name=data.full_name, time_zone=data.time_zone
            )
        return user_out(user)

    @put("/password", access=Access.USER, status_code=HTTP_204_NO_CONTENT)
    async def change_password(
        self, request: Request[Any, Any, Any], data: JSONBody[PasswordChangeIn]
    ) -> None:
        """Changing the password logs out every other browser session."""
        principal = require_principal(request)
        async with services_of(request).transaction() as session:
            user = await _load_user(session, request)
            await service.change_password(
                session,
                user,
                current_password=data.current_password,
                new_password=data.new_password,
                keep_session_id=principal.token_id if principal.via == "cookie" else None,
            )

    @post("/roles", access=Access.USER, status_code=200)
    async def add_role(self, request: Request[Any, Any, Any], data: JSONBody[RoleIn]) -> UserOut:
        """Become a tutor as well as a student, or the other way round."""
        async with services_of(request).transaction() as session:
            user = await _load_user(session, request)
            await service.add_role(session, user, data.role)
        return user_out(user)

    @get("/phone", access=Access.USER)
    async def phone_status(self, request: Request[Any, Any, Any]) -> PhoneOut:
        async with services_of(request).sessions() as session:
            row = await phone.phone_of(session, require_principal(request).id)
        return phone_out(phone.status_of(row))

    @put("/phone", access=Access.USER, errors=(429,), status_code=202)
    async def set_phone(self, request: Request[Any, Any, Any], data: JSONBody[PhoneIn]) -> PhoneOut:
        """Give a mobile number for SMS; a code is texted to it. SMS go only to confirmed
        numbers, so nothing else reaches it until `POST /api/v1/me/phone/confirm`."""
        user_id = require_principal(request).id
        phone.normalise(data.phone)  # a malformed number must not use up the rate limit
        await limit_phone_codes(request, user_id)
        async with services_of(request).transaction() as session:
            status = await phone.request_code(session, user_id, data.phone)
        return phone_out(status)

    @post("/phone/confirm", access=Access.USER, status_code=200)
    async def confirm_phone(
        self, request: Request[Any, Any, Any], data: JSONBody[PhoneCodeIn]
    ) -> PhoneOut:
        """422 for a wrong code (five tries per code); 409 when no code is pending or valid."""
        user_id = require_principal(request).id
        async with services_of(request).transaction() as session:
            confirmed = await phone.confirm_code(session, user_id, data.code)
            status = phone.status_of(await phone.phone_of(session, user_id))
        if not confirmed:
            raise phone.wrong_code()
        return phone_out(status)

    @delete("/phone", access=Access.USER, errors=(404,), status_code=HTTP_204_NO_CONTENT)
    async def remove_phone(self, request: Request[Any, Any, Any]) -> None:
        async with services_of(request).transaction() as session:
            await phone.remove(session, require_principal(request).id)

    @get("/tokens", access=Access.USER)
    async def tokens(self, request: Request[Any, Any, Any]) -> list[TokenOut]:
        async with services_of(request).sessions() as session:
            tokens = await service.list_api_tokens(session, require_principal(request).id)
        return [token_out(t) for t in tokens]

    @post("/tokens", access=Access.USER, status_code=HTTP_201_CREATED)
    async def create_token(
        self, request: Request[Any, Any, Any], data: JSONBody[TokenIn]
    ) -> NewTokenOut:
        """The token is shown once; only its hash is stored."""
        async with services_of(request).transaction() as session:
            user = await _load_user(session, request)
            issued = await service.issue_token(
                session,
                user,
                TokenKind.API,
                name=data.name.strip() or "API token",
                lifetime=timedelta(days=service.API_TOKEN_DAYS),
            )
        t = issued.token
        return NewTokenOut(
            id=t.id,
            name=t.name,
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            expires_at=t.expires_at,
            token=issued.secret,
        )

    @delete("/tokens/{token_id:int}", access=Access.USER, status_code=HTTP_204_NO_CONTENT)
    async def revoke_token(self, request: Request[Any, Any, Any], token_id: FromPath[int]) -> None:
        async with services_of(request).transaction() as session:
            await service.revoke_token(session, require_principal(request).id, token_id)


async def _load_user(session: Any, request: Request[Any, Any, Any]) -> User:
    user: User | None = await session.get(User, require_principal(request).id, with_for_update=True)
    if user is None:
        raise NotFound("No such user.")
    return user
