"""The demo gateway: the embedded default's stand-in for Stripe, labelled as such everywhere.

It keeps what Stripe would keep (accounts, intents, charges, refunds, transfers) in its own
table, honours idempotency keys the same way, and reports what happens as Stripe-shaped events
signed with a local secret, delivered through ``webhooks.receive`` — the very code path of
``POST /webhooks/stripe`` — so confirmation, settlement and refunds behave exactly as with
Stripe. Payments complete on a local "demo payment" page instead of a card form; onboarding
completes on a local page too. Demo payouts are instant: a transfer is followed at once by a
``payout.paid`` on the tutor's demo account.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from marketplace.settings import Settings
from payouts import gateway as gw
from payouts import signing
from payouts.accounts import snapshot_from_json
from payouts.models import DemoObject
from payouts.runtime import Payments, Tx

PREFIX = {
    "account": "acct_demo_",
    "payment_intent": "pi_demo_",
    "charge": "ch_demo_",
    "refund": "re_demo_",
    "transfer": "tr_demo_",
    "transfer_reversal": "trr_demo_",
    "payout": "po_demo_",
    "event": "evt_demo_",
}


def demo_secret(settings: Settings) -> str:
    """The local webhook signing secret, derived from the app's own secret key."""
    key = settings.web.secret_key.encode() or b"duet-embedded"
    return hmac.new(key, b"duet-demo-webhooks", hashlib.sha256).hexdigest()


def new_id(kind: str) -> str:
    return PREFIX[kind] + secrets.token_hex(8)


def is_demo_id(value: str) -> bool:
    return "_demo_" in value


class DemoGateway:
    mode = "demo"
    publishable_key = ""

    def __init__(self, settings: Settings, tx: Tx) -> None:
        self._settings = settings
        self._tx = tx
        self._secret = demo_secret(settings)

    async def aclose(self) -> None:
        return None

    # ------------------------------------------------------------ the store

    async def _create(
        self, kind: str, key: str | None, make: Callable[[str], dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        """Create once per idempotency key; a replay returns what the first call made."""
        object_id = new_id(kind)
        data = {"id": object_id, "object": kind, "created": int(time.time()), **make(object_id)}
        async with self._tx() as session:
            made = await session.scalar(
                insert(DemoObject)
                .values(id=object_id, kind=kind, idempotency_key=key, data=data)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(DemoObject.id)
            )
            if made is None:
                earlier = await session.scalar(
                    select(DemoObject).where(DemoObject.idempotency_key == key)
                )
                assert earlier is not None
                if earlier.kind != kind:
                    raise gw.GatewayError(
                        "Keys for idempotent requests can only be used for one request.",
                        code="stripe_idempotency_error",
                    )
                return dict(earlier.data), False
        return data, True

    async def _by_key(self, key: str) -> dict[str, Any] | None:
        async with self._tx() as session:
            row = await session.scalar(select(DemoObject).where(DemoObject.idempotency_key == key))
            return dict(row.data) if row is not None else None

    async def get(self, object_id: str, kind: str) -> dict[str, Any]:
        async with self._tx() as session:
            row = await session.get(DemoObject, object_id)
            if row is None or row.kind != kind:
                raise gw.GatewayError(
                    f"No such {kind}: {object_id}", code="stripe_resource_missing"
                )
            return dict(row.data)

    async def _update(
        self, object_id: str, kind: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any]:
        async with self._tx() as session:
            row = await session.get(DemoObject, object_id, with_for_update=True)
            if row is None or row.kind != kind:
                raise gw.GatewayError(
                    f"No such {kind}: {object_id}", code="stripe_resource_missing"
                )
            row.data = change(dict(row.data))
            return dict(row.data)

    async def deliver(
        self, event_type: str, obj: dict[str, Any], account: str | None = None
    ) -> str:
        """Send an event the way Stripe would: signed, to the webhook receiver."""
        from payouts import webhooks  # the receiver imports the gateway port, not this module

        event = {
            "id": new_id("event"),
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "account": account,
            "data": {"object": obj},
        }
        payload = json.dumps(event)
        header = signing.sign(payload, self._secret)
        return await webhooks.receive(
            Payments(self._settings, self._tx, self), payload.encode(), header
        )

    # ------------------------------------------------------------ accounts

    async def create_account(
        self, *, key: str, email: str, country: str | None, tutor_id: int
    ) -> gw.ConnectedAccount:
        data, _ = await self._create(
            "account",
            key,
            lambda _id: {
                "type": "express",
                "email": email,
                "country": country or "",
                "charges_enabled": False,
                "payouts_enabled": False,
                "details_submitted": False,
                "requirements": {"currently_due": ["external_account"], "past_due": []},
                "metadata": {"duet_tutor": str(tutor_id)},
            },
        )
        return snapshot_from_json(data)

    async def retrieve_account(self, account_id: str) -> gw.ConnectedAccount:
        return snapshot_from_json(await self.get(account_id, "account"))

    async def create_account_link(
        self, *, key: str, account_id: str, refresh_url: str, return_url: str
    ) -> gw.Link:
        await self.get(account_id, "account")
        return gw.Link(url=f"/payments/demo/onboarding/{account_id}")  # a page of this site

    async def create_login_link(self, *, key: str, account_id: str) -> gw.Link:
        await self.get(account_id, "account")
        return gw.Link(url=f"/payments/demo/dashboard/{account_id}")

    async def complete_onboarding(self, account_id: str) -> None:
        """The demo onboarding page's button: the account may now receive payouts."""

        def enable(data: dict[str, Any]) -> dict[str, Any]:
            return {
                **data,
                "charges_enabled": True,
                "payouts_enabled": True,
                "details_submitted": True,
                "requirements": {"currently_due": [], "past_due": []},
            }

        account = await self._update(account_id, "account", enable)
        await self.deliver("account.updated", account, account=account_id)

    # ------------------------------------------------------------ payments

    @staticmethod
    def _intent(data: dict[str, Any]) -> gw.PaymentIntent:
        return gw.PaymentIntent(
            id=data["id"],
            client_secret=data["client_secret"],
            status=data["status"],
            amount=int(data["amount"]),
            currency=str(data["currency"]).upper(),
            latest_charge=data.get("latest_charge"),
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
        data, _ = await self._create(
            "payment_intent",
            key,
            lambda object_id: {
                "amount": amount,
                "currency": currency.lower(),
                "status": "requires_payment_method",
                "client_secret": f"{object_id}_secret_{secrets.token_hex(8)}",
                "transfer_group": transfer_group,
                "description": description,
                "metadata": metadata,
                "latest_charge": None,
                "last_payment_error": None,
            },
        )
        return self._intent(data)

    async def retrieve_payment_intent(self, intent_id: str) -> gw.PaymentIntent:
        return self._intent(await self.get(intent_id, "payment_intent"))

    async def cancel_payment_intent(self, *, key: str, intent_id: str) -> gw.PaymentIntent:
        def cancel(data: dict[str, Any]) -> dict[str, Any]:
            if data["status"] == "succeeded":
                raise gw.GatewayError(
                    "You cannot cancel this PaymentIntent because it has a status of succeeded.",
                    code="stripe_payment_intent_unexpected_state",
                )
            return {**data, "status": "canceled"}

        return self._intent(await self._update(intent_id, "payment_intent", cancel))

    async def complete_payment(self, intent_id: str, *, succeed: bool) -> gw.PaymentIntent:
        """The demo payment page: the 'card' is accepted or declined, and Stripe's events follow."""
        if not succeed:

            def decline(data: dict[str, Any]) -> dict[str, Any]:
                if data["status"] in ("succeeded", "canceled"):
                    raise gw.GatewayError(
                        f"This payment is {data['status']}.",
                        code="stripe_payment_intent_unexpected_state",
                    )
                return {
                    **data,
                    "status": "requires_payment_method",
                    "last_payment_error": {
                        "code": "card_declined",
                        "message": "Your card was declined (demo).",
                    },
                }

            intent = await self._update(intent_id, "payment_intent", decline)
            await self.deliver("payment_intent.payment_failed", intent)
            return self._intent(intent)
        current = await self.get(intent_id, "payment_intent")
        if current["status"] == "succeeded":
            return self._intent(current)
        charge, _ = await self._create(
            "charge",
            f"demo-charge-{intent_id}",
            lambda _id: {
                "amount": current["amount"],
                "amount_captured": current["amount"],
                "amount_refunded": 0,
                "currency": current["currency"],
                "payment_intent": intent_id,
                "paid": True,
                "refunded": False,
                "status": "succeeded",
                "transfer_group": current.get("transfer_group"),
                "metadata": current.get("metadata") or {},
            },
        )

        def succeed_(data: dict[str, Any]) -> dict[str, Any]:
            if data["status"] == "canceled":
                raise gw.GatewayError(
                    "This payment was cancelled; start again.",
                    code="stripe_payment_intent_unexpected_state",
                )
            return {**data, "status": "succeeded", "latest_charge": charge["id"]}

        intent = await self._update(intent_id, "payment_intent", succeed_)
        await self.deliver("payment_intent.succeeded", intent)
        return self._intent(intent)

    async def create_refund(
        self, *, key: str, payment_intent: str, amount: int, metadata: dict[str, str]
    ) -> gw.Refund:
        if (earlier := await self._by_key(key)) is not None:
            return gw.Refund(id=earlier["id"], status=earlier["status"], amount=earlier["amount"])
        intent = await self.get(payment_intent, "payment_intent")
        charge_id = intent.get("latest_charge")
        if intent["status"] != "succeeded" or not charge_id:
            raise gw.GatewayError(
                "This PaymentIntent has no successful charge to refund.",
                code="stripe_charge_not_refundable",
            )
        charge = await self.get(charge_id, "charge")
        if int(charge["amount_refunded"]) + amount > int(charge["amount"]):
            raise gw.GatewayError(
                "The refund is more than what is left on the charge.",
                code="stripe_amount_too_large",
            )
        refund, created = await self._create(
            "refund",
            key,
            lambda _id: {
                "amount": amount,
                "status": "succeeded",
                "payment_intent": payment_intent,
                "charge": charge_id,
                "metadata": metadata,
            },
        )
        if created:

            def add(data: dict[str, Any]) -> dict[str, Any]:
                refunded = int(data["amount_refunded"]) + amount
                return {
                    **data,
                    "amount_refunded": refunded,
                    "refunded": refunded >= int(data["amount"]),
                }

            charge = await self._update(charge_id, "charge", add)
            await self.deliver("charge.refunded", charge)
        return gw.Refund(id=refund["id"], status=refund["status"], amount=int(refund["amount"]))

    # ------------------------------------------------------------ transfers

    @staticmethod
    def _transfer(data: dict[str, Any]) -> gw.Transfer:
        return gw.Transfer(
            id=data["id"],
            amount=int(data["amount"]),
            destination=data["destination"],
            amount_reversed=int(data.get("amount_reversed") or 0),
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
        await self.get(destination, "account")
        await self.get(source_transaction, "charge")
        transfer, created = await self._create(
            "transfer",
            key,
            lambda _id: {
                "amount": amount,
                "amount_reversed": 0,
                "currency": currency.lower(),
                "destination": destination,
                "source_transaction": source_transaction,
                "transfer_group": transfer_group,
                "metadata": metadata,
            },
        )
        if created:  # demo payouts are instant
            payout, _ = await self._create(
                "payout",
                f"demo-payout-{transfer['id']}",
                lambda _id: {
                    "amount": amount,
                    "currency": currency.lower(),
                    "status": "paid",
                    "arrival_date": int(time.time()),
                },
            )
            await self.deliver("payout.paid", payout, account=destination)
        return self._transfer(transfer)

    async def find_transfer(self, *, transfer_group: str, our_id: str) -> gw.Transfer | None:
        async with self._tx() as session:
            rows = await session.scalars(select(DemoObject).where(DemoObject.kind == "transfer"))
            for row in rows:
                data = row.data
                if (
                    data.get("transfer_group") == transfer_group
                    and (data.get("metadata") or {}).get("duet_transfer") == our_id
                ):
                    return self._transfer(data)
        return None

    async def create_reversal(
        self, *, key: str, transfer_id: str, amount: int, metadata: dict[str, str]
    ) -> gw.Reversal:
        if (earlier := await self._by_key(key)) is not None:
            return gw.Reversal(id=earlier["id"], amount=earlier["amount"], transfer=transfer_id)
        current = await self.get(transfer_id, "transfer")
        if int(current["amount_reversed"]) + amount > int(current["amount"]):
            raise gw.GatewayError(
                "The reversal is more than what is left on the transfer.",
                code="stripe_amount_too_large",
            )
        reversal, created = await self._create(
            "transfer_reversal",
            key,
            lambda _id: {"amount": amount, "transfer": transfer_id, "metadata": metadata},
        )
        if created:

            def add(data: dict[str, Any]) -> dict[str, Any]:
                return {**data, "amount_reversed": int(data["amount_reversed"]) + amount}

            transfer = await self._update(transfer_id, "transfer", add)
            await self.deliver("transfer.reversed", transfer)
        return gw.Reversal(id=reversal["id"], amount=amount, transfer=transfer_id)

    # ------------------------------------------------------------ webhooks

    def parse_webhook(self, payload: bytes, signature: str) -> gw.WebhookEvent:
        if not signing.verify(payload.decode("utf-8", "replace"), signature or "", self._secret):
            raise gw.InvalidSignature("The Stripe-Signature header does not match.")
        try:
            return gw.WebhookEvent.from_payload(payload)
        except ValueError:
            raise gw.InvalidSignature(
                "The event is not valid JSON.", code="malformed_event"
            ) from None
