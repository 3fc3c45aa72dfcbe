"""Pages: sign up, log in and out, account settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from marketplace.accounts import phone, service
from marketplace.accounts.api import (
    authenticate_limited,
    cleared_session_cookie,
    end_session,
    limit_phone_codes,
    limit_registrations,
    session_cookie,
    start_session,
)
from marketplace.accounts.models import Role, TokenKind, User
from marketplace.errors import DomainError, NotFound, RateLimited
from marketplace.privacy import service as privacy
from marketplace.privacy.blockers import blockers_for
from marketplace.profiles import service as profiles
from marketplace.profiles.schemas import StudentInstrumentIn, StudentProfileIn
from marketplace.web.access import SESSION_COOKIE, Access, principal_of, require_principal
from marketplace.web.forms import form_data, form_failure, redirect, safe_next
from marketplace.web.services import Services
from marketplace.web.templating import page


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


@get("/signup", access=Access.PUBLIC, include_in_schema=False)
async def signup_form(
    request: Request[Any, Any, Any], role: FromQuery[str] = "student"
) -> Template:
    return page(
        request,
        "accounts/signup.html",
        role=role if role == "tutor" else "student",
    )


@post("/signup", access=Access.PUBLIC, include_in_schema=False)
async def signup(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_data(request)
    services = _services(request)
    role = form.get("role", "student")
    try:
        await limit_registrations(request)
        async with services.transaction() as session:
            user = await service.register(
                session,
                email=form.get("email", ""),
                password=form.get("password", ""),
                full_name=form.get("full_name", ""),
                role=role,
                time_zone=form.get("time_zone") or "UTC",
            )
    except DomainError as exc:
        return page(request, "accounts/signup.html", role=role, **form_failure(exc))
    secret = await start_session(services, user)
    target = "/tutor/profile" if role == "tutor" else "/account"
    return redirect(target, "registered", cookies=[session_cookie(services, secret)])


@get("/login", access=Access.PUBLIC, include_in_schema=False)
async def login_form(request: Request[Any, Any, Any], next: FromQuery[str] = "/") -> Template:
    return page(request, "accounts/login.html", next=safe_next(next))


@post("/login", access=Access.PUBLIC, include_in_schema=False)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_data(request)
    services = _services(request)
    target = safe_next(form.get("next"))
    try:
        async with services.transaction() as session:
            user = await authenticate_limited(
                request, session, email=form.get("email", ""), password=form.get("password", "")
            )
            issued = await service.issue_token(
                session,
                user,
                TokenKind.SESSION,
                lifetime=timedelta(days=services.settings.web.session_days),
            )
    except DomainError as exc:
        # Which of the two was wrong is not said; the problem sits by the password. Here a 401
        # is the form's own answer, not a reason to go to the login.
        failure = form_failure(exc, "password", not_form_problems=frozenset({403, 404}))
        answer = page(request, "accounts/login.html", next=target, **failure)
        if isinstance(exc, RateLimited):
            answer.headers["Retry-After"] = str(exc.retry_after)
        return answer
    return redirect(target, "logged_in", cookies=[session_cookie(services, issued.secret)])


@post("/logout", access=Access.PUBLIC, include_in_schema=False)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    services = _services(request)
    await end_session(services, principal_of(request), request.cookies.get(SESSION_COOKIE))
    return redirect("/", "logged_out", cookies=[cleared_session_cookie(services)])


async def _account_page(
    request: Request[Any, Any, Any],
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    new_token: str | None = None,
) -> Template:
    principal = require_principal(request)
    services = _services(request)
    async with services.transaction() as session:
        user = await session.get(User, principal.id)
        if user is None:
            raise NotFound("No such user.")
        tokens = await service.list_api_tokens(session, user.id)
        phone_status = phone.status_of(await phone.phone_of(session, user.id))
        student = (
            await profiles.student_profile_for(session, user)
            if user.has_role(Role.STUDENT)
            else None
        )
        exports = await privacy.exports_for(session, user.id, limit=3)
        deletion_blockers = await blockers_for(session, user.id)
    return page(
        request,
        "accounts/account.html",
        status_code=status_code,
        user=user,
        tokens=tokens,
        student=student,
        phone=phone_status,
        exports=exports,
        deletion_blockers=deletion_blockers,
        errors=errors or {},
        problem=problem,
        new_token=new_token,
        time_zones=sorted(service.valid_time_zones()),
    )


@get("/account", access=Access.USER, include_in_schema=False)
async def account(request: Request[Any, Any, Any]) -> Template:
    return await _account_page(request)


async def _account_action(request: Request[Any, Any, Any], action: Any, notice: str) -> Any:
    """Run ``action(session, user, form)`` in one transaction; re-render with errors on 4xx."""
    form = await form_data(request)
    try:
        async with _services(request).transaction() as session:
            user = await session.get(User, require_principal(request).id, with_for_update=True)
            if user is None:
                raise NotFound("No such user.")
            await action(session, user, form)
    except DomainError as exc:
        return await _account_page(request, **form_failure(exc))
    return redirect("/account", notice)


@post("/account", access=Access.USER, include_in_schema=False)
async def account_save(request: Request[Any, Any, Any]) -> Any:
    async def action(session: Any, user: User, form: Any) -> None:
        await service.update_account(
            session, user, full_name=form.get("full_name", ""), time_zone=form.get("time_zone", "")
        )

    return await _account_action(request, action, "account_saved")


@post("/account/password", access=Access.USER, include_in_schema=False)
async def account_password(request: Request[Any, Any, Any]) -> Any:
    principal = require_principal(request)

    async def action(session: Any, user: User, form: Any) -> None:
        await service.change_password(
            session,
            user,
            current_password=form.get("current_password", ""),
            new_password=form.get("new_password", ""),
            keep_session_id=principal.token_id,
        )

    return await _account_action(request, action, "password_changed")


@post("/account/roles", access=Access.USER, include_in_schema=False)
async def account_role(request: Request[Any, Any, Any]) -> Any:
    async def action(session: Any, user: User, form: Any) -> None:
        await service.add_role(session, user, form.get("role", ""))

    return await _account_action(request, action, "role_added")


@post("/account/student-profile", access=Access.STUDENT, include_in_schema=False)
async def account_student(request: Request[Any, Any, Any]) -> Any:
    async def action(session: Any, user: User, form: Any) -> None:
        instruments = [
            StudentInstrumentIn(instrument=slug, level=form.get(f"level_{slug}") or "beginner")
            for slug in form.getall("instruments", [])
            if slug
        ]
        data = StudentProfileIn(instruments=instruments)
        await profiles.update_student_profile(session, user, data)

    return await _account_action(request, action, "student_saved")


@post("/account/phone", access=Access.USER, include_in_schema=False)
async def account_phone(request: Request[Any, Any, Any]) -> Any:
    form = await form_data(request)
    user_id = require_principal(request).id
    try:
        phone.normalise(form.get("phone", ""))
        await limit_phone_codes(request, user_id)
        async with _services(request).transaction() as session:
            await phone.request_code(session, user_id, form.get("phone", ""))
    except DomainError as exc:
        return await _account_page(request, **form_failure(exc, "phone"))
    return redirect("/account#phone", "phone_code_sent")


@post("/account/phone/confirm", access=Access.USER, include_in_schema=False)
async def account_phone_confirm(request: Request[Any, Any, Any]) -> Any:
    form = await form_data(request)
    user_id = require_principal(request).id
    try:
        async with _services(request).transaction() as session:
            confirmed = await phone.confirm_code(session, user_id, form.get("code", ""))
        if not confirmed:
            raise phone.wrong_code()
    except DomainError as exc:
        return await _account_page(request, **form_failure(exc, "code"))
    return redirect("/account#phone", "phone_confirmed")


@post("/account/phone/remove", access=Access.USER, include_in_schema=False)
async def account_phone_remove(request: Request[Any, Any, Any]) -> Any:
    async with _services(request).transaction() as session:
        await phone.remove(session, require_principal(request).id)
    return redirect("/account#phone", "phone_removed")


@post("/account/tokens", access=Access.USER, include_in_schema=False)
async def account_token_create(request: Request[Any, Any, Any]) -> Template:
    form = await form_data(request)
    try:
        async with _services(request).transaction() as session:
            user = await session.get(User, require_principal(request).id)
            if user is None:
                raise NotFound("No such user.")
            issued = await service.issue_token(
                session,
                user,
                TokenKind.API,
                name=(form.get("name") or "API token").strip(),
                lifetime=timedelta(days=service.API_TOKEN_DAYS),
            )
    except DomainError as exc:
        return await _account_page(request, **form_failure(exc, "name"))
    return await _account_page(request, new_token=issued.secret)


@post("/account/tokens/{token_id:int}/revoke", access=Access.USER, include_in_schema=False)
async def account_token_revoke(request: Request[Any, Any, Any], token_id: FromPath[int]) -> Any:
    async with _services(request).transaction() as session:
        await service.revoke_token(session, require_principal(request).id, token_id)
    return redirect("/account", "token_revoked")


ROUTES = [
    signup_form,
    signup,
    login_form,
    login,
    logout,
    account,
    account_save,
    account_password,
    account_role,
    account_student,
    account_phone,
    account_phone_confirm,
    account_phone_remove,
    account_token_create,
    account_token_revoke,
]
