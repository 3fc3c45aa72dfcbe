"""Log lines: one JSON object per line for machines, readable text on a terminal.

Every line carries the request id it belongs to (``request_id``; in a job, the id of the
request that enqueued it) and, in a job, the task and its message id, so one id follows a
page, the jobs it queued and the webhook it caused. Redaction is the last step before output:
whatever a module logs, bearer tokens, cookies, passwords, Stripe keys and signatures, and
credentials in URLs are masked, and a query string is never written (signed links carry their
signature there). What is never logged at all, by rule: message, review and SMS text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

from marketplace.request_context import current_job, request_id_if_any

REDACTED = "[redacted]"

# Extra fields whose name says they hold a secret or private text: their value is never written.
_SECRET_FIELD = re.compile(
    r"(^|_)(pass|password|secret|token|cookie|authorization|api_?key|signature|credential|"
    r"body|text)(_|$)",
    re.IGNORECASE,
)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization headers and their values, wherever they are quoted.
    # ("Basic" only capitalised and before 8+ characters: "basic plan" is not a credential.)
    (re.compile(r"\b((?i:bearer)|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    # Stripe secret/restricted/publishable keys and webhook signing secrets.
    (re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9_]+"), REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9_]+"), REDACTED),
    # The client secret of a payment or setup intent (it lets a browser confirm the payment).
    (re.compile(r"\b(?:pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"), REDACTED),
    # name=value pairs (query strings, forms, cookies, Stripe-Signature's v1=).
    (
        re.compile(
            r"(?i)\b((?:password|passwd|new_password|current_password|secret|token|api_?key|"
            r"sig|signature|v1|duet_session|duet_csrf|_?csrf_?token)=)[^&\s;,'\"]+"
        ),
        r"\1" + REDACTED,
    ),
    # Headers written as "Name: value" or mapping items "'name': 'value'".
    (
        re.compile(
            r"(?i)((?:authorization|cookie|set-cookie|x-csrftoken|stripe-signature)"
            r"['\"]?\s*[:=]\s*['\"]?)[^'\"\n]+"
        ),
        r"\1" + REDACTED,
    ),
    # Credentials in URLs: scheme://user:password@host.
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@"), r"\1" + REDACTED + "@"),
]
# A path segment that looks like a secret (calendar feed addresses, signed keys): 24 or more
# URL-safe characters. Route words are shorter.
_TOKEN_SEGMENT = re.compile(r"/[A-Za-z0-9_-]{24,}")

# Record attributes that are not extra fields (uvicorn's ``color_message`` is its message again).
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_path(path: str) -> str:
    """A request path as logged: no query string, secret-looking segments masked."""
    return _TOKEN_SEGMENT.sub("/" + REDACTED, path.split("?", 1)[0])


class ContextFilter(logging.Filter):
    """Stamps each record with the request id and job of the code that logged it (at that
    moment, in that task: the formatter may run later)."""

    def __init__(self, role: str = "") -> None:
        super().__init__()
        self.role = role

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_if_any()
        if not hasattr(record, "job"):
            job = current_job()
            record.job, record.job_id = job if job else ("", "")
        record.role = self.role
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            # (client, method, path with query, http version, status): keep the path only.
            args = list(record.args)
            if len(args) >= 3 and isinstance(args[2], str):
                args[2] = redact_path(args[2])
            record.args = tuple(args)
        return True


def _trace_ids() -> dict[str, str]:
    """The current span's ids, only when tracing is on (OpenTelemetry is not imported else)."""
    from marketplace.observability import tracing

    return tracing.current_ids() if tracing.enabled() else {}


def _exception_text(record: logging.LogRecord) -> str:
    if record.exc_info and record.exc_info[0] is not None:
        return "".join(traceback.format_exception(*record.exc_info)).rstrip()
    return record.exc_text or ""


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in record.__dict__.items():
        if key in _STANDARD or key in ("request_id", "job", "job_id", "role"):
            continue
        if _SECRET_FIELD.search(key):
            fields[key] = REDACTED
        elif isinstance(value, str):
            fields[key] = redact(value)
        elif isinstance(value, int | float | bool) or value is None:
            fields[key] = value
        else:
            fields[key] = redact(repr(value))
    return fields


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", "job", "job_id", "role",
    "trace_id", "span_id", "exception", ...extra}``: empty fields are left out."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in ("request_id", "job", "job_id", "role"):
            value = getattr(record, key, "")
            if value:
                line[key] = value
        line.update(_trace_ids())
        exception = _exception_text(record)
        if exception:
            line["exception"] = redact(exception)
        line.update(_extras(record))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``21:14:03 INFO  payouts.webhooks [req 3f2a… job payouts.process_event] message``."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        tags = []
        request_id, job = getattr(record, "request_id", ""), getattr(record, "job", "")
        if request_id:
            tags.append(f"req {request_id}")
        if job:
            tags.append(f"job {job}")
        context = f" [{' '.join(tags)}]" if tags else ""
        extras = _extras(record)
        tail = "".join(f" {key}={value}" for key, value in extras.items())
        text = f"{when} {record.levelname:<5} {record.name}{context} {record.getMessage()}{tail}"
        exception = _exception_text(record)
        if exception:
            text += "\n" + exception
        return redact(text)


def use_json(log_format: str, stream: TextIO) -> bool:
    """``LOG_FORMAT`` when set; otherwise JSON unless ``stream`` is a terminal."""
    if log_format:
        return log_format == "json"
    isatty = getattr(stream, "isatty", None)
    return not (isatty and isatty())


# Loggers that talk too much at INFO for an operator.
_QUIET = ("alembic", "httpx", "httpcore", "fontTools", "aioice", "aiortc", "markdown_it", "stripe")
# uvicorn configures its own handlers unless told not to; ours replace them.
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def build_handler(
    log_format: str = "", *, role: str = "", stream: TextIO | None = None
) -> logging.Handler:
    """A handler writing to ``stream`` (standard error) in the chosen format, redacted."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter(role))
    handler.setFormatter(JsonFormatter() if use_json(log_format, stream) else TextFormatter())
    return handler


def configure_logging(
    log_format: str = "", level: str = "INFO", *, role: str = "", stream: TextIO | None = None
) -> logging.Handler:
    """One handler on the root logger, for every library (uvicorn, dramatiq, SQLAlchemy)."""
    handler = build_handler(log_format, role=role, stream=stream)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        # An earlier uvicorn.Config in this process (its dictConfig, its log_level) may have
        # disabled these loggers or raised their level; the root's level decides from here.
        logger.disabled = False
        logger.setLevel(logging.NOTSET)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler
