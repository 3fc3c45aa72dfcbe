"""Demo payout accounts: every demo tutor gets a demo connected account that may receive
payouts, so the demo marketplace is bookable through the demo gateway out of the box."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from payouts.models import ConnectedAccount, DemoObject


def demo_account_id(tutor_id: int) -> str:
    return f"acct_demo_tutor{tutor_id}"


async def seed_payout_accounts(session: AsyncSession, tutor_ids: list[int]) -> None:
    """Idempotent: tutors who already have an account (demo or real) keep it."""
    have = set(
        await session.scalars(
            select(ConnectedAccount.tutor_id).where(ConnectedAccount.tutor_id.in_(tutor_ids))
        )
    )
    emails = dict(
        (await session.execute(select(User.id, User.email).where(User.id.in_(tutor_ids)))).all()
    )
    for tutor_id in sorted(set(tutor_ids) - have):
        account_id = demo_account_id(tutor_id)
        await session.execute(
            insert(DemoObject)
            .values(
                id=account_id,
                kind="account",
                idempotency_key=f"duet-account-{tutor_id}",
                data={
                    "id": account_id,
                    "object": "account",
                    "type": "express",
                    "email": emails.get(tutor_id, ""),
                    "charges_enabled": True,
                    "payouts_enabled": True,
                    "details_submitted": True,
                    "requirements": {"currently_due": [], "past_due": []},
                    "metadata": {"duet_tutor": str(tutor_id)},
                },
            )
            .on_conflict_do_nothing()
        )
        session.add(
            ConnectedAccount(
                tutor_id=tutor_id,
                stripe_account_id=account_id,
                charges_enabled=True,
                payouts_enabled=True,
                details_submitted=True,
                requirements=[],
                links_made=0,
            )
        )
    await session.flush()
