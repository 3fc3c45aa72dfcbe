"""The dramatiq middleware that makes a job observable.

At enqueue (in the web process, or in a job queuing another) the current request id and trace
context are stored in the message's options; in the worker, before the job runs, they are
restored, so the job's log lines carry the id of the request that caused it and its span is a
child of the request's. After the run it counts the try, its failure and, when the retries are
used up, the dead letter, and logs ``job <task> done in <n> ms`` (the job's access log).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import dramatiq

from marketplace.observability import metrics, tracing
from marketplace.request_context import (
    accepted_request_id,
    request_id_if_any,
    set_job,
    set_request_id,
)

logger = logging.getLogger("duet.jobs")
REQUEST_ID_OPTION = "duet_request_id"
TRACE_OPTION = "duet_trace"


class JobObservability(dramatiq.Middleware):
    """Put it first in the broker's middleware: its ``after_*`` hooks then run last, once
    ``Retries`` has decided whether the message failed for good."""

    def __init__(self) -> None:
        self._running = threading.local()

    def before_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int) -> None:
        options = message.options
        # A retry or a delayed message coming due is enqueued again: it keeps what it had.
        if REQUEST_ID_OPTION not in options:
            request_id = request_id_if_any()
            if request_id:
                options[REQUEST_ID_OPTION] = request_id
        if TRACE_OPTION not in options and tracing.enabled():
            carrier = tracing.inject_current()
            if carrier:
                options[TRACE_OPTION] = carrier

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        options = message.options
        # The id is checked again: a message is data from Redis, not trusted text.
        set_request_id(accepted_request_id(options.get(REQUEST_ID_OPTION)))
        set_job(message.actor_name, message.message_id)
        self._running.started = time.perf_counter()
        self._running.span = tracing.start_job_span(
            message.actor_name, message.message_id, options.get(TRACE_OPTION)
        )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        started = getattr(self._running, "started", None)
        if started is not None:
            seconds = time.perf_counter() - started
            metrics.job_finished(
                message.actor_name,
                seconds,
                failed=exception is not None,
                dead=bool(getattr(message, "failed", False)),
            )
            # A failure is logged by dramatiq itself, with its traceback (and this request id).
            if exception is None:
                logger.info("job %s done in %.0f ms", message.actor_name, seconds * 1000)
        self._finish(exception)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        metrics.job_skipped(message.actor_name)
        self._finish(None)

    def _finish(self, exception: BaseException | None) -> None:
        tracing.end_job_span(getattr(self._running, "span", None), exception)
        self._running.started = None
        self._running.span = None
        # The worker thread runs the next message: nothing of this one may stick.
        set_request_id("")
        set_job(None)
