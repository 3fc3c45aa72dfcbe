"""Tutor onboarding: an Express connected account, Account Links, and its status.

A tutor can be booked only once Stripe says their account may receive payouts
(``payouts_enabled``). Stripe tells us through ``account.updated``; the return from onboarding
re-reads the account at once so the tutor does not wait for the webhook.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, ScalarSelect, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.errors import Conflict, NotFound
from marketplace.events import TutorProfileChanged
from marketplace.uow import emit
from payouts import gateway as gw
from payouts.models import ConnectedAccount
from payouts.runtime import Payments

logger = logging.getLogger(__name__)


class PayoutsNotEnabled(Conflict):
    code = "payouts_not_enabled"


async def account_of(
    session: AsyncSession, tutor_id: int, *, lock: bool = False
) -> ConnectedAccount | None:
    return await session.get(ConnectedAccount, tutor_id, with_for_update=lock or None)


async def can_receive_payouts(session: AsyncSession, tutor_id: int) -> bool:
    enabled = await session.scalar(
        select(ConnectedAccount.payouts_enabled).where(ConnectedAccount.tutor_id == tutor_id)
    )
    return bool(enabled)


async def payout_ready(session: AsyncSession, tutor_ids: Iterable[int]) -> set[int]:
    """Of ``tutor_ids``, those whose connected account may receive payouts."""
    ids = list(tutor_ids)
    if not ids:
        return set()
    rows = await session.scalars(
        select(ConnectedAccount.tutor_id).where(
            ConnectedAccount.tutor_id.in_(ids), ConnectedAccount.payouts_enabled.is_(True)
        )
    )
    return set(rows)


async def require_payouts(session: AsyncSession, tutor_id: int) -> ConnectedAccount:
    account = await account_of(session, tutor_id)
    refuse_unless_payable(account is not None and account.payouts_enabled)
    assert account is not None
    return account


def payouts_enabled_of(tutor_id: int | ColumnElement[int]) -> ScalarSelect[bool]:
    """Whether the tutor's account may receive payouts (NULL: no account), as a scalar
    subquery other statements embed (a hold reads it with its other checks)."""
    return (
        select(ConnectedAccount.payouts_enabled)
        .where(ConnectedAccount.tutor_id == tutor_id)
        .scalar_subquery()
    )


def refuse_unless_payable(payable: bool | None) -> None:
    """Only a tutor who can be paid can be booked."""
    if not payable:
        raise PayoutsNotEnabled(
            "This tutor cannot take bookings yet: their payout account is not set up.",
        )


async def by_stripe_id(session: AsyncSession, account_id: str) -> ConnectedAccount | None:
    return await session.scalar(
        select(ConnectedAccount).where(ConnectedAccount.stripe_account_id == account_id)
    )


def apply_snapshot(
    session: AsyncSession, row: ConnectedAccount, snap: gw.ConnectedAccount, at: datetime
) -> bool:
    """Apply what the provider says, unless we already applied something newer.

    Stripe's event times have whole seconds; our own reads are truncated alike, so an event
    from the same second as a read still applies.
    """
    at = at.replace(microsecond=0)
    if row.synced_at is not None and at < row.synced_at:
        return False
    was_enabled = row.payouts_enabled
    row.charges_enabled = snap.charges_enabled
    row.payouts_enabled = snap.payouts_enabled
    row.details_submitted = snap.details_submitted
    row.requirements = list(snap.requirements)
    row.synced_at = at
    if was_enabled != snap.payouts_enabled:
        # Bookability changed: search shows only tutors who can be paid.
        emit(session, TutorProfileChanged(row.tutor_id))
    return True


def snapshot_from_json(obj: dict[str, object]) -> gw.ConnectedAccount:
    requirements = obj.get("requirements") or {}
    due: list[str] = []
    if isinstance(requirements, dict):
        for key in ("past_due", "currently_due"):
            for name in requirements.get(key) or []:
                if isinstance(name, str) and name not in due:
                    due.append(name)
    return gw.ConnectedAccount(
        id=str(obj.get("id", "")),
        charges_enabled=bool(obj.get("charges_enabled")),
        payouts_enabled=bool(obj.get("payouts_enabled")),
        details_submitted=bool(obj.get("details_submitted")),
        requirements=tuple(due),
    )


async def ensure_account(pay: Payments, tutor_id: int) -> ConnectedAccount:
    """The tutor's connected account, created at the provider the first time."""
    async with pay.tx() as session:
        row = await account_of(session, tutor_id)
        if row is not None:
            return row
        user = await session.get(User, tutor_id)
        if user is None:
            raise NotFound("No such tutor.", code="tutor_not_found")
        email = user.email
    # Our tutor id is the idempotency key: two clicks (or a crash and a retry) make one account.
    snap = await pay.gateway.create_account(
        key=f"duet-account-{tutor_id}", email=email, country=None, tutor_id=tutor_id
    )
    async with pay.tx() as session:
        await session.execute(
            insert(ConnectedAccount)
            .values(tutor_id=tutor_id, stripe_account_id=snap.id, requirements=[])
            .on_conflict_do_nothing(index_elements=["tutor_id"])
        )
        row = await account_of(session, tutor_id, lock=True)
        assert row is not None
        if row.stripe_account_id == snap.id:
            apply_snapshot(session, row, snap, datetime.now(UTC))
        return row


async def onboarding_link(pay: Payments, tutor_id: int) -> str:
    """A fresh Account Link (they are single-use and expire within minutes)."""
    account = await ensure_account(pay, tutor_id)
    async with pay.tx() as session:
        row = await account_of(session, tutor_id, lock=True)
        assert row is not None
        row.links_made += 1
        number = row.links_made
    link = await pay.gateway.create_account_link(
        key=f"duet-account-link-{tutor_id}-{number}",
        account_id=account.stripe_account_id,
        refresh_url=f"{pay.base_url}/tutor/payouts/refresh",
        return_url=f"{pay.base_url}/tutor/payouts/return",
    )
    return link.url


async def refresh_status(pay: Payments, tutor_id: int) -> ConnectedAccount | None:
    """Re-read the account from the provider (the tutor came back from onboarding)."""
    async with pay.tx() as session:
        row = await account_of(session, tutor_id)
    if row is None:
        return None
    snap = await pay.gateway.retrieve_account(row.stripe_account_id)
    async with pay.tx() as session:
        row = await account_of(session, tutor_id, lock=True)
        assert row is not None
        apply_snapshot(session, row, snap, datetime.now(UTC))
        return row


async def dashboard_link(pay: Payments, tutor_id: int) -> str:
    """A login link to the tutor's Express dashboard (payouts, bank details, tax forms)."""
    async with pay.tx() as session:
        row = await account_of(session, tutor_id, lock=True)
        if row is None or not row.details_submitted:
            raise Conflict(
                "Finish setting up payouts first; then your dashboard is available.",
                code="onboarding_incomplete",
            )
        row.links_made += 1
        number, account_id = row.links_made, row.stripe_account_id
    link = await pay.gateway.create_login_link(
        key=f"duet-login-link-{tutor_id}-{number}", account_id=account_id
    )
    return link.url
