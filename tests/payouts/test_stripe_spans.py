"""With tracing on, each Stripe call is a client span inside the request that made it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from marketplace.app import create_app
from marketplace.observability import tracing
from marketplace.settings import ObservabilitySettings, Settings
from marketplace.tasks import DramatiqQueue
from tests.payouts.flow import Env, bookable_tutor, checkout, hold
from tests.scheduling.helpers import student
from tests.stripe_double import StripeDouble


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure_tracing(ObservabilitySettings(), "test", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown_tracing()


def test_a_checkout_traces_its_stripe_call(
    stripe_settings: Settings,
    stripe_queue: DramatiqQueue,
    stripe_double: StripeDouble,
    spans: InMemorySpanExporter,
) -> None:
    app = create_app(stripe_settings, queue=stripe_queue)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        env = Env(client, stripe_queue, stripe_double)
        tutor_id, _, _ = bookable_tutor(env)
        _, me = student(client)
        booking = hold(env, me, tutor_id)
        spans.clear()
        checkout(env, me, booking["id"])
    finished = spans.get_finished_spans()
    request = next(s for s in finished if s.kind is SpanKind.SERVER and "/checkout" in s.name)
    calls = [s for s in finished if s.name.startswith("stripe ")]
    assert calls, [s.name for s in finished]
    for call in calls:
        assert call.kind is SpanKind.CLIENT
        assert call.context.trace_id == request.context.trace_id
        assert call.attributes["rpc.system"] == "stripe"
    assert "stripe create payment intent" in {s.name for s in calls}
