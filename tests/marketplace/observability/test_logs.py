"""Log lines: JSON or text, the request id and job on each, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker

from marketplace.observability.jobs import REQUEST_ID_OPTION
from marketplace.observability.logs import (
    _QUIET,
    _UVICORN,
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    build_handler,
    configure_logging,
    redact,
    redact_path,
    use_json,
)
from marketplace.request_context import set_job, set_request_id
from marketplace.settings import ConfigError, Settings
from marketplace.tasks import DramatiqQueue, TaskSpec, build_broker

# Module level: the stub broker's actors must keep their names for the whole run.
_seen: list[str] = []


def _record(message: str, *args: Any, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("duet.test", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    ContextFilter("web").filter(record)
    return record


@pytest.fixture
def fresh_context() -> Iterator[None]:
    set_request_id("")
    set_job(None)
    yield
    set_request_id("")
    set_job(None)


def test_a_json_line_carries_the_request_id_and_job(fresh_context: None) -> None:
    set_request_id("req-abc")
    set_job("payouts.process_event", "msg-1")
    line = json.loads(JsonFormatter().format(_record("event %s applied", "evt_1", amount=4500)))
    assert line["message"] == "event evt_1 applied"
    assert line["request_id"] == "req-abc"
    assert (line["job"], line["job_id"], line["role"]) == ("payouts.process_event", "msg-1", "web")
    assert line["level"] == "info" and line["logger"] == "duet.test"
    assert line["amount"] == 4500
    assert line["time"].endswith("+00:00")


def test_outside_a_request_there_is_no_id_field(fresh_context: None) -> None:
    line = json.loads(JsonFormatter().format(_record("started")))
    assert "request_id" not in line and "job" not in line


def test_text_lines_are_readable(fresh_context: None) -> None:
    set_request_id("req-abc")
    text = TextFormatter().format(_record("hello %s", "there"))
    assert "INFO" in text and "duet.test [req req-abc] hello there" in text


def test_exceptions_are_kept_and_redacted(fresh_context: None) -> None:
    try:
        raise RuntimeError("could not reach postgresql://duet:hunter2@db/duet")
    except RuntimeError:
        record = logging.LogRecord(
            "duet.test", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info()
        )
    ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert "RuntimeError" in line["exception"]
    assert "hunter2" not in line["exception"]


@pytest.mark.parametrize(
    ("logged", "secret"),
    [
        ("Authorization: Bearer abcdef123456", "abcdef123456"),
        ("headers={'authorization': 'Bearer tok_123'}", "tok_123"),
        ("Cookie: duet_session=s3ss10n; duet_csrf=c5rf", "s3ss10n"),
        ("login password=hunter2&email=a@b.c", "hunter2"),
        ("key sk_live_51Habc and whsec_abcdef", "sk_live_51Habc"),
        ("key sk_live_51Habc and whsec_abcdef", "whsec_abcdef"),
        ("Stripe-Signature: t=1,v1=deadbeef", "deadbeef"),
        ("client_secret pi_3Abc_secret_XyZ", "pi_3Abc_secret_XyZ"),
        ("redis://:p4ssw0rd@redis:6379/0", "p4ssw0rd"),
        ("GET /media/private/x.pdf?exp=1&sig=0a1b2c", "0a1b2c"),
    ],
)
def test_secrets_are_masked(logged: str, secret: str) -> None:
    assert secret not in redact(logged)
    assert "[redacted]" in redact(logged)


def test_ordinary_words_are_left_alone() -> None:
    text = "the basic plan: bearer of good news, status code=500"
    assert redact(text) == text


def test_extra_fields_named_like_secrets_are_dropped(fresh_context: None) -> None:
    record = _record("sent", body="the words", password="pw", token="t", message_id=7)
    line = json.loads(JsonFormatter().format(record))
    assert line["body"] == line["password"] == line["token"] == "[redacted]"
    assert line["message_id"] == 7


def test_access_log_paths_lose_query_and_tokens() -> None:
    feed = "/calendar/Zk3-9_uF2yq8lQ0v4XrTnB6eHs1aWcDp.ics"
    assert redact_path(feed) == "/calendar/[redacted].ics"
    assert redact_path("/api/v1/bookings/12?page=2") == "/api/v1/bookings/12"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", feed + "?x=1", "1.1", 200),
        None,
    )
    ContextFilter().filter(record)
    assert "Zk3-9" not in record.getMessage() and "?x=1" not in record.getMessage()


def test_format_is_json_unless_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_json("", io.StringIO()) is True
    assert use_json("", Terminal()) is False
    assert use_json("json", Terminal()) is True
    assert use_json("text", io.StringIO()) is False


def test_settings_check_the_log_and_metrics_variables() -> None:
    obs = Settings.from_env({"LOG_FORMAT": "JSON", "LOG_LEVEL": "debug"}).observability
    assert (obs.log_format, obs.log_level, obs.metrics_token, obs.tracing) == (
        "json",
        "DEBUG",
        "",
        False,
    )
    for env in [{"LOG_FORMAT": "xml"}, {"LOG_LEVEL": "loud"}, {"METRICS_TOKEN": "short"}]:
        with pytest.raises(ConfigError):
            Settings.from_env(env)
    assert Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}).observability.tracing


def test_configure_logging_routes_uvicorn_through_one_handler() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    touched = [logging.getLogger(name) for name in (*_QUIET, *_UVICORN)]
    saved = [(logger.level, list(logger.handlers), logger.propagate) for logger in touched]
    out = io.StringIO()
    try:
        configure_logging("json", "INFO", role="web", stream=out)
        logging.getLogger("uvicorn.error").info("Started server process")
        logging.getLogger("stripe").info("Request to Stripe api")  # too chatty: quietened
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        for logger, (level, handlers, propagate) in zip(touched, saved, strict=True):
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.propagate = propagate
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["logger"], line["role"]) for line in lines] == [("uvicorn.error", "web")]


async def _log_in_job(ctx: Any, marker: str) -> None:
    logging.getLogger("duet.test.job").info("job ran for %s", marker)


def test_a_job_logs_with_the_id_of_the_request_that_queued_it(fresh_context: None) -> None:
    """The id travels in the message: enqueued inside a request's context, restored in the
    worker thread (and the event loop the job's coroutine runs on)."""
    broker = build_broker(None)
    assert isinstance(broker, StubBroker)
    queue = DramatiqQueue(
        broker, [TaskSpec("test.log_in_job", _log_in_job)], context_factory=lambda: None
    )
    out = io.StringIO()
    handler = build_handler("json", stream=out)
    logger = logging.getLogger("duet.test.job")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        set_request_id("web-req-42")
        queue.enqueue("test.log_in_job", "first")
        set_request_id("")
        queue.enqueue("test.log_in_job", "second")  # no request: the job gets an id of its own
        messages = list(broker.queues["default"].queue)
        assert [m.options.get(REQUEST_ID_OPTION) for m in map(_decode, messages)] == [
            "web-req-42",
            None,
        ]
        worker = Worker(broker, worker_threads=1, worker_timeout=50)
        worker.start()
        try:
            broker.join("default", fail_fast=True, timeout=30_000)
            worker.join()
        finally:
            worker.stop()
    finally:
        logger.removeHandler(handler)
    lines = {json.loads(line)["message"]: json.loads(line) for line in out.getvalue().splitlines()}
    first, second = lines["job ran for first"], lines["job ran for second"]
    assert first["request_id"] == "web-req-42"
    assert first["job"] == "test.log_in_job" and first["job_id"]
    assert second["request_id"] and second["request_id"] != "web-req-42"


def _decode(raw: bytes) -> Any:
    from dramatiq import Message

    return Message.decode(raw)
