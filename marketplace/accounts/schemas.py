from __future__ import annotations

from datetime import datetime

import msgspec


class RegisterIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str
    full_name: str
    role: str = "student"
    time_zone: str = "UTC"


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str


class PasswordChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    current_password: str
    new_password: str


class AccountIn(msgspec.Struct, forbid_unknown_fields=True):
    full_name: str
    time_zone: str


class RoleIn(msgspec.Struct, forbid_unknown_fields=True):
    role: str


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class UserOut(msgspec.Struct):
    id: int
    email: str
    full_name: str
    time_zone: str
    roles: list[str]
    created_at: datetime


class LoginOut(msgspec.Struct):
    token: str
    token_type: str
    expires_at: datetime | None
    user: UserOut


class TokenOut(msgspec.Struct):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class NewTokenOut(TokenOut):
    token: str


class PhoneIn(msgspec.Struct, forbid_unknown_fields=True):
    phone: str


class PhoneCodeIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str


class PhoneOut(msgspec.Struct):
    phone: str | None
    confirmed: bool
    code_pending: bool
