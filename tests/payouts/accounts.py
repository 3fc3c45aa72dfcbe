"""Payout accounts for tests: a tutor is bookable only with one that may receive payouts."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from payouts.demo import demo_account_id
from payouts.models import ConnectedAccount, DemoObject
from tests.helpers import run_sql

_UPSERT = (
    "INSERT INTO connected_accounts (tutor_id, stripe_account_id, charges_enabled, "
    "payouts_enabled, details_submitted, requirements) VALUES ($1, $2, true, true, true, '{}') "
    "ON CONFLICT (tutor_id) DO UPDATE SET stripe_account_id = $2, payouts_enabled = true, "
    "charges_enabled = true, details_submitted = true"
)


def demo_account_data(account_id: str, tutor_id: int) -> dict[str, Any]:
    return {
        "id": account_id,
        "object": "account",
        "type": "express",
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "requirements": {"currently_due": [], "past_due": []},
        "metadata": {"duet_tutor": str(tutor_id)},
    }


def enable_payouts(client: TestClient[Any], tutor_id: int, account_id: str | None = None) -> str:
    """Give the tutor a payout account that may receive payouts (a demo one by default, known
    to the demo gateway; pass ``account_id`` for an account made at the Stripe double)."""
    account = account_id or demo_account_id(tutor_id)
    if account_id is None:
        run_sql(
            client,
            "INSERT INTO demo_gateway_objects (id, kind, data) VALUES ($1, 'account', $2::jsonb) "
            "ON CONFLICT DO NOTHING",
            account,
            json.dumps(demo_account_data(account, tutor_id)),
        )
    run_sql(client, _UPSERT, tutor_id, account)
    return account


def disable_payouts(client: TestClient[Any], tutor_id: int) -> None:
    run_sql(
        client,
        "UPDATE connected_accounts SET payouts_enabled = false WHERE tutor_id = $1",
        tutor_id,
    )


def add_demo_account(session: AsyncSession, tutor_id: int) -> None:
    """The same, inside a session (for tests that insert rows directly)."""
    account = demo_account_id(tutor_id)
    session.add(DemoObject(id=account, kind="account", data=demo_account_data(account, tutor_id)))
    session.add(
        ConnectedAccount(
            tutor_id=tutor_id,
            stripe_account_id=account,
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
            requirements=[],
            links_made=0,
        )
    )
