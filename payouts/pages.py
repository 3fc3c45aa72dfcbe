"""Pages: checkout (Stripe's Payment Element, or the demo payment step), the tutor's earnings
and payout setup, the demo onboarding and dashboard, and the admin's payments page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from marketplace import money
from marketplace.errors import DomainError, Forbidden, NotFound, ValidationFailed
from marketplace.web.access import Access, require_principal
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.templating import NOTICES, page
from payouts import accounts, checkout, refunds, reports
from payouts.api import earnings_csv_response
from payouts.demo_gateway import DemoGateway
from payouts.models import ConnectedAccount, Payment, PaymentItem, PaymentStatus
from payouts.purchases import KINDS
from payouts.web import account_out, payment_out, payments_of, services_of

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
NOTICES.update(
    {
        "payouts_ready": "Your payout account is ready: students can book you.",
        "payouts_pending": "Stripe is still checking your details; we will update this page.",
        "refund_recorded": "The refund is recorded and on its way.",
        "pay_later": "The time is held for you. Pay below to confirm the lesson.",
    }
)


def _demo(gateway: Any) -> DemoGateway:
    if not isinstance(gateway, DemoGateway):
        raise NotFound("There is no demo payment step when Stripe is configured.")
    return gateway


async def _my_payment(request: Request[Any, Any, Any], payment_id: int) -> Payment:
    principal = require_principal(request)
    async with services_of(request).sessions() as session:
        payment = await checkout.payment_for(session, payment_id, principal.id)
    if payment.payer_id != principal.id:
        raise Forbidden("Only the payer can open this checkout.", code="not_your_payment")
    return payment


async def _lines(request: Request[Any, Any, Any], payment: Payment) -> list[tuple[Any, Any]]:
    async with services_of(request).sessions() as session:
        items = await checkout.items_of(session, payment.id)
        views = await KINDS.get(payment.kind).describe(session, items)
    return [(item, views.get(item.id)) for item in items]


def _next_url(lines: list[tuple[PaymentItem, Any]]) -> str:
    for _, view in lines:
        if view is not None and view.url:
            return str(view.url)
    return "/"


@get(
    "/checkout/{payment_id:int}",
    access=Access.STUDENT,
    include_in_schema=False,
    media_type=MediaType.HTML,
)
async def checkout_page(request: Request[Any, Any, Any], payment_id: FromPath[int]) -> Any:
    return await _checkout_view(request, payment_id)


async def _checkout_view(
    request: Request[Any, Any, Any], payment_id: int, error: str = "", status_code: int = 200
) -> Template | Redirect:
    payment = await _my_payment(request, payment_id)
    if payment.status == PaymentStatus.SUCCEEDED.value:
        return Redirect(f"/checkout/{payment.id}/return", status_code=303)
    lines = await _lines(request, payment)
    async with payments_of(request) as pay:
        out = payment_out(payment, pay.gateway, require_principal(request).id)
        mode = pay.gateway.mode
    return page(
        request,
        "payouts/checkout.html",
        status_code=status_code,
        p=out,
        lines=lines,
        mode=mode,
        error=error,
        open=payment.status in (PaymentStatus.REQUIRES_PAYMENT.value, "processing"),
        next_url=_next_url(lines),
        w=KINDS.wording(payment.kind),
        return_url=str(request.base_url).rstrip("/") + f"/checkout/{payment.id}/return",
    )


@post(
    "/checkout/{payment_id:int}/demo",
    access=Access.STUDENT,
    include_in_schema=False,
    media_type=MediaType.HTML,
)
async def demo_pay(request: Request[Any, Any, Any], payment_id: FromPath[int]) -> Any:
    """The demo payment step: accept or decline the 'card'. The outcome reaches Duet as a
    signed event through the webhook pipeline, exactly like Stripe's."""
    form = await form_data(request)
    principal = require_principal(request)
    succeed = form.get("outcome") != "decline"
    try:
        async with payments_of(request) as pay:
            demo = _demo(pay.gateway)
            payment = await checkout.begin_attempt(pay, payment_id, principal.id)
            assert payment.intent_id is not None
            await demo.complete_payment(payment.intent_id, succeed=succeed)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return await _checkout_view(request, payment_id, exc.message, exc.status_code)
    return redirect(f"/checkout/{payment_id}/return")


@get("/checkout/{payment_id:int}/return", access=Access.STUDENT, include_in_schema=False)
async def checkout_return(request: Request[Any, Any, Any], payment_id: FromPath[int]) -> Template:
    """Where Stripe (and the demo step) send the payer back; it follows the payment until what
    was bought is delivered (the lesson confirmed, the course open)."""
    payment = await _my_payment(request, payment_id)
    lines = await _lines(request, payment)
    delivered = all(view is not None and view.state != "held" for _, view in lines)
    return page(
        request,
        "payouts/checkout_return.html",
        p=payment_out(payment, None, require_principal(request).id),
        lines=lines,
        waiting=payment.status != PaymentStatus.SUCCEEDED.value or not delivered,
        next_url=_next_url(lines),
        w=KINDS.wording(payment.kind),
    )


# ---------------------------------------------------------------- tutors


@get("/tutor/earnings", access=Access.TUTOR, include_in_schema=False)
async def earnings_page(request: Request[Any, Any, Any]) -> Template:
    services = services_of(request)
    me = require_principal(request)
    async with services.sessions() as session:
        report = await reports.earnings(session, me.id, services.settings.marketplace.currency)
        row = await accounts.account_of(session, me.id)
    return page(
        request,
        "payouts/earnings.html",
        report=report,
        account=account_out(row, "stripe" if services.settings.payments.uses_stripe else "demo"),
        error=request.query_params.get("error", ""),
    )


@get("/tutor/earnings.csv", access=Access.TUTOR, include_in_schema=False)
async def earnings_csv(request: Request[Any, Any, Any]) -> Response[str]:
    return await earnings_csv_response(request)


async def _to_link(request: Request[Any, Any, Any], make: Any) -> Redirect:
    try:
        async with payments_of(request) as pay:
            url = await make(pay, require_principal(request).id)
    except DomainError as exc:
        if exc.status_code in (401, 403, 404):
            raise
        return Redirect(f"/tutor/earnings?error={exc.code}", status_code=303)
    return Redirect(url, status_code=303)


@post("/tutor/payouts/onboard", access=Access.TUTOR, include_in_schema=False)
async def onboard(request: Request[Any, Any, Any]) -> Redirect:
    return await _to_link(request, accounts.onboarding_link)


@get("/tutor/payouts/refresh", access=Access.TUTOR, include_in_schema=False)
async def onboarding_refresh(request: Request[Any, Any, Any]) -> Redirect:
    """Stripe's ``refresh_url``: the link expired or was used; make a new one."""
    return await _to_link(request, accounts.onboarding_link)


@get("/tutor/payouts/return", access=Access.TUTOR, include_in_schema=False)
async def onboarding_return(request: Request[Any, Any, Any]) -> Redirect:
    """Stripe's ``return_url``: re-check the account now rather than wait for the webhook."""
    try:
        async with payments_of(request) as pay:
            row = await accounts.refresh_status(pay, require_principal(request).id)
    except DomainError as exc:
        return Redirect(f"/tutor/earnings?error={exc.code}", status_code=303)
    ready = row is not None and row.payouts_enabled
    return redirect("/tutor/earnings", "payouts_ready" if ready else "payouts_pending")


@post("/tutor/payouts/dashboard", access=Access.TUTOR, include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any]) -> Redirect:
    return await _to_link(request, accounts.dashboard_link)


async def _my_demo_account(request: Request[Any, Any, Any], account_id: str) -> ConnectedAccount:
    async with services_of(request).sessions() as session:
        row = await accounts.by_stripe_id(session, account_id)
    if row is None or row.tutor_id != require_principal(request).id:
        raise NotFound("No such payout account.")
    return row


@get("/payments/demo/onboarding/{account_id:str}", access=Access.TUTOR, include_in_schema=False)
async def demo_onboarding(request: Request[Any, Any, Any], account_id: FromPath[str]) -> Template:
    async with payments_of(request) as pay:
        _demo(pay.gateway)
    row = await _my_demo_account(request, account_id)
    return page(request, "payouts/demo_onboarding.html", account=row)


@post("/payments/demo/onboarding/{account_id:str}", access=Access.TUTOR, include_in_schema=False)
async def demo_onboarding_done(
    request: Request[Any, Any, Any], account_id: FromPath[str]
) -> Redirect:
    await _my_demo_account(request, account_id)
    async with payments_of(request) as pay:
        await _demo(pay.gateway).complete_onboarding(account_id)
    return Redirect("/tutor/payouts/return", status_code=303)


@get("/payments/demo/dashboard/{account_id:str}", access=Access.TUTOR, include_in_schema=False)
async def demo_dashboard(request: Request[Any, Any, Any], account_id: FromPath[str]) -> Template:
    async with payments_of(request) as pay:
        _demo(pay.gateway)
    row = await _my_demo_account(request, account_id)
    services = services_of(request)
    async with services.sessions() as session:
        report = await reports.earnings(
            session, row.tutor_id, services.settings.marketplace.currency
        )
    return page(request, "payouts/demo_dashboard.html", account=row, report=report)


# ---------------------------------------------------------------- admin


@get("/admin/payments", access=Access.ADMIN, include_in_schema=False)
async def admin_payments(request: Request[Any, Any, Any]) -> Template:
    return await _admin_view(request)


async def _admin_view(
    request: Request[Any, Any, Any],
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Template:
    async with services_of(request).sessions() as session:
        overview = await reports.platform(session)
        recent = await reports.recent_payments(session)
    return page(
        request,
        "payouts/admin.html",
        status_code=status_code,
        o=overview,
        recent=recent,
        errors=errors or {},
        problem=problem,
    )


@post(
    "/admin/payments/{payment_id:int}/refund",
    access=Access.ADMIN,
    include_in_schema=False,
    media_type=MediaType.HTML,
)
async def admin_refund(request: Request[Any, Any, Any], payment_id: FromPath[int]) -> Any:
    form = await form_data(request)
    services = services_of(request)
    try:
        try:
            amount = money.parse_major(
                form.get("amount", ""), services.settings.marketplace.currency
            )
        except ValueError:
            amount = None
        if amount is None:
            raise ValidationFailed({"amount": "Enter an amount such as 12.50."})
        async with services.transaction() as session:
            await refunds.admin_refund(
                session,
                payment_id,
                amount=amount,
                reason=form.get("reason", ""),
                admin_id=require_principal(request).id,
            )
    except DomainError as exc:
        # The service counts in minor units; the form asks for the amount as typed.
        names = {"amount_minor": "amount", "payment_id": "amount"}
        return await _admin_view(request, **form_failure(exc, "amount", names))
    return redirect("/admin/payments", "refund_recorded")


ROUTES = [
    checkout_page,
    demo_pay,
    checkout_return,
    earnings_page,
    earnings_csv,
    onboard,
    onboarding_refresh,
    onboarding_return,
    dashboard,
    demo_onboarding,
    demo_onboarding_done,
    demo_dashboard,
    admin_payments,
    admin_refund,
    create_static_files_router(
        path="/static/payouts",
        directories=[STATIC],
        opt={"access": Access.PUBLIC},
        include_in_schema=False,
    ),
]
