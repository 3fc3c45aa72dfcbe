"""OpenTelemetry traces, only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

Off (the default), nothing here imports OpenTelemetry: every helper checks ``enabled()`` first,
so start-up and each request pay nothing. On, a process installs one tracer provider that
exports over OTLP/HTTP, and spans come from: Litestar's OpenTelemetry middleware (each HTTP
request and WebSocket, named by route template), SQLAlchemy (each statement), the app's Redis
client (rate limits), every job (``marketplace.observability.jobs``: the enqueuing request's
context travels in the message, so a job's span is a child of the request's), and each Stripe
call (``span()`` in ``payouts/stripe_gateway.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from marketplace.settings import ObservabilitySettings

TRACER_NAME = "duet"
_provider: TracerProvider | None = None


def enabled() -> bool:
    return _provider is not None


def provider() -> TracerProvider | None:
    return _provider


def configure_tracing(
    settings: ObservabilitySettings, role: str, *, exporter: SpanExporter | None = None
) -> bool:
    """Install the tracer provider for this process when tracing is configured (or an
    ``exporter`` is given, as the tests do); True when tracing is on. Idempotent."""
    global _provider
    if _provider is not None:
        return True
    if exporter is None and not settings.tracing:
        return False
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError:
        from marketplace.settings import ConfigError

        raise ConfigError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the tracing packages are not installed: "
            "install Duet with its tracing extra (pip install 'duet[tracing]') or unset it."
        ) from None
    from opentelemetry import trace
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    name = f"{settings.service_name}-{role}" if role else settings.service_name
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and _HEADERS, _TIMEOUT) itself.
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(tracer_provider)
    else:
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    # Engines made from now on (db.create_engine) get a span per statement.
    # The instrumentation declares SQLAlchemy < 2.1; the event hooks it uses are the same in 2.1
    # (tests/marketplace/observability/test_tracing.py checks that statements get spans).
    SQLAlchemyInstrumentor().instrument(tracer_provider=tracer_provider, skip_dep_check=True)
    _provider = tracer_provider
    return True


def shutdown_tracing() -> None:
    """Flush and remove the provider (the end of a process, or of a test)."""
    global _provider
    if _provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().uninstrument()
    _provider.shutdown()
    _provider = None


def litestar_middleware() -> Any:
    """Litestar's own OpenTelemetry middleware, bound to our provider (tracing must be on)."""
    from litestar.plugins.opentelemetry import OpenTelemetryConfig

    def name_by_method(scope: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
        # Litestar runs this middleware before routing, so the route is not known yet: the name
        # is the method until ``tag_request_span`` names the route. Never the raw path, which
        # may hold a calendar feed's secret.
        return str(scope.get("method") or scope.get("type", "")), {}

    def hide_path(span: Any, scope: Mapping[str, Any]) -> None:
        # The instrumentation records the raw target and URL, query string included: signed
        # media links and calendar feeds carry secrets there.
        if span.is_recording():
            from marketplace.observability.logs import redact_path

            path = redact_path(str(scope.get("path", "")))
            span.set_attribute("http.target", path)
            span.set_attribute("http.url", path)

    config = OpenTelemetryConfig(
        tracer_provider=_provider,
        scope_span_details_extractor=name_by_method,
        server_request_hook_handler=hide_path,
        exclude=["^/metrics", "^/healthz"],
    )
    return config.middleware


def tag_request_span(scope: Mapping[str, Any], request_id: str) -> None:
    """Called once routed (``RequestIdMiddleware``): the request span gets the route template
    as its name and ``http.route``, and the request id."""
    if _provider is None:
        return
    from opentelemetry import trace

    request_span = trace.get_current_span()
    if not request_span.is_recording():
        return
    request_span.set_attribute("duet.request_id", request_id)
    template = scope.get("path_template")
    if template:
        method = scope.get("method") or "WEBSOCKET"
        request_span.update_name(f"{method} {template}")
        request_span.set_attribute("http.route", template)


def instrument_redis(client: Any) -> None:
    """Spans for each command of this Redis client (the app's: rate limits)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor.instrument_client(client, tracer_provider=_provider)


@contextmanager
def span(name: str, **attributes: str | int) -> Iterator[None]:
    """A client span around a call to another service (Stripe); nothing when tracing is off."""
    if _provider is None:
        yield
        return
    from opentelemetry.trace import SpanKind

    tracer = _provider.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
        yield


def inject_current() -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``), to travel with a job."""
    if _provider is None:
        return {}
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def start_job_span(task: str, message_id: str, carrier: Mapping[str, str] | None) -> Any:
    """Start the span of one job run, as a child of the context the enqueuer sent, and make it
    current; returns what ``end_job_span`` needs (None when tracing is off)."""
    if _provider is None:
        return None
    from opentelemetry import context, propagate, trace
    from opentelemetry.trace import SpanKind

    parent = propagate.extract(dict(carrier or {}))
    job_span = _provider.get_tracer(TRACER_NAME).start_span(
        f"job {task}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "dramatiq",
            "messaging.destination.name": task,
            "messaging.message.id": message_id,
        },
    )
    token = context.attach(trace.set_span_in_context(job_span))
    return job_span, token


def end_job_span(started: Any, exception: BaseException | None) -> None:
    if started is None:
        return
    from opentelemetry import context
    from opentelemetry.trace import Status, StatusCode

    job_span, token = started
    if exception is not None:
        job_span.record_exception(exception)
        job_span.set_status(Status(StatusCode.ERROR, type(exception).__name__))
    job_span.end()
    context.detach(token)


def current_ids() -> dict[str, str]:
    """``trace_id`` and ``span_id`` of the current span, for log lines."""
    if _provider is None:
        return {}
    from opentelemetry import trace

    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return {}
    return {"trace_id": format(found.trace_id, "032x"), "span_id": format(found.span_id, "016x")}
