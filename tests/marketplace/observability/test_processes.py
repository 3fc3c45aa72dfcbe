"""The real thing, as `duet web` and `duet worker` run in production: two processes on one
Redis and one PostgreSQL, sharing a metrics directory. A webhook posted to the web process is
applied by the worker; one scrape of the web process holds the counters of both, and both
processes' JSON log lines carry the webhook request's id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from marketplace.embedded import EmbeddedRedis, free_port
from payouts import signing
from payouts.demo_gateway import demo_secret
from tests.conftest import TEST_SIGNING_KEY
from tests.marketplace.observability.test_metrics import value

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "two-processes-metrics-token"
SECRET_KEY = "two-processes-secret-key-" + "s" * 24


@pytest.fixture
def redis_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="duet-test-redis-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis")
        server.start()
        try:
            yield server.url()
        finally:
            server.stop()


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "marketplace.cli", *command],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until(check: Any, what: str, processes: list[subprocess.Popen[bytes]]) -> Any:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"a process exited while waiting for {what}"
        try:
            found = check()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _json_lines(log: Path) -> list[dict[str, Any]]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    bad = [line for line in lines if not line.startswith("{")]
    assert not bad, bad[:5]
    return [json.loads(line) for line in lines]


def test_web_and_worker_share_metrics_and_the_request_id(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port, worker_port = free_port(), free_port()
    metrics_dir = tmp_path / "metrics"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PROMETHEUS_"))},
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": SECRET_KEY,
        "CERTIFICATE_SIGNING_KEY": TEST_SIGNING_KEY,
        "DUET_VAR_DIR": str(tmp_path / "var"),
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "LOG_FORMAT": "json",
    }
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    web = _start(["web", "--port", str(port)], env, web_log)
    worker = _start(
        ["worker", "--threads", "2", "--metrics-port", str(worker_port)], env, worker_log
    )
    processes = [web, worker]
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            _wait_until(lambda: http.get("/healthz").status_code == 200, "the web", processes)
            assert http.get("/api/v1/tutors/search/").status_code == 200
            event = {
                "id": "evt_two_processes",
                "type": "payment_intent.succeeded",
                "created": int(time.time()),
                "data": {"object": {"id": "pi_nobody", "object": "payment_intent"}},
            }
            payload = json.dumps(event)
            from marketplace.settings import Settings

            secret = demo_secret(Settings.from_env({"SECRET_KEY": SECRET_KEY}))
            hook = http.post(
                "/webhooks/stripe?replay=no",
                content=payload.encode(),
                headers={
                    "Stripe-Signature": signing.sign(payload, secret),
                    "X-Request-ID": "hook-across-processes",
                    "Content-Type": "application/json",
                },
            )
            assert hook.status_code == 200, hook.text
            assert hook.headers["x-request-id"] == "hook-across-processes"

            def applied() -> str | None:
                text = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
                done = value(text, "duet_job_runs_total", task="payouts.process_event")
                return text if done >= 1 else None

            text = _wait_until(applied, "the worker to apply the event", processes)
            assert http.get("/metrics").status_code == 401
            # A worker on a host of its own serves the same counters on its port.
            own = httpx.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=10).text
            assert value(own, "duet_job_runs_total", task="payouts.process_event") >= 1
    finally:
        for process in processes:
            _stop(process)

    # Counted in the web process: requests by route, the webhook's receipt.
    assert value(text, "duet_http_requests_total", path="/api/v1/tutors/search") >= 1
    assert value(text, "duet_search_duration_seconds_count", backend="postgres") >= 1
    received = value(
        text, "duet_webhooks_received_total", type="payment_intent.succeeded", result="accepted"
    )
    assert received == 1
    # Counted in the worker: the job and the event it applied.
    assert value(text, "duet_job_duration_seconds_count", task="payouts.process_event") >= 1
    processed = value(
        text, "duet_webhooks_processed_total", type="payment_intent.succeeded", result="handled"
    )
    assert processed == 1
    # Read from Redis at scrape time.
    assert "duet_queue_messages{" in text and 'queue="payments"' in text
    writers = {int(p.stem.rsplit("_", 1)[1]) for p in metrics_dir.glob("*.db")}
    assert {web.pid, worker.pid} <= writers

    web_lines, worker_lines = _json_lines(web_log), _json_lines(worker_log)
    hook_web = [line for line in web_lines if line.get("request_id") == "hook-across-processes"]
    assert any(line["logger"] == "payouts.webhooks" for line in hook_web)
    access = [line for line in hook_web if line["logger"] == "uvicorn.access"]
    assert access and "/webhooks/stripe" in access[0]["message"]
    assert "replay=no" not in access[0]["message"]  # no query string in the access log
    hook_worker = [
        line for line in worker_lines if line.get("request_id") == "hook-across-processes"
    ]
    assert {line.get("job") for line in hook_worker} == {"payouts.process_event"}
    assert any(line["message"].startswith("event evt_two_processes") for line in hook_worker)
    # Nothing went wrong on the way (a middleware error is logged, not raised, by dramatiq).
    assert not [line for line in web_lines + worker_lines if line["level"] == "critical"]
    assert {line.get("role") for line in web_lines} == {"web"}
    assert {line.get("role") for line in worker_lines} == {"worker"}
