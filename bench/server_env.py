"""What the benchmarks' throwaway servers need: their secrets, and a wait until they answer.

A bench server is given ``DATABASE_URL``, so it is not on the embedded default and must be
handed every secret a production start requires (a fixed web secret, a fresh signing key)."""

from __future__ import annotations

import base64
import secrets
import subprocess
import time

import httpx


def bench_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": "bench-" + "x" * 40,
        "CERTIFICATE_SIGNING_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }


def wait_healthy(base: str, processes: list[subprocess.Popen[bytes]], within: float = 90) -> None:
    """Until ``base``/healthz answers 200; an error if one of ``processes`` exits or time is up."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError("a bench server exited during start-up")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the bench server did not become healthy within {within:.0f} s")
