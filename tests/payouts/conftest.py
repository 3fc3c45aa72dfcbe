"""Payment fixtures: the app in Stripe mode against the local Stripe double."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.app import build_queue, create_app
from marketplace.settings import PaymentSettings, Settings
from marketplace.tasks import DramatiqQueue, build_broker
from tests.payouts.flow import Env
from tests.scheduling.conftest import live_api  # noqa: F401 - a real server for the races
from tests.stripe_double import StripeDouble


@pytest.fixture
def stripe_double() -> Iterator[StripeDouble]:
    double = StripeDouble()
    double.start()
    try:
        yield double
    finally:
        double.stop()


@pytest.fixture
def stripe_settings(settings: Settings, stripe_double: StripeDouble) -> Settings:
    return replace(
        settings,
        payments=PaymentSettings(
            stripe_secret_key="sk_test_double",
            stripe_publishable_key="pk_test_double",
            stripe_webhook_secret=stripe_double.webhook_secret,
            stripe_api_base=stripe_double.url,
            stripe_timeout=1.0,
        ),
    )


@pytest.fixture
def stripe_queue(stripe_settings: Settings) -> DramatiqQueue:
    return build_queue(stripe_settings, build_broker(None))


@pytest.fixture
def stripe_client(
    stripe_settings: Settings, stripe_queue: DramatiqQueue
) -> Iterator[TestClient[Any]]:
    app = create_app(stripe_settings, queue=stripe_queue)
    with TestClient(app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


@pytest.fixture
def env(
    stripe_client: TestClient[Any], stripe_queue: DramatiqQueue, stripe_double: StripeDouble
) -> Env:
    return Env(stripe_client, stripe_queue, stripe_double)


@pytest.fixture
def demo_env(client: TestClient[Any], queue: DramatiqQueue) -> Env:
    return Env(client, queue, None)
