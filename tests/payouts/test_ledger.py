"""The ledger's own rules: balanced movements, written once, never changed."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payouts import ledger
from payouts.ledger import Leg


@pytest.mark.parametrize(
    ("amount", "fee", "refunds"),
    [(4500, 675, [4500]), (4500, 675, [1000, 1000, 2500]), (999, 149, [1, 1, 997]), (100, 0, [50])],
)
def test_fees_round_the_same_however_a_refund_is_split(
    amount: int, fee: int, refunds: list[int]
) -> None:
    refunded = 0
    fee_back = 0
    for part in refunds:
        fee_back += ledger.fee_kept(amount, fee, refunded) - ledger.fee_kept(
            amount, fee, refunded + part
        )
        refunded += part
    assert fee - fee_back == ledger.fee_kept(amount, fee, refunded)
    assert ledger.fee_kept(amount, fee, amount) == 0


async def test_a_movement_is_balanced_and_written_once(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    legs = [
        Leg("platform", None, "fees", 100, "fee"),
        Leg("platform", None, "fronted", -100, "fee"),
    ]
    async with sessions() as session, session.begin():
        with pytest.raises(ValueError, match="does not balance"):
            await ledger.record(
                session, "m:bad", legs[:1], currency="EUR", payment_id=None, item_id=None
            )
        assert await ledger.record(
            session, "m:1", legs, currency="EUR", payment_id=None, item_id=None
        )
        assert not await ledger.record(
            session, "m:1", legs, currency="EUR", payment_id=None, item_id=None
        )
        assert await ledger.totals_by_currency(session) == {"EUR": 0}
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE ledger_entries SET amount_minor = 0")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM ledger_entries")
    finally:
        await conn.close()


def test_stripe_keys_all_or_none() -> None:
    from marketplace.settings import ConfigError, Settings

    assert Settings.from_env({}).payments.uses_stripe is False
    full = {
        "STRIPE_SECRET_KEY": "sk_test_1",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_1",
        "STRIPE_WEBHOOK_SECRET": "whsec_1",
    }
    assert Settings.from_env(full).payments.uses_stripe is True
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET is not set"):
        Settings.from_env({k: v for k, v in full.items() if k != "STRIPE_WEBHOOK_SECRET"})
    with pytest.raises(ConfigError, match="STRIPE_PUBLISHABLE_KEY, STRIPE_WEBHOOK_SECRET"):
        Settings.from_env({"STRIPE_SECRET_KEY": "sk_test_1"})
    assert Settings.from_env({}).scheduling.dispute_window_hours == 48
