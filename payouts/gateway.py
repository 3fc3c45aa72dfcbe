"""The payment gateway port: what Duet asks of Stripe Connect, in our own types.

Two adapters implement it: ``stripe_gateway.StripeGateway`` (the only module that imports
``stripe``) and ``demo_gateway.DemoGateway`` (the embedded default). Every call that creates
something takes an idempotency key derived from our own row ids, so a retry after a crash or a
timeout can never create a second charge, refund or transfer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from marketplace.errors import DomainError


class GatewayError(DomainError):
    """The provider refused or failed; ``retryable`` says whether trying again may work."""

    status_code = 502
    code = "payment_provider_error"
    retryable = False


class CardDeclined(GatewayError):
    status_code = 402
    code = "card_declined"


class ProviderBusy(GatewayError):
    """Rate limited, 5xx or timed out: try again later with the same idempotency key."""

    status_code = 503
    code = "payment_provider_unavailable"
    retryable = True


class InvalidSignature(DomainError):
    status_code = 400
    code = "invalid_signature"


@dataclass(frozen=True)
class ConnectedAccount:
    id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: datetime | None = None


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    client_secret: str
    status: str  # requires_payment_method, processing, succeeded, canceled, ...
    amount: int
    currency: str
    latest_charge: str | None = None


@dataclass(frozen=True)
class Refund:
    id: str
    status: str  # pending, succeeded, failed, canceled
    amount: int


@dataclass(frozen=True)
class Transfer:
    id: str
    amount: int
    destination: str
    amount_reversed: int = 0


@dataclass(frozen=True)
class Reversal:
    id: str
    amount: int
    transfer: str


@dataclass(frozen=True)
class WebhookEvent:
    """A verified event: ``obj`` is the Stripe object as JSON (``data.object``)."""

    id: str
    type: str
    created: datetime
    account: str | None
    obj: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, payload: bytes | str) -> WebhookEvent:
        data = json.loads(payload)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise InvalidSignature("This is not a Stripe event.", code="malformed_event")
        obj = (data.get("data") or {}).get("object") or {}
        return cls(
            id=data["id"],
            type=str(data.get("type", "")),
            created=datetime.fromtimestamp(int(data.get("created") or 0), UTC),
            account=data.get("account") or None,
            obj=obj if isinstance(obj, dict) else {},
        )


class PaymentGateway(Protocol):
    """The port. ``mode`` is ``"stripe"`` or ``"demo"``; pages say which."""

    mode: str
    publishable_key: str

    async def create_account(
        self, *, key: str, email: str, country: str | None, tutor_id: int
    ) -> ConnectedAccount: ...

    async def retrieve_account(self, account_id: str) -> ConnectedAccount: ...

    async def create_account_link(
        self, *, key: str, account_id: str, refresh_url: str, return_url: str
    ) -> Link: ...

    async def create_login_link(self, *, key: str, account_id: str) -> Link: ...

    async def create_payment_intent(
        self,
        *,
        key: str,
        amount: int,
        currency: str,
        transfer_group: str,
        description: str,
        metadata: dict[str, str],
    ) -> PaymentIntent: ...

    async def retrieve_payment_intent(self, intent_id: str) -> PaymentIntent: ...

    async def cancel_payment_intent(self, *, key: str, intent_id: str) -> PaymentIntent: ...

    async def create_refund(
        self, *, key: str, payment_intent: str, amount: int, metadata: dict[str, str]
    ) -> Refund: ...

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
    ) -> Transfer: ...

    async def find_transfer(self, *, transfer_group: str, our_id: str) -> Transfer | None:
        """The transfer we made for ``our_id`` (metadata ``duet_transfer``), if any."""
        ...

    async def create_reversal(
        self, *, key: str, transfer_id: str, amount: int, metadata: dict[str, str]
    ) -> Reversal: ...

    def parse_webhook(self, payload: bytes, signature: str) -> WebhookEvent:
        """Verify the signature (``InvalidSignature`` when bad) and parse the event."""
        ...

    async def aclose(self) -> None: ...
