"""Erasing an account: one transaction, all or nothing, safe to run again.

``erase_account`` runs every statement of the registry, then rewrites the person's name, e-mail
address and phone number wherever text copied them (notification titles, payment descriptions
and ledger memos, audit reasons, provider payloads), and records the erasure. Files go only after
the commit (``delete_pending_files``): a rollback must leave them in place.
"""

# ruff: noqa: S608 - table and column names come from the schema; values are bound.

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import PhoneNumber, User
from marketplace.audit import service as audit
from marketplace.db import Base
from marketplace.events import TutorProfileChanged
from marketplace.privacy.files import Stores, files_to_delete
from marketplace.privacy.models import AccountDeletion
from marketplace.privacy.registry import FORMER_MEMBER, REMOVED_TEXT, RULES
from marketplace.uow import emit

_TEXT_TYPES = ("text", "character varying", "json", "jsonb")
_REGEX_SPECIALS = set("\\.^$|?*+()[]{}-")


IDENTITY_COLUMNS = {
    ("users", "full_name"),
    ("tutor_profiles", "display_name"),
    ("certificates", "student_name"),
    ("certificates", "tutor_name"),
}
"""Other people's own names: a namesake keeps theirs (the registry rewrote the user's own)."""

NAME_SCOPES = {
    "payments": "payer_id = :uid OR payee_id = :uid",
    "payment_items": "payment_id IN (SELECT id FROM payments WHERE payer_id = :uid "
    "OR payee_id = :uid)",
    "ledger_entries": "party_id = :uid OR payment_id IN (SELECT id FROM payments "
    "WHERE payer_id = :uid OR payee_id = :uid)",
    "course_orders": "student_id = :uid OR tutor_id = :uid",
}
"""Where a name is rewritten only in rows about the user: money records of a namesake stay."""


@dataclass(frozen=True)
class Needle:
    """A piece of the person's identity to rewrite, and what stands in its place. A name is
    not unique (``is_name``): it is never rewritten in another person's identity columns, and
    in money records only where they concern the user. An e-mail address or a phone number is
    theirs alone and goes everywhere."""

    text: str
    replacement: str
    is_name: bool = False


def placeholder_email(user_id: int) -> str:
    """Unique (the id) and undeliverable (``.invalid`` is reserved, RFC 2606)."""
    return f"former-member-{user_id}-{secrets.token_hex(4)}@erased.invalid"


async def erase_account(session: AsyncSession, user_id: int) -> bool:
    """Erase ``user_id`` if a deletion was confirmed and not done yet; True when it ran."""
    deletion = await session.get(AccountDeletion, user_id, with_for_update=True)
    if deletion is None or deletion.erased_at is not None:
        return False
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        return False
    needles = await _needles(session, user)
    deletion.pending_files = await files_to_delete(session, user_id)
    had_profile = await session.scalar(
        text("SELECT EXISTS (SELECT 1 FROM tutor_profiles WHERE user_id = :uid)"),
        {"uid": user_id},
    )
    # The ledger and the audit trail accept a rewrite of their free text in this transaction only.
    await session.execute(text("SELECT set_config('duet.erasure', 'on', true)"))
    params = {
        "uid": user_id,
        "uid_text": str(user_id),
        "former": FORMER_MEMBER,
        "removed": REMOVED_TEXT,
        "placeholder": placeholder_email(user_id),
    }
    for rule in RULES:
        for statement in rule.erase:
            await session.execute(text(statement), params)
    await scrub_mentions(session, needles, user_id)
    session.expire_all()  # the ORM's copies of rows the statements changed are stale
    deletion = await session.get(AccountDeletion, user_id)
    assert deletion is not None
    deletion.erased_at = datetime.now(UTC)
    deletion.last_error = ""
    await audit.record(
        session,
        action="account.erased",
        actor_role="system",
        actor_id=None,
        subject_kind="user",
        subject_id=user_id,
        details={"files": len(deletion.pending_files)},
    )
    if had_profile:
        emit(session, TutorProfileChanged(user_id))
    await session.flush()
    return True


async def _needles(session: AsyncSession, user: User) -> list[Needle]:
    found = [Needle(user.email, "erased@erased.invalid")]
    names = {user.full_name.strip()}
    display = await session.scalar(
        text("SELECT display_name FROM tutor_profiles WHERE user_id = :uid"), {"uid": user.id}
    )
    if display:
        names.add(display.strip())
    # A name shorter than three letters would rewrite unrelated words.
    found.extend(Needle(n, FORMER_MEMBER, is_name=True) for n in names if len(n) >= 3)
    phone = await session.scalar(select(PhoneNumber.e164).where(PhoneNumber.user_id == user.id))
    if phone:
        found.append(Needle(phone, "[number removed]"))
    return found


def _pattern(value: str, whole_word: bool) -> str:
    escaped = "".join("\\" + c if c in _REGEX_SPECIALS else c for c in value)
    if whole_word and value[:1].isalnum() and value[-1:].isalnum():
        return f"\\m{escaped}\\M"
    return escaped


async def scrub_mentions(session: AsyncSession, needles: list[Needle], user_id: int) -> int:
    """Rewrite every text and JSON column of every table where a needle appears (case
    insensitive); one pass over each column. Returns the number of rows changed."""
    changed = 0
    columns = await session.execute(
        text(
            "SELECT table_name, column_name, data_type, character_maximum_length "
            "FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type = ANY(:types) "
            "AND table_name <> 'alembic_version' ORDER BY table_name, ordinal_position"
        ),
        {"types": list(_TEXT_TYPES)},
    )
    known = set(Base.metadata.tables)
    for table, column, data_type, max_length in columns.all():
        if table not in known:
            continue
        usable = [n for n in needles if not (n.is_name and (table, column) in IDENTITY_COLUMNS)]
        if not usable:
            continue
        is_json = data_type in ("json", "jsonb")
        source = f'"{column}"::text' if is_json else f'"{column}"'
        params: dict[str, str | int] = {"uid": user_id}
        expression = source
        everywhere: list[str] = []
        scoped: list[str] = []
        for i, needle in enumerate(usable):
            # In JSON text a quote or backslash in the value is escaped.
            value = json.dumps(needle.text, ensure_ascii=False)[1:-1] if is_json else needle.text
            params[f"p{i}"] = _pattern(value, needle.is_name)
            params[f"r{i}"] = needle.replacement
            expression = f"regexp_replace({expression}, :p{i}, :r{i}, 'gi')"
            (scoped if needle.is_name and table in NAME_SCOPES else everywhere).append(f":p{i}")
        if is_json:
            expression = f"({expression})::{data_type}"
        elif max_length:
            expression = f"left({expression}, {int(max_length)})"  # a longer stand-in must fit
        conditions = [f"{source} ~* {p}" for p in everywhere]
        if scoped:
            matches = " OR ".join(f"{source} ~* {p}" for p in scoped)
            conditions.append(f"(({matches}) AND ({NAME_SCOPES[table]}))")
        result = await session.execute(
            text(f'UPDATE "{table}" SET "{column}" = {expression} WHERE {" OR ".join(conditions)}'),
            params,
        )
        changed += getattr(result, "rowcount", 0) or 0
    return changed


def delete_pending_files(stores: Stores, pending: list[list[str]]) -> int:
    for store, key in pending:
        stores.delete(store, key)
    return len(pending)
