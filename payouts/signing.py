"""Webhook signatures in Stripe's scheme: ``t=<unix time>,v1=<hex HMAC-SHA256 of "t.payload">``.

Used by the demo gateway, which signs its events with a local secret and sends them through
the same verification and processing as Stripe's.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(payload: str, header: str, secret: str, tolerance_s: int = 300) -> bool:
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for key, value in parts if key == "t"]
    signatures = [value for key, value in parts if key == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        return False
    t = int(stamps[0])
    if abs(time.time() - t) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
