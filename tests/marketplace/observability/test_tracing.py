"""Traces: a request and the job it queued share one trace, with SQL spans; and with
``OTEL_EXPORTER_OTLP_ENDPOINT`` unset nothing of OpenTelemetry is installed or imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from marketplace.app import create_app
from marketplace.observability import tracing
from marketplace.settings import ObservabilitySettings, Settings
from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.marketplace.messaging.helpers import conversation

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.configure_tracing(ObservabilitySettings(), "test", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown_tracing()


def test_a_request_and_its_job_are_one_trace(
    settings: Settings, queue: DramatiqQueue, spans: InMemorySpanExporter
) -> None:
    with TestClient(create_app(settings, queue=queue), base_url="http://127.0.0.1:8000") as client:
        cid, _, tutor, _, _ = conversation(client)
        run_jobs(queue)
        spans.clear()
        response = client.post(
            f"/api/v1/conversations/{cid}/messages",
            json={"body": "Traced words"},
            headers={**tutor, "X-Request-ID": "traced-request-1"},
        )
        assert response.status_code == 201
        run_jobs(queue)
    finished = spans.get_finished_spans()
    server = [
        s
        for s in finished
        if s.kind is SpanKind.SERVER and s.attributes.get("duet.request_id") == "traced-request-1"
    ]
    assert len(server) == 1, [(s.name, s.kind, dict(s.attributes or {})) for s in finished][:8]
    request = server[0]
    assert request.name == "POST /api/v1/conversations/{conversation_id}/messages"
    trace_id = request.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    ids = {s.context.span_id for s in in_trace}
    jobs = [s for s in in_trace if s.name.startswith("job ")]
    assert jobs, [s.name for s in finished]
    for job in jobs:
        assert job.kind is SpanKind.CONSUMER
        assert job.parent is not None and job.parent.span_id in ids
    # SQL statements, both the request's and the job's, are spans of the same trace.
    sql = [s for s in in_trace if s.attributes.get("db.system") == "postgresql"]
    job_ids = {j.context.span_id for j in jobs}
    in_request = [s for s in sql if not _under(s, job_ids, in_trace)]
    assert any(_under(s, {request.context.span_id}, in_trace) for s in in_request)
    assert any(_under(s, job_ids, in_trace) for s in sql)
    # Statements are recorded with placeholders: the message's words are in no span.
    assert "Traced words" not in json.dumps([dict(s.attributes or {}) for s in finished])


def _under(span: Any, ancestors: set[int], spans: list[Any]) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    parent = span.parent
    while parent is not None:
        if parent.span_id in ancestors:
            return True
        found = by_id.get(parent.span_id)
        parent = found.parent if found else None
    return False


def test_without_an_endpoint_nothing_is_installed(tmp_path: Path) -> None:
    """A fresh process, as ``duet web`` starts: the app is built, no provider, no middleware,
    and neither the tracing SDK nor prometheus-client is imported."""
    script = """
import json, sys
from marketplace.settings import Settings
from marketplace.app import create_app
from marketplace.observability import tracing
settings = Settings.from_env({
    "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
    "SECRET_KEY": "x" * 40,
    "CERTIFICATE_SIGNING_KEY": "dGVzdC1zaWduaW5nLWtleS0zMi1ieXRlcy1sb25nISE=",
    "DUET_VAR_DIR": sys.argv[1],
})
app = create_app(settings)
from opentelemetry import trace
print(json.dumps({
    "enabled": tracing.enabled(),
    "proxy": type(trace.get_tracer_provider()).__name__,
    "sdk_trace": "opentelemetry.sdk.trace" in sys.modules,
    "instrumentation": sorted(m for m in sys.modules if m.startswith("opentelemetry.instr")),
    "prometheus": "prometheus_client" in sys.modules,
    "middleware": [repr(getattr(m, "middleware", m)) for m in app.middleware],
}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "METRICS_"))}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "var")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["enabled"] is False
    assert found["proxy"] == "ProxyTracerProvider"
    # (Litestar itself imports the ASGI instrumentation whenever it is installed.)
    assert found["sdk_trace"] is False
    assert found["prometheus"] is False
    assert not any("Telemetry" in m or "Prometheus" in m for m in found["middleware"])
