"""Everything logged while people log in, talk and pay, captured at DEBUG: JSON lines that
never hold a password, a session token, the webhook secret or a message's words, and the
webhook's request id followed into the job that applied the event."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from marketplace.observability.logs import build_handler
from tests.helpers import PASSWORD, login, register
from tests.marketplace.messaging.helpers import conversation, send
from tests.payouts.flow import Env, drain, paid_booking

MESSAGE = "Bring the Bach partita, the secret knock is 7731-zebra"
API_SECRET = "sk_test_double"  # the Stripe secret key of tests/payouts/conftest.py


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """All log output of every logger, as the JSON the production handler writes."""
    out = io.StringIO()
    handler = build_handler("json", role="test", stream=out)
    root = logging.getLogger()
    # Libraries the production set-up quietens talk here too (Stripe's SDK dumps bodies).
    loggers = [root, *(logging.getLogger(name) for name in ("stripe", "httpx", "httpcore"))]
    levels = [logger.level for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_no_secret_or_message_text_reaches_the_logs(env: Env, captured: io.StringIO) -> None:
    assert env.double is not None
    client = env.client
    user = register(client, "student")
    headers = login(client, user["email"])
    token = headers["Authorization"].removeprefix("Bearer ")
    client.get("/api/v1/me", headers=headers)
    # A dead token and a cookie are refused; neither may be echoed into a log line.
    client.get("/api/v1/me", headers={"Authorization": "Bearer dead-token-" + "q" * 30})
    client.get("/account", headers={"Cookie": "duet_session=cookie-value-" + "k" * 30})
    client.post(
        "/api/v1/auth/login", json={"email": user["email"], "password": "wrong " + PASSWORD}
    )

    cid, _, tutor, _, _ = conversation(client)
    assert send(client, tutor, cid, MESSAGE).status_code == 201
    drain(env)
    _, payment, _, _, _ = paid_booking(env)  # checkout, Stripe calls, webhooks, their jobs

    event = env.double.event("payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent"})
    payload, header = env.double.signed(event)
    webhook = client.post(
        "/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": header, "X-Request-ID": "hook-trail-1"},
    )
    assert webhook.status_code == 200
    assert webhook.headers["x-request-id"] == "hook-trail-1"
    drain(env)

    text = captured.getvalue()
    lines = _lines(captured)  # every line is one JSON object
    assert len(lines) > 20
    for secret in [
        PASSWORD,
        token,
        "dead-token-",
        "cookie-value-",
        env.double.webhook_secret,
        API_SECRET,
        MESSAGE,
        "7731-zebra",
        "_secret_",  # a payment intent's client secret (Stripe's debug lines hold them)
    ]:
        assert secret not in text, secret
    assert {line["level"] for line in lines} >= {"info", "debug"}

    # The webhook's id, accepted by the endpoint and carried into the job that applied it.
    trail = [line for line in lines if line.get("request_id") == "hook-trail-1"]
    received = [line for line in trail if line["message"].startswith(f"webhook {event['id']}")]
    applied = [line for line in trail if line.get("job") == "payouts.process_event"]
    assert received and "accepted" in received[0]["message"]
    assert any(line["message"].startswith(f"event {event['id']}") for line in applied)
    assert all(line["job_id"] for line in applied)
    # The Stripe calls were made (and logged by the SDK), their secrets masked.
    assert payment["id"] and any(line["logger"] == "stripe" for line in lines)
    assert "[redacted]" in text
