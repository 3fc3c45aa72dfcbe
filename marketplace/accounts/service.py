"""Registration, authentication, sessions, API tokens and roles."""

from __future__ import annotations

import hashlib
import re
import secrets
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import AuthToken, Role, TokenKind, User
from marketplace.accounts.passwords import (
    hash_password_async,
    needs_rehash,
    password_problem,
    verify_password_async,
)
from marketplace.audit import service as audit
from marketplace.errors import Conflict, FieldErrors, NotAuthenticated, NotFound

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
SELF_SERVICE_ROLES = (Role.STUDENT, Role.TUTOR)
API_TOKEN_DAYS = 365


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued secret; the plain value is shown once and never stored."""

    token: AuthToken
    secret: str


@cache
def valid_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_email(errors: FieldErrors, email: str) -> None:
    if len(email) > 254 or not EMAIL_RE.match(email):
        errors.add("email", "Enter a valid e-mail address.")


def check_time_zone(errors: FieldErrors, time_zone: str, field: str = "time_zone") -> None:
    if time_zone not in valid_time_zones():
        errors.add(field, "Choose a time zone from the list (for example Europe/Lisbon).")


def check_full_name(errors: FieldErrors, name: str, field: str = "full_name") -> None:
    if not 1 <= len(name.strip()) <= 120:
        errors.add(field, "Enter your name (at most 120 characters).")


async def register(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    full_name: str,
    role: str,
    time_zone: str = "UTC",
) -> User:
    email = normalise_email(email)
    errors = FieldErrors()
    check_email(errors, email)
    if problem := password_problem(password, email):
        errors.add("password", problem)
    check_full_name(errors, full_name)
    check_time_zone(errors, time_zone)
    if role not in {r.value for r in SELF_SERVICE_ROLES}:
        errors.add("role", "Sign up as a student or as a tutor.")
    errors.raise_if_any()

    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise _email_taken()
    user = User(
        email=email,
        password_hash=await hash_password_async(password),
        full_name=full_name.strip(),
        time_zone=time_zone,
        roles=[role],
    )
    session.add(user)
    try:
        # A savepoint, so a concurrent registration with the same e-mail becomes a clean 409.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise _email_taken() from None
    return user


def _email_taken() -> Conflict:
    return Conflict(
        "An account with this e-mail address already exists. Log in instead.",
        code="email_taken",
        fields={"email": "Already registered."},
    )


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User:
    """The user with these credentials, or 401 that does not say which part was wrong."""
    user = await session.scalar(select(User).where(User.email == normalise_email(email)))
    ok = await verify_password_async(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise NotAuthenticated(
            "The e-mail address or password is not correct.", code="invalid_credentials"
        )
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password_async(password)
    user.last_login_at = datetime.now(UTC)
    return user


async def issue_token(
    session: AsyncSession,
    user: User,
    kind: TokenKind,
    *,
    name: str = "",
    lifetime: timedelta,
) -> IssuedToken:
    secret = secrets.token_urlsafe(32)
    token = AuthToken(
        user_id=user.id,
        kind=kind.value,
        token_hash=hash_secret(secret),
        name=name[:80],
        expires_at=datetime.now(UTC) + lifetime,
    )
    session.add(token)
    await session.flush()
    return IssuedToken(token=token, secret=secret)


async def resolve_token(
    session: AsyncSession, secret: str, kind: TokenKind
) -> tuple[User, AuthToken] | None:
    """The live user and token for a presented secret, or None."""
    now = datetime.now(UTC)
    row = (
        await session.execute(
            select(User, AuthToken)
            .join(AuthToken, AuthToken.user_id == User.id)
            .where(
                AuthToken.token_hash == hash_secret(secret),
                AuthToken.kind == kind.value,
                AuthToken.revoked_at.is_(None),
                AuthToken.expires_at > now,
                User.is_active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    user, token = row
    # Touch at most every few minutes: recording every request would make reads write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        await session.execute(
            update(AuthToken).where(AuthToken.id == token.id).values(last_used_at=now)
        )
    return user, token


async def revoke_token(session: AsyncSession, user_id: int, token_id: int) -> None:
    token = await session.get(AuthToken, token_id)
    if token is None or token.user_id != user_id or token.revoked_at is not None:
        raise NotFound("No such token.", code="token_not_found")
    token.revoked_at = datetime.now(UTC)


async def revoke_all_sessions(session: AsyncSession, user_id: int, *, keep: int | None) -> None:
    await session.execute(
        update(AuthToken)
        .where(
            AuthToken.user_id == user_id,
            AuthToken.kind == TokenKind.SESSION.value,
            AuthToken.revoked_at.is_(None),
            AuthToken.id != (keep or 0),
        )
        .values(revoked_at=datetime.now(UTC))
    )


async def list_api_tokens(session: AsyncSession, user_id: int) -> list[AuthToken]:
    return list(
        await session.scalars(
            select(AuthToken)
            .where(
                AuthToken.user_id == user_id,
                AuthToken.kind == TokenKind.API.value,
                AuthToken.revoked_at.is_(None),
            )
            .order_by(AuthToken.created_at.desc())
        )
    )


async def change_password(
    session: AsyncSession,
    user: User,
    *,
    current_password: str,
    new_password: str,
    keep_session_id: int | None,
) -> None:
    errors = FieldErrors()
    if not await verify_password_async(user.password_hash, current_password):
        errors.add("current_password", "This is not your current password.")
    if problem := password_problem(new_password, user.email):
        errors.add("new_password", problem)
    errors.raise_if_any()
    user.password_hash = await hash_password_async(new_password)
    # Changing a password logs out every other browser.
    await revoke_all_sessions(session, user.id, keep=keep_session_id)


async def add_role(session: AsyncSession, user: User, role: str) -> None:
    if role not in {r.value for r in SELF_SERVICE_ROLES}:
        errors = FieldErrors()
        errors.add("role", "You can add the student or the tutor role.")
        errors.raise_if_any()
    if role not in user.roles:
        user.roles = [*user.roles, role]
        await audit.record(
            session,
            action="user.role_added",
            actor_role="user",
            actor_id=user.id,
            subject_kind="user",
            subject_id=user.id,
            details={"role": role},
        )


async def update_account(
    session: AsyncSession, user: User, *, full_name: str, time_zone: str
) -> None:
    errors = FieldErrors()
    check_full_name(errors, full_name)
    check_time_zone(errors, time_zone)
    errors.raise_if_any()
    user.full_name = full_name.strip()
    user.time_zone = time_zone


async def ensure_admin(session: AsyncSession, *, email: str, password: str, full_name: str) -> User:
    """Create an admin, or make an existing account an admin (CLI)."""
    email = normalise_email(email)
    errors = FieldErrors()
    check_email(errors, email)
    if problem := password_problem(password, email):
        errors.add("password", problem)
    errors.raise_if_any()
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(
            email=email,
            password_hash=await hash_password_async(password),
            full_name=full_name,
            roles=[Role.ADMIN.value],
        )
        session.add(user)
    else:
        user.password_hash = await hash_password_async(password)
        if Role.ADMIN.value in user.roles:
            await session.flush()
            return user
        user.roles = [*user.roles, Role.ADMIN.value]
    await session.flush()
    await audit.record(
        session,
        action="user.admin_granted",
        actor_role="operator",
        actor_id=None,
        subject_kind="user",
        subject_id=user.id,
        details={"via": "duet create-admin"},
    )
    return user
