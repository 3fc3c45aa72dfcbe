"""A user's mobile number for SMS: given, confirmed with a code sent to it, or removed.

Nothing but the code itself is ever texted to an unconfirmed number, so nobody can make Duet
send lesson details to a number they do not hold.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import PhoneNumber
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.notifications.service import queue_sms
from marketplace.wording import plural

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
CODE_DIGITS = 6
SENDS_PER_HOUR = 5
"""Codes a user may have sent per hour (checked by the callers' rate limiter)."""


@dataclass(frozen=True)
class PhoneStatus:
    e164: str | None
    confirmed: bool
    code_pending: bool


def normalise(raw: str) -> str:
    """E.164 or 422. Numbers must carry their country code (+351…)."""
    try:
        number = phonenumbers.parse(raw.strip(), None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationFailed(
            {"phone": "Enter a valid mobile number with its country code, e.g. +351 912 345 678."}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _digest(user_id: int, e164: str, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{e164}:{code}".encode()).hexdigest()


def status_of(row: PhoneNumber | None, now: datetime | None = None) -> PhoneStatus:
    if row is None:
        return PhoneStatus(None, False, False)
    now = now or datetime.now(UTC)
    pending = (
        row.code_hash is not None
        and row.code_expires_at is not None
        and row.code_expires_at > now
        and row.attempts < MAX_ATTEMPTS
    )
    return PhoneStatus(row.e164, row.confirmed_at is not None, pending)


async def phone_of(session: AsyncSession, user_id: int) -> PhoneNumber | None:
    return await session.get(PhoneNumber, user_id)


async def request_code(
    session: AsyncSession, user_id: int, raw_phone: str, *, now: datetime | None = None
) -> PhoneStatus:
    """Start confirming ``raw_phone`` (a new number replaces the old one) and text it a code."""
    e164 = normalise(raw_phone)
    now = now or datetime.now(UTC)
    row = await session.get(PhoneNumber, user_id, with_for_update=True)
    if row is not None and row.e164 == e164 and row.confirmed_at is not None:
        raise Conflict("This number is already confirmed.", code="phone_already_confirmed")
    if row is None:
        row = PhoneNumber(user_id=user_id, e164=e164, attempts=0)
        session.add(row)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row.e164 = e164
    row.confirmed_at = None  # a new number is unconfirmed until its code comes back
    row.code_hash = _digest(user_id, e164, code)
    row.code_expires_at = now + CODE_TTL
    row.attempts = 0
    row.updated_at = now
    await session.flush()
    minutes = int(CODE_TTL.total_seconds() // 60)
    await queue_sms(
        session,
        user_id,
        e164,
        f"Your Duet confirmation code is {code}. It expires in {plural(minutes, 'minute')}.",
    )
    return status_of(row, now)


async def confirm_code(
    session: AsyncSession, user_id: int, code: str, *, now: datetime | None = None
) -> bool:
    """Check ``code``; True when the number is now confirmed.

    A wrong code returns False and counts an attempt: the caller commits that count and then
    answers 422, so guessing is bounded by ``MAX_ATTEMPTS`` per code.
    """
    now = now or datetime.now(UTC)
    row = await session.get(PhoneNumber, user_id, with_for_update=True)
    if row is None or row.code_hash is None or row.code_expires_at is None:
        raise Conflict("There is no code to confirm; ask for a new one.", code="no_code_pending")
    if row.code_expires_at <= now:
        raise Conflict("This code has expired; ask for a new one.", code="code_expired")
    if row.attempts >= MAX_ATTEMPTS:
        raise Conflict("Too many wrong codes; ask for a new one.", code="too_many_attempts")
    given = "".join(ch for ch in code if ch.isdigit())
    if not hmac.compare_digest(_digest(user_id, row.e164, given), row.code_hash):
        row.attempts += 1
        row.updated_at = now
        return False
    row.confirmed_at = now
    row.code_hash = None
    row.code_expires_at = None
    row.attempts = 0
    row.updated_at = now
    return True


async def remove(session: AsyncSession, user_id: int) -> None:
    row = await session.get(PhoneNumber, user_id, with_for_update=True)
    if row is None:
        raise NotFound("You have no mobile number on file.")
    await session.delete(row)


def wrong_code() -> ValidationFailed:
    return ValidationFailed(
        {"code": "That code is not right. Check the text message and try again."}
    )
