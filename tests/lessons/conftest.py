"""Course sales run through payments: reuse its fixtures (the Stripe double, both gateways)."""

from __future__ import annotations

from tests.payouts.conftest import (  # noqa: F401 - fixtures
    demo_env,
    env,
    live_api,
    stripe_client,
    stripe_double,
    stripe_queue,
    stripe_settings,
)
