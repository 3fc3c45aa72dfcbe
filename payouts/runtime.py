"""What payment use cases run with: the settings, a transaction factory and the gateway.

Payment use cases span several short transactions with provider calls between them (never a
network call inside a transaction), so they take a ``Tx`` factory rather than one session.
The gateway is opened per request or job and closed after it: its HTTP client belongs to the
event loop that made it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.events import EventBus
from marketplace.settings import Settings
from marketplace.tasks import TaskQueue
from marketplace.uow import unit_of_work
from payouts.gateway import PaymentGateway

Tx = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass(frozen=True)
class Payments:
    settings: Settings
    tx: Tx
    gateway: PaymentGateway

    @property
    def fee_bps(self) -> int:
        return self.settings.marketplace.platform_fee_bps

    @property
    def base_url(self) -> str:
        return self.settings.web.base_url


def build_gateway(settings: Settings, tx: Tx) -> PaymentGateway:
    if settings.payments.uses_stripe:
        from payouts.stripe_gateway import StripeGateway

        return StripeGateway(settings.payments)
    from payouts.demo_gateway import DemoGateway

    return DemoGateway(settings, tx)


@asynccontextmanager
async def open_payments(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    events: EventBus,
    queue: TaskQueue,
) -> AsyncIterator[Payments]:
    def tx() -> AbstractAsyncContextManager[AsyncSession]:
        return unit_of_work(sessions, events, queue)

    gateway = build_gateway(settings, tx)
    try:
        yield Payments(settings, tx, gateway)
    finally:
        await gateway.aclose()
