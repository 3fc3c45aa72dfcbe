"""Web helpers for payments, shared by its API and pages and by scheduling's checkout routes."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Request

from marketplace.web.services import Services
from payouts.accounts import account_of
from payouts.gateway import PaymentGateway
from payouts.models import ConnectedAccount, Payment, PaymentStatus
from payouts.runtime import Payments, open_payments
from payouts.schemas import PaymentOut, PayoutAccountOut


def services_of(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def payments_of(request: Request[Any, Any, Any]) -> AbstractAsyncContextManager[Payments]:
    services = services_of(request)
    return open_payments(services.settings, services.sessions, services.events, services.queue)


def payment_out(payment: Payment, gateway: PaymentGateway | None, viewer_id: int) -> PaymentOut:
    open_ = payment.status in (PaymentStatus.REQUIRES_PAYMENT.value, PaymentStatus.PROCESSING.value)
    mine = viewer_id == payment.payer_id
    return PaymentOut(
        id=payment.id,
        kind=payment.kind,
        ref=payment.ref,
        status=payment.status,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        description=payment.description,
        mode=payment.gateway,
        checkout_url=f"/checkout/{payment.id}",
        created_at=payment.created_at,
        succeeded_at=payment.succeeded_at,
        failure_message=payment.failure_message,
        client_secret=payment.client_secret if open_ and mine else None,
        publishable_key=(gateway.publishable_key or None) if gateway and open_ and mine else None,
    )


def account_out(row: ConnectedAccount | None, mode: str) -> PayoutAccountOut:
    return PayoutAccountOut(
        connected=row is not None,
        account_id=row.stripe_account_id if row else None,
        charges_enabled=bool(row and row.charges_enabled),
        payouts_enabled=bool(row and row.payouts_enabled),
        details_submitted=bool(row and row.details_submitted),
        requirements=list(row.requirements) if row else [],
        mode=mode,
    )


__all__ = ["account_of", "account_out", "payment_out", "payments_of", "services_of"]
