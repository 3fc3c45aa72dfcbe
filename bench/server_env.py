"""Secrets for the throwaway servers the benchmarks start: fixed web secret, fresh signing key.

A bench server is given ``DATABASE_URL``, so it is not on the embedded default and must be
handed every secret a production start requires."""

from __future__ import annotations

import base64
import secrets


def bench_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": "bench-" + "x" * 40,
        "CERTIFICATE_SIGNING_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
