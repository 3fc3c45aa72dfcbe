"""JSON API for payments: the webhook receiver, payments, tutor payouts, earnings, admin."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from marketplace.web.access import Access, require_principal
from payouts import accounts, checkout, refunds, reports, webhooks
from payouts.schemas import (
    AdminRefundIn,
    EarningsOut,
    LinkOut,
    PaymentOut,
    PayoutAccountOut,
    PlatformOut,
    RefundOut,
)
from payouts.web import account_out, payment_out, payments_of, services_of


@post(
    "/webhooks/stripe",
    access=Access.PUBLIC,
    errors=(400,),  # a bad Stripe-Signature
    status_code=200,
    include_in_schema=True,
    tags=["payments"],
)
async def stripe_webhook(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Stripe (platform and Connect) events. 400 on a bad signature or an unknown account;
    200 for everything stored, including types Duet ignores and replays."""
    payload = await request.body()
    async with payments_of(request) as pay:
        outcome = await webhooks.receive(pay, payload, request.headers.get("stripe-signature", ""))
    return {"received": True, "duplicate": outcome == "duplicate"}


class PaymentController(Controller):
    path = "/api/v1/payments"
    tags = ["payments"]

    @get("/{payment_id:int}", access=Access.USER)
    async def show(self, request: Request[Any, Any, Any], payment_id: FromPath[int]) -> PaymentOut:
        """A payment you make or receive (admins: any)."""
        principal = require_principal(request)
        async with services_of(request).sessions() as session:
            payment = await checkout.payment_for(
                session, payment_id, principal.id, is_admin=principal.is_admin
            )
        return payment_out(payment, None, principal.id)

    @post("/{payment_id:int}/attempt", access=Access.STUDENT, status_code=200)
    async def attempt(
        self, request: Request[Any, Any, Any], payment_id: FromPath[int]
    ) -> PaymentOut:
        """Call right before confirming the card with stripe.js: checks the purchase can still
        be paid and keeps the lesson held while the payment is in progress."""
        principal = require_principal(request)
        async with payments_of(request) as pay:
            payment = await checkout.begin_attempt(pay, payment_id, principal.id)
            return payment_out(payment, pay.gateway, principal.id)


class PayoutController(Controller):
    path = "/api/v1/tutors/me"
    tags = ["payouts"]

    @get("/payouts", access=Access.TUTOR)
    async def show(self, request: Request[Any, Any, Any]) -> PayoutAccountOut:
        """Your payout account: whether Stripe lets you take bookings and receive payouts."""
        services = services_of(request)
        async with services.sessions() as session:
            row = await accounts.account_of(session, require_principal(request).id)
        return account_out(row, "stripe" if services.settings.payments.uses_stripe else "demo")

    @post("/payouts/onboarding", access=Access.TUTOR, status_code=HTTP_201_CREATED)
    async def onboarding(self, request: Request[Any, Any, Any]) -> LinkOut:
        """A fresh onboarding link (Stripe Express); send the tutor's browser there."""
        async with payments_of(request) as pay:
            return LinkOut(await accounts.onboarding_link(pay, require_principal(request).id))

    @post("/payouts/refresh", access=Access.TUTOR, status_code=200)
    async def refresh(self, request: Request[Any, Any, Any]) -> PayoutAccountOut:
        """Re-read your account from Stripe now (after onboarding)."""
        async with payments_of(request) as pay:
            row = await accounts.refresh_status(pay, require_principal(request).id)
            return account_out(row, pay.gateway.mode)

    @post("/payouts/dashboard-link", access=Access.TUTOR, status_code=HTTP_201_CREATED)
    async def dashboard(self, request: Request[Any, Any, Any]) -> LinkOut:
        """A one-time login link to your Stripe Express dashboard."""
        async with payments_of(request) as pay:
            return LinkOut(await accounts.dashboard_link(pay, require_principal(request).id))

    @get("/earnings", access=Access.TUTOR)
    async def earnings(self, request: Request[Any, Any, Any]) -> EarningsOut:
        """Balances (upcoming, pending, available, paid out) and a line per paid lesson."""
        services = services_of(request)
        async with services.sessions() as session:
            return await reports.earnings(
                session, require_principal(request).id, services.settings.marketplace.currency
            )


class AdminPaymentController(Controller):
    path = "/api/v1/admin/payments"
    tags = ["admin"]

    @get("/", access=Access.ADMIN)
    async def overview(self, request: Request[Any, Any, Any]) -> PlatformOut:
        """Platform balances (fees, fronted refunds, disputes), refunds, disputes and transfers
        that need attention; ``ledger_totals`` is 0 in every currency."""
        async with services_of(request).sessions() as session:
            return await reports.platform(session)

    @post("/{payment_id:int}/refunds", access=Access.ADMIN, status_code=HTTP_201_CREATED)
    async def refund(
        self,
        request: Request[Any, Any, Any],
        payment_id: FromPath[int],
        data: JSONBody[AdminRefundIn],
    ) -> list[RefundOut]:
        """Refund (part of) a payment with a reason; after settlement the tutor's part is
        taken back from their transfer."""
        async with services_of(request).transaction() as session:
            made = await refunds.admin_refund(
                session,
                payment_id,
                amount=data.amount_minor,
                reason=data.reason,
                admin_id=require_principal(request).id,
                item_id=data.item_id,
            )
            return [
                RefundOut(
                    r.id,
                    r.payment_id,
                    r.item_id,
                    r.amount_minor,
                    r.reason,
                    r.initiated_by,
                    r.status,
                    r.error,
                    r.created_at,
                )
                for r in made
            ]


async def earnings_csv_response(request: Request[Any, Any, Any]) -> Response[str]:
    services = services_of(request)
    async with services.sessions() as session:
        report = await reports.earnings(
            session, require_principal(request).id, services.settings.marketplace.currency
        )
    return Response(
        reports.earnings_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="duet-earnings.csv"'},
    )


ROUTES = [stripe_webhook, PaymentController, PayoutController, AdminPaymentController]
