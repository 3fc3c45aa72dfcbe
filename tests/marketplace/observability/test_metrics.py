"""``/metrics`` in one process: the token, the request metrics by route template, and the
counters and gauges of jobs, webhooks, search, queues, bookings and payments."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace import cli
from marketplace.app import create_app
from marketplace.observability import media
from marketplace.observability.metrics import MULTIPROC_ENV, prepare_multiprocess_dir
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.marketplace.messaging.helpers import conversation, send

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def metrics_client(settings: Settings, queue: DramatiqQueue) -> Iterator[TestClient[Any]]:
    settings = replace(settings, observability=replace(settings.observability, metrics_token=TOKEN))
    with TestClient(create_app(settings, queue=queue), base_url="http://127.0.0.1:8000") as c:
        yield c


def scrape(client: TestClient[Any]) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels...}`` (labels in any order, others allowed); 0 when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if line.startswith(name + "{") and all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
        if line.startswith(name + " ") and not labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_without_a_token_there_is_no_metrics_endpoint(client: TestClient[Any]) -> None:
    assert client.get("/metrics").status_code == 404


def test_the_token_is_required(metrics_client: TestClient[Any]) -> None:
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]:
        response = metrics_client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "duet_" not in response.text


def test_requests_are_counted_by_route_template(metrics_client: TestClient[Any]) -> None:
    template = "/api/v1/payments/{payment_id}"
    before = value(scrape(metrics_client), "duet_http_requests_total", path=template)
    for payment_id in (987_654, 987_655):
        assert metrics_client.get(f"/api/v1/payments/{payment_id}").status_code == 401
    text = scrape(metrics_client)
    assert value(text, "duet_http_requests_total", path=template, status_code="401") >= before + 2
    assert value(text, "duet_http_request_duration_seconds_count", path=template) >= 2
    assert "987654" not in text  # the raw path is never a label
    assert 'path="/metrics"' not in text


def test_jobs_webhooks_search_and_state_gauges(
    metrics_client: TestClient[Any], queue: DramatiqQueue
) -> None:
    cid, _, tutor, _, _ = conversation(metrics_client)
    assert send(metrics_client, tutor, cid, "See you Tuesday").status_code == 201
    queued = scrape(metrics_client)
    assert value(queued, "duet_queue_messages", queue="default", state="ready") >= 1
    runs = value(queued, "duet_job_runs_total", task="messaging.notify_offline")
    run_jobs(queue)
    assert (
        metrics_client.post(
            "/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"}
        ).status_code
        == 400
    )
    assert metrics_client.get("/api/v1/tutors/search/").status_code == 200
    media.room_opened()
    media.packet_counter("audio").inc()
    media.room_closed()

    text = scrape(metrics_client)
    assert value(text, "duet_job_runs_total", task="messaging.notify_offline") > runs
    assert value(text, "duet_job_duration_seconds_count", task="messaging.notify_offline") >= 1
    assert value(text, "duet_queue_messages", queue="default", state="ready") == 0
    assert value(text, "duet_webhooks_received_total", type="unknown", result="bad_signature") >= 1
    assert value(text, "duet_search_duration_seconds_count", backend="postgres") >= 1
    assert value(text, "duet_media_packets_forwarded_total", kind="audio") >= 1
    assert "duet_media_rooms_open" in text
    for source in ("queues", "bookings", "payments"):
        assert value(text, "duet_scrape_source_up", source=source) == 1
    assert "# TYPE duet_bookings gauge" in text and "# TYPE duet_payments gauge" in text


def test_bookings_and_payments_are_read_by_state(metrics_client: TestClient[Any]) -> None:
    from tests.payouts.flow import Env, paid_booking

    env = Env(metrics_client, metrics_client.app.state.services.queue, None)
    paid_booking(env)
    text = scrape(metrics_client)
    assert value(text, "duet_bookings", state="confirmed") == 1
    assert value(text, "duet_payments", status="succeeded") == 1


def test_the_metrics_directory_is_prepared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`duet run` empties it; a process started alone drops only the live gauges of processes
    that are gone; a directory that cannot be made leaves the process counting for itself."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    gone = 2**22 + 12345  # above the default pid_max: no such process
    names = [f"counter_{os.getpid()}.db", f"counter_{gone}.db", f"gauge_livesum_{gone}.db"]
    for name in names:
        (folder / name).write_bytes(b"")
    prepare_multiprocess_dir(folder, clean=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted(names[:2])
    prepare_multiprocess_dir(folder, clean=True)
    assert list(folder.iterdir()) == []

    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    settings = Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": str(blocked / "metrics")})
    cli._join_metrics_dir(settings)
    assert MULTIPROC_ENV not in os.environ
    cli._join_metrics_dir(Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": str(folder)}))
    assert os.environ[MULTIPROC_ENV] == str(folder)
    monkeypatch.delenv(MULTIPROC_ENV)
