from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, Timestamped


class Role(StrEnum):
    STUDENT = "student"
    TUTOR = "tutor"
    ADMIN = "admin"


class TokenKind(StrEnum):
    SESSION = "session"  # a browser's page session, sent as an HttpOnly cookie
    API = "api"  # a bearer token for API clients


class User(Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = (
        # E-mail addresses are stored lower-cased, so uniqueness is case-insensitive.
        CheckConstraint("email = lower(email)", name="email_lower"),
        CheckConstraint(
            "roles <@ ARRAY['student', 'tutor', 'admin']::varchar[]", name="known_roles"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(120))
    time_zone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{}")
    is_active: Mapped[bool] = mapped_column(server_default="true")
    last_login_at: Mapped[datetime | None]

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles


class AuthToken(Base):
    """A page session or an API token. Only the SHA-256 of the secret is stored."""

    __tablename__ = "auth_tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('session', 'api')", name="known_kind"),
        Index("ix_auth_tokens_user_kind", "user_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80), server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PhoneNumber(Base):
    """A user's mobile number for SMS. Messages go only to a ``confirmed_at`` number.

    While a code is outstanding only its SHA-256 (salted with the user and number) is kept.
    """

    __tablename__ = "phone_numbers"
    __table_args__ = (CheckConstraint("attempts BETWEEN 0 AND 100", name="attempts"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    e164: Mapped[str] = mapped_column(String(16))
    confirmed_at: Mapped[datetime | None]
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
