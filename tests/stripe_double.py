"""A small stateful Stripe on 127.0.0.1 for the official SDK to talk to (tests only).

It keeps the subset Duet uses — accounts, account links, login links, payment intents (and the
charge a confirmation makes), refunds, transfers, transfer reversals — and behaves like Stripe
where it matters for money: idempotency keys replay the first answer (and refuse a different
request), refunds and reversals cannot exceed what is left, transfers from one charge cannot
exceed it. Failures are injected per path (declined card, 429, 500, or a timeout *after* the
work was done, so the answer is lost). What would reach the browser or Stripe's dashboard is a
method here (``confirm``, ``complete_onboarding``, ``dispute``, ``payout``); the events Stripe
would send are queued in ``outbox`` and delivered, signed like Stripe's, with ``deliver``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_ids = itertools.count(1)


def _new(prefix: str) -> str:
    return f"{prefix}_double{next(_ids):06d}"


def _nest(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``metadata[a]=1``, ``list[0]=x``) back into a dict."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class StripeFailure(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


def _error(status: int, type_: str, message: str, code: str | None = None) -> StripeFailure:
    body: dict[str, Any] = {"type": type_, "message": message}
    if code:
        body["code"] = code
    return StripeFailure(status, {"error": body})


@dataclass
class Injected:
    prefix: str
    kind: str  # declined, rate_limit, server_error, timeout
    times: int


@dataclass
class StripeDouble:
    webhook_secret: str = "whsec_double_secret"
    timeout_s: float = 1.5  # how long a "timeout" answer sleeps (longer than the client waits)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    _keys: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    _failures: list[Injected] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ server

    def start(self) -> None:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                url = urlsplit(self.path)
                params = _nest(parse_qsl(raw or url.query, keep_blank_values=True))
                key = self.headers.get("Idempotency-Key")
                status, body, delay = double.handle(method, url.path, params, key)
                if delay:
                    time.sleep(delay)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Request-Id", _new("req"))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout): the work is done all the same

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------ failure injection

    def fail(self, prefix: str, kind: str, times: int = 1) -> None:
        """The next ``times`` requests whose path starts with ``prefix`` fail with ``kind``."""
        assert kind in ("declined", "rate_limit", "server_error", "timeout")
        with self._lock:
            self._failures.append(Injected(prefix, kind, times))

    def _injected(self, path: str) -> str | None:
        for failure in self._failures:
            if path.startswith(failure.prefix) and failure.times > 0:
                failure.times -= 1
                return failure.kind
        return None

    # ------------------------------------------------------------ dispatch

    def handle(
        self, method: str, path: str, params: dict[str, Any], key: str | None
    ) -> tuple[int, dict[str, Any], float]:
        with self._lock:
            self.requests.append((method, path, key))
            kind = self._injected(path)
            if kind == "declined":
                return (
                    402,
                    _error(402, "card_error", "Your card was declined.", "card_declined").body,
                    0,
                )
            if kind == "rate_limit":
                return (
                    429,
                    _error(429, "invalid_request_error", "Too many requests.", "rate_limit").body,
                    0,
                )
            if kind == "server_error":
                return (
                    500,
                    _error(500, "api_error", "Something went wrong on Stripe's end.").body,
                    0,
                )
            fingerprint = json.dumps([method, path, params], sort_keys=True)
            if method == "POST" and key and key in self._keys:
                earlier, status, body = self._keys[key]
                if earlier != fingerprint:
                    failure = _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters.",
                    )
                    return failure.status, failure.body, 0
                return status, body, self.timeout_s if kind == "timeout" else 0
            try:
                status, body = 200, self._route(method, path, params)
            except StripeFailure as failure:
                status, body = failure.status, failure.body
            if method == "POST" and key:
                self._keys[key] = (fingerprint, status, body)
            return status, body, self.timeout_s if kind == "timeout" else 0

    def _route(self, method: str, path: str, p: dict[str, Any]) -> dict[str, Any]:
        routes: list[tuple[str, str, Any]] = [
            ("POST", r"/v1/accounts", self._create_account),
            ("GET", r"/v1/accounts/([^/]+)", self._get("account")),
            ("POST", r"/v1/account_links", self._account_link),
            ("POST", r"/v1/accounts/([^/]+)/login_links", self._login_link),
            ("POST", r"/v1/payment_intents", self._create_intent),
            ("GET", r"/v1/payment_intents/([^/]+)", self._get("payment_intent")),
            ("POST", r"/v1/payment_intents/([^/]+)/cancel", self._cancel_intent),
            ("POST", r"/v1/refunds", self._create_refund),
            ("POST", r"/v1/transfers", self._create_transfer),
            ("GET", r"/v1/transfers", self._list_transfers),
            ("POST", r"/v1/transfers/([^/]+)/reversals", self._create_reversal),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                result: dict[str, Any] = handler(p, *match.groups())
                return result
        raise _error(404, "invalid_request_error", f"Unrecognized request URL ({method} {path}).")

    def _get(self, kind: str) -> Any:
        def get(p: dict[str, Any], object_id: str) -> dict[str, Any]:
            return self.find(kind, object_id)

        return get

    def find(self, kind: str, object_id: str) -> dict[str, Any]:
        found = self.objects.get(object_id)
        if found is None or found["object"] != kind:
            raise _error(
                404, "invalid_request_error", f"No such {kind}: '{object_id}'", "resource_missing"
            )
        return found

    def _store(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj.setdefault("created", int(time.time()))
        obj.setdefault("livemode", False)
        self.objects[obj["id"]] = obj
        return obj

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects.values() if o["object"] == kind]

    # ------------------------------------------------------------ accounts

    def _create_account(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._store(
            {
                "id": _new("acct"),
                "object": "account",
                "type": p.get("type", "express"),
                "email": p.get("email"),
                "charges_enabled": False,
                "payouts_enabled": False,
                "details_submitted": False,
                "requirements": {
                    "currently_due": ["external_account", "tos_acceptance.date"],
                    "past_due": [],
                },
                "capabilities": {"transfers": "inactive"},
                "metadata": p.get("metadata", {}),
            }
        )

    def _account_link(self, p: dict[str, Any]) -> dict[str, Any]:
        self.find("account", p["account"])
        for name in ("refresh_url", "return_url"):
            if not p.get(name):
                raise _error(400, "invalid_request_error", f"Missing required param: {name}.")
        return {
            "object": "account_link",
            "url": f"{self.url}/setup/{p['account']}/{_new('link')}",
            "expires_at": int(time.time()) + 300,
            "created": int(time.time()),
            "refresh_url": p["refresh_url"],
            "return_url": p["return_url"],
        }

    def _login_link(self, p: dict[str, Any], account: str) -> dict[str, Any]:
        self.find("account", account)
        return {
            "object": "login_link",
            "url": f"{self.url}/express/{account}",
            "created": int(time.time()),
        }

    def complete_onboarding(self, account: str, *, payouts: bool = True) -> dict[str, Any]:
        """The tutor finished Stripe's onboarding; Stripe sends ``account.updated``."""
        with self._lock:
            obj = self.find("account", account)
            obj.update(
                charges_enabled=True,
                payouts_enabled=payouts,
                details_submitted=True,
                requirements={
                    "currently_due": [] if payouts else ["external_account"],
                    "past_due": [],
                },
            )
            return self.event("account.updated", obj, account=account)

    def enabled_account(self) -> str:
        """An account that finished onboarding (for tests about something else)."""
        with self._lock:
            obj = self._create_account({"type": "express"})
            obj.update(
                charges_enabled=True,
                payouts_enabled=True,
                details_submitted=True,
                requirements={"currently_due": [], "past_due": []},
            )
            return str(obj["id"])

    # ------------------------------------------------------------ payment intents

    def _create_intent(self, p: dict[str, Any]) -> dict[str, Any]:
        amount = int(p["amount"])
        if amount <= 0:
            raise _error(400, "invalid_request_error", "Amount must be positive.")
        intent_id = _new("pi")
        return self._store(
            {
                "id": intent_id,
                "object": "payment_intent",
                "amount": amount,
                "currency": p["currency"],
                "status": "requires_payment_method",
                "client_secret": f"{intent_id}_secret_{random.randrange(10**8)}",
                "transfer_group": p.get("transfer_group"),
                "description": p.get("description"),
                "metadata": p.get("metadata", {}),
                "latest_charge": None,
                "last_payment_error": None,
            }
        )

    def _cancel_intent(self, p: dict[str, Any], intent_id: str) -> dict[str, Any]:
        intent = self.find("payment_intent", intent_id)
        if intent["status"] == "succeeded":
            raise _error(
                400,
                "invalid_request_error",
                "This PaymentIntent has succeeded.",
                "payment_intent_unexpected_state",
            )
        intent["status"] = "canceled"
        return intent

    def confirm(self, intent_id: str, *, card: str = "ok") -> list[dict[str, Any]]:
        """What stripe.js does in the browser: ``card`` ``ok`` or ``declined``. Queues the
        events Stripe would send and returns them."""
        with self._lock:
            intent = self.find("payment_intent", intent_id)
            if intent["status"] in ("succeeded", "canceled"):
                raise AssertionError(f"cannot confirm a {intent['status']} intent")
            if card == "declined":
                intent["last_payment_error"] = {
                    "type": "card_error",
                    "code": "card_declined",
                    "message": "Your card was declined.",
                }
                return [self.event("payment_intent.payment_failed", intent)]
            charge = self._store(
                {
                    "id": _new("ch"),
                    "object": "charge",
                    "amount": intent["amount"],
                    "amount_captured": intent["amount"],
                    "amount_refunded": 0,
                    "currency": intent["currency"],
                    "payment_intent": intent_id,
                    "paid": True,
                    "refunded": False,
                    "status": "succeeded",
                    "transfer_group": intent["transfer_group"],
                    "metadata": intent["metadata"],
                }
            )
            intent.update(status="succeeded", latest_charge=charge["id"], last_payment_error=None)
            return [
                self.event("charge.succeeded", charge),
                self.event("payment_intent.succeeded", intent),
            ]

    # ------------------------------------------------------------ refunds

    def _create_refund(self, p: dict[str, Any]) -> dict[str, Any]:
        intent = self.find("payment_intent", p["payment_intent"])
        if intent["status"] != "succeeded":
            raise _error(
                400,
                "invalid_request_error",
                "This PaymentIntent has no charge.",
                "charge_not_refundable",
            )
        charge = self.find("charge", intent["latest_charge"])
        amount = int(p.get("amount") or charge["amount"] - charge["amount_refunded"])
        if amount <= 0 or charge["amount_refunded"] + amount > charge["amount"]:
            raise _error(
                400,
                "invalid_request_error",
                "Refund amount is greater than the unrefunded amount.",
                "amount_too_large",
            )
        refund = self._store(
            {
                "id": _new("re"),
                "object": "refund",
                "amount": amount,
                "charge": charge["id"],
                "payment_intent": intent["id"],
                "status": "succeeded",
                "metadata": p.get("metadata", {}),
            }
        )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self.event("charge.refunded", charge)
        return refund

    def refund_in_dashboard(self, intent_id: str, amount: int) -> dict[str, Any]:
        """An operator refunds in Stripe's dashboard (not through Duet)."""
        with self._lock:
            self._create_refund({"payment_intent": intent_id, "amount": str(amount)})
            return self.outbox[-1]

    # ------------------------------------------------------------ transfers

    def _create_transfer(self, p: dict[str, Any]) -> dict[str, Any]:
        self.find("account", p["destination"])
        amount = int(p["amount"])
        source = p.get("source_transaction")
        if source:
            charge = self.find("charge", source)
            sent = sum(
                t["amount"]
                for t in self.of_kind("transfer")
                if t.get("source_transaction") == source
            )
            if sent + amount > charge["amount"]:
                raise _error(
                    400,
                    "invalid_request_error",
                    "Transfers from this charge would exceed it.",
                    "amount_too_large",
                )
        transfer = self._store(
            {
                "id": _new("tr"),
                "object": "transfer",
                "amount": amount,
                "amount_reversed": 0,
                "currency": p["currency"],
                "destination": p["destination"],
                "source_transaction": source,
                "transfer_group": p.get("transfer_group"),
                "metadata": p.get("metadata", {}),
                "reversals": {"object": "list", "data": []},
                "reversed": False,
            }
        )
        self.event("transfer.created", transfer)
        return transfer

    def _list_transfers(self, p: dict[str, Any]) -> dict[str, Any]:
        group = p.get("transfer_group")
        data = [t for t in self.of_kind("transfer") if not group or t["transfer_group"] == group]
        return {"object": "list", "data": data, "has_more": False, "url": "/v1/transfers"}

    def _create_reversal(self, p: dict[str, Any], transfer_id: str) -> dict[str, Any]:
        transfer = self.find("transfer", transfer_id)
        amount = int(p.get("amount") or transfer["amount"] - transfer["amount_reversed"])
        if amount <= 0 or transfer["amount_reversed"] + amount > transfer["amount"]:
            raise _error(
                400,
                "invalid_request_error",
                "Reversal amount is greater than the transfer's unreversed amount.",
                "amount_too_large",
            )
        reversal = self._store(
            {
                "id": _new("trr"),
                "object": "transfer_reversal",
                "amount": amount,
                "transfer": transfer_id,
                "currency": transfer["currency"],
                "metadata": p.get("metadata", {}),
            }
        )
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].append(reversal)
        self.event("transfer.reversed", transfer)
        return reversal

    # ------------------------------------------------------------ disputes and payouts

    def dispute(
        self, charge_id: str, status: str = "needs_response", dispute_id: str | None = None
    ) -> dict[str, Any]:
        """The card holder disputes the charge (``status`` ``won``/``lost``: it closes)."""
        with self._lock:
            charge = self.find("charge", charge_id)
            obj = {
                "id": dispute_id or _new("dp"),
                "object": "dispute",
                "amount": charge["amount"] - charge["amount_refunded"],
                "currency": charge["currency"],
                "charge": charge_id,
                "payment_intent": charge["payment_intent"],
                "reason": "product_not_received",
                "status": status,
            }
            closed = status in ("won", "lost")
            return self.event("charge.dispute.closed" if closed else "charge.dispute.created", obj)

    def payout(
        self,
        account: str,
        amount: int,
        status: str = "paid",
        payout_id: str | None = None,
        currency: str = "eur",
    ) -> dict[str, Any]:
        with self._lock:
            obj = {
                "id": payout_id or _new("po"),
                "object": "payout",
                "amount": amount,
                "currency": currency,
                "status": status,
                "arrival_date": int(time.time()),
            }
            return self.event(f"payout.{status}", obj, account=account)

    # ------------------------------------------------------------ webhooks

    def event(self, type_: str, obj: dict[str, Any], account: str | None = None) -> dict[str, Any]:
        event = {
            "id": _new("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "type": type_,
            "livemode": False,
            "account": account,
            "data": {"object": json.loads(json.dumps(obj))},
        }
        self.outbox.append(event)
        return event

    def signed(self, event: dict[str, Any], secret: str | None = None) -> tuple[bytes, str]:
        payload = json.dumps(event)
        t = int(time.time())
        digest = hmac.new(
            (secret or self.webhook_secret).encode(), f"{t}.{payload}".encode(), hashlib.sha256
        ).hexdigest()
        return payload.encode(), f"t={t},v1={digest}"

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            events, self.outbox = self.outbox, []
            return events

    def deliver(self, client: Any, events: list[dict[str, Any]] | None = None) -> list[Any]:
        """POST events (default: the whole outbox, in order) to the app's webhook endpoint."""
        responses = []
        for event in self.take() if events is None else events:
            payload, header = self.signed(event)
            response = client.post(
                "/webhooks/stripe",
                content=payload,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.text
            responses.append(response)
        return responses
