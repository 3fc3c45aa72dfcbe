"""Against Stripe's real test mode, when STRIPE_TEST_SECRET_KEY is set (skipped otherwise).

It exercises the gateway itself: an intent confirmed with Stripe's test card, a partial refund
with an idempotency key replayed, and an Express account with its onboarding link.
"""

from __future__ import annotations

import os
import uuid

import pytest

from marketplace.settings import PaymentSettings
from payouts.stripe_gateway import StripeGateway

KEY = os.environ.get("STRIPE_TEST_SECRET_KEY", "")
pytestmark = pytest.mark.skipif(
    not KEY.startswith("sk_test_"), reason="STRIPE_TEST_SECRET_KEY (a test-mode key) is not set"
)


@pytest.fixture
async def gateway() -> StripeGateway:
    return StripeGateway(
        PaymentSettings(
            stripe_secret_key=KEY,
            stripe_publishable_key="pk_test_unused",
            stripe_webhook_secret="whsec_unused",
        )
    )


async def test_intent_refund_and_account_in_test_mode(gateway: StripeGateway) -> None:
    import stripe  # only to play the browser's part (confirming with a test card)

    run = uuid.uuid4().hex[:12]
    try:
        intent = await gateway.create_payment_intent(
            key=f"duet-live-{run}",
            amount=1234,
            currency="EUR",
            transfer_group=f"live_{run}",
            description="Duet live test",
            metadata={"duet_payment": run},
        )
        again = await gateway.create_payment_intent(
            key=f"duet-live-{run}",
            amount=1234,
            currency="EUR",
            transfer_group=f"live_{run}",
            description="Duet live test",
            metadata={"duet_payment": run},
        )
        assert again.id == intent.id and intent.amount == 1234
        client = stripe.StripeClient(KEY)
        client.v1.payment_intents.confirm(
            intent.id,
            {"payment_method": "pm_card_visa", "return_url": "https://example.com/return"},
        )
        paid = await gateway.retrieve_payment_intent(intent.id)
        assert paid.status == "succeeded" and paid.latest_charge
        refund = await gateway.create_refund(
            key=f"duet-live-refund-{run}", payment_intent=intent.id, amount=234, metadata={}
        )
        replay = await gateway.create_refund(
            key=f"duet-live-refund-{run}", payment_intent=intent.id, amount=234, metadata={}
        )
        assert refund.id == replay.id and refund.amount == 234
        account = await gateway.create_account(
            key=f"duet-live-account-{run}", email=f"{run}@example.com", country="DE", tutor_id=0
        )
        assert account.id.startswith("acct_") and not account.payouts_enabled
        link = await gateway.create_account_link(
            key=f"duet-live-link-{run}",
            account_id=account.id,
            refresh_url="https://example.com/refresh",
            return_url="https://example.com/return",
        )
        assert link.url.startswith("https://")
    finally:
        await gateway.aclose()
