"""Stripe Connect behind the gateway port: the only module that imports ``stripe``.

One ``StripeClient`` per gateway, talking over the SDK's async httpx client with a bounded
timeout. Every POST carries an idempotency key the caller derived from our own row ids; the
SDK retries timeouts, 409s and 5xx with the same key (``max_network_retries``), and our jobs
retry the rest. Provider errors become our own ``GatewayError`` kinds with readable messages.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import stripe

from marketplace.observability import tracing
from marketplace.settings import PaymentSettings
from payouts import gateway as gw
from payouts.accounts import snapshot_from_json

logger = logging.getLogger(__name__)
T = TypeVar("T")
NETWORK_RETRIES = 2
SIGNATURE_TOLERANCE_S = 300


def _message(exc: stripe.StripeError) -> str:
    return str(exc.user_message or getattr(exc, "_message", "") or exc)[:400]


def translate(exc: stripe.StripeError) -> gw.GatewayError:
    """Stripe's error → ours: what a person reads, and whether trying again may help."""
    if isinstance(exc, stripe.CardError):
        return gw.CardDeclined(_message(exc) or "The card was declined.")
    if isinstance(exc, stripe.RateLimitError):
        return gw.ProviderBusy("The payment provider is busy. Please try again in a moment.")
    if isinstance(exc, stripe.APIConnectionError):
        return gw.ProviderBusy(
            "The payment provider did not answer in time. Please try again in a moment."
        )
    status = exc.http_status or 0
    if status >= 500 or status == 429:
        return gw.ProviderBusy("The payment provider has a problem. Please try again shortly.")
    code = str(getattr(exc, "code", "") or "")
    return gw.GatewayError(
        f"The payment provider refused: {_message(exc)}",
        code=f"stripe_{code}" if code else None,
    )


class _HTTPXClient(stripe.HTTPXClient):
    """Stripe's httpx client, sending the encoded form as ``content``: httpx deprecates raw
    bodies passed as ``data``."""

    def _get_request_args_kwargs(  # type: ignore[no-untyped-def]
        self, method: str, url: str, headers: Any, post_data: Any
    ):
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        body = kwargs.pop("data", None)
        if body:
            kwargs["content"] = body
        return args, kwargs


class StripeGateway:
    mode = "stripe"

    def __init__(self, settings: PaymentSettings) -> None:
        self.publishable_key = settings.stripe_publishable_key
        self._webhook_secret = settings.stripe_webhook_secret
        bases: Any = {}
        if settings.stripe_api_base:
            bases = {"api": settings.stripe_api_base, "connect": settings.stripe_api_base}
        self._http = _HTTPXClient(timeout=settings.stripe_timeout)
        self._client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses=bases,
            max_network_retries=NETWORK_RETRIES,
            http_client=self._http,
        )

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def _call(self, what: str, call: Awaitable[T]) -> T:
        try:
            with tracing.span(f"stripe {what}", **{"rpc.system": "stripe"}):
                return await call
        except stripe.StripeError as exc:
            error = translate(exc)
            # Request ids, never secrets or card data, go to the log.
            logger.warning(
                "stripe %s failed: %s (%s, request %s)",
                what,
                type(exc).__name__,
                exc.http_status,
                exc.request_id,
            )
            raise error from None

    # ------------------------------------------------------------ accounts

    @staticmethod
    def _account(obj: Any) -> gw.ConnectedAccount:
        return snapshot_from_json(obj.to_dict())

    async def create_account(
        self, *, key: str, email: str, country: str | None, tutor_id: int
    ) -> gw.ConnectedAccount:
        params: Any = {
            "type": "express",
            "email": email,
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"duet_tutor": str(tutor_id)},
        }
        if country:
            params["country"] = country
        account = await self._call(
            "create account",
            self._client.v1.accounts.create_async(params, {"idempotency_key": key}),
        )
        return self._account(account)

    async def retrieve_account(self, account_id: str) -> gw.ConnectedAccount:
        account = await self._call(
            "retrieve account", self._client.v1.accounts.retrieve_async(account_id)
        )
        return self._account(account)

    async def create_account_link(
        self, *, key: str, account_id: str, refresh_url: str, return_url: str
    ) -> gw.Link:
        link = await self._call(
            "create account link",
            self._client.v1.account_links.create_async(
                {
                    "account": account_id,
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                    "type": "account_onboarding",
                },
                {"idempotency_key": key},
            ),
        )
        return gw.Link(url=link.url)

    async def create_login_link(self, *, key: str, account_id: str) -> gw.Link:
        link = await self._call(
            "create login link",
            self._client.v1.accounts.login_links.create_async(
                account_id, None, {"idempotency_key": key}
            ),
        )
        return gw.Link(url=link.url)

    # ------------------------------------------------------------ payments

    @staticmethod
    def _intent(found: Any) -> gw.PaymentIntent:
        obj = found.to_dict()
        charge = obj.get("latest_charge")
        if charge is not None and not isinstance(charge, str):
            charge = charge.get("id")
        return gw.PaymentIntent(
            id=obj["id"],
            client_secret=obj.get("client_secret") or "",
            status=obj["status"],
            amount=int(obj["amount"]),
            currency=str(obj["currency"]).upper(),
            latest_charge=charge,
        )

    async def create_payment_intent(
        self,
        *,
        key: str,
        amount: int,
        currency: str,
        transfer_group: str,
        description: str,
        metadata: dict[str, str],
    ) -> gw.PaymentIntent:
        intent = await self._call(
            "create payment intent",
            self._client.v1.payment_intents.create_async(
                {
                    "amount": amount,
                    "currency": currency.lower(),
                    "transfer_group": transfer_group,
                    "description": description,
                    "metadata": metadata,
                    "automatic_payment_methods": {"enabled": True},
                },
                {"idempotency_key": key},
            ),
        )
        return self._intent(intent)

    async def retrieve_payment_intent(self, intent_id: str) -> gw.PaymentIntent:
        intent = await self._call(
            "retrieve payment intent", self._client.v1.payment_intents.retrieve_async(intent_id)
        )
        return self._intent(intent)

    async def cancel_payment_intent(self, *, key: str, intent_id: str) -> gw.PaymentIntent:
        intent = await self._call(
            "cancel payment intent",
            self._client.v1.payment_intents.cancel_async(intent_id, None, {"idempotency_key": key}),
        )
        return self._intent(intent)

    async def create_refund(
        self, *, key: str, payment_intent: str, amount: int, metadata: dict[str, str]
    ) -> gw.Refund:
        refund = await self._call(
            "create refund",
            self._client.v1.refunds.create_async(
                {"payment_intent": payment_intent, "amount": amount, "metadata": metadata},
                {"idempotency_key": key},
            ),
        )
        return gw.Refund(id=refund.id, status=str(refund.status), amount=int(refund.amount))

    # ------------------------------------------------------------ transfers

    @staticmethod
    def _transfer(found: Any) -> gw.Transfer:
        obj = found.to_dict()
        destination = obj.get("destination")
        if destination is not None and not isinstance(destination, str):
            destination = destination.get("id")
        return gw.Transfer(
            id=obj["id"],
            amount=int(obj["amount"]),
            destination=str(destination or ""),
            amount_reversed=int(obj.get("amount_reversed") or 0),
        )

    async def create_transfer(
        self,
        *,
        key: str,
        amount: int,
        currency: str,
        destination: str,
        source_transaction: str,
        transfer_group: str,
        metadata: dict[str, str],
    ) -> gw.Transfer:
        transfer = await self._call(
            "create transfer",
            self._client.v1.transfers.create_async(
                {
                    "amount": amount,
                    "currency": currency.lower(),
                    "destination": destination,
                    "source_transaction": source_transaction,
                    "transfer_group": transfer_group,
                    "metadata": metadata,
                },
                {"idempotency_key": key},
            ),
        )
        return self._transfer(transfer)

    async def find_transfer(self, *, transfer_group: str, our_id: str) -> gw.Transfer | None:
        page = await self._call(
            "list transfers",
            self._client.v1.transfers.list_async({"transfer_group": transfer_group, "limit": 100}),
        )
        for transfer in page.data:
            metadata: Any = transfer.to_dict().get("metadata") or {}
            if metadata.get("duet_transfer") == our_id:
                return self._transfer(transfer)
        return None

    async def create_reversal(
        self, *, key: str, transfer_id: str, amount: int, metadata: dict[str, str]
    ) -> gw.Reversal:
        reversal = await self._call(
            "create transfer reversal",
            self._client.v1.transfers.reversals.create_async(
                transfer_id, {"amount": amount, "metadata": metadata}, {"idempotency_key": key}
            ),
        )
        return gw.Reversal(id=reversal.id, amount=int(reversal.amount), transfer=transfer_id)

    # ------------------------------------------------------------ webhooks

    def parse_webhook(self, payload: bytes, signature: str) -> gw.WebhookEvent:
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, self._webhook_secret, tolerance=SIGNATURE_TOLERANCE_S
            )
        except stripe.SignatureVerificationError:
            raise gw.InvalidSignature("The Stripe-Signature header does not match.") from None
        try:
            return gw.WebhookEvent.from_payload(payload)
        except ValueError:
            raise gw.InvalidSignature(
                "The event is not valid JSON.", code="malformed_event"
            ) from None
