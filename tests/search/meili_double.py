"""A local HTTP double of Meilisearch's REST API, for contract tests of ``MeiliBackend``.

It implements just what the backend uses (indexes, settings, documents, tasks, swap,
multi-search, health), keeps indexes in memory, and records every request so a test can
assert the exact bodies the client sent. It does not search: ``/multi-search`` answers with
responses the test sets up (``answer_searches``), shaped like Meilisearch's own.

Tasks finish as soon as they are enqueued (effects applied, status ``succeeded``) unless a test
makes the next task of a type fail (``fail_next``) or never finish (``stall``).
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Json = Any
SearchAnswerer = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Recorded:
    """One request as the double received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Json
    headers: dict[str, str]


@dataclass
class _Index:
    uid: str
    primary_key: str | None
    created_at: str
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "primaryKey": self.primary_key,
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
        }


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, str]:
        kind = "auth" if self.status in (401, 403) else "invalid_request"
        if self.status >= 500:
            kind = "internal"
        return {
            "message": self.message,
            "code": self.code,
            "type": kind,
            "link": f"https://docs.meilisearch.com/errors#{self.code}",
        }


def search_result(
    index_uid: str,
    *,
    hits: list[dict[str, Any]] | None = None,
    total: int = 0,
    facets: dict[str, dict[str, int]] | None = None,
    page: int = 1,
    hits_per_page: int = 20,
    q: str = "",
) -> dict[str, Any]:
    """One multi-search result, as Meilisearch answers with page/hitsPerPage pagination."""
    pages = -(-total // hits_per_page) if hits_per_page else 0
    return {
        "indexUid": index_uid,
        "hits": hits or [],
        "query": q,
        "processingTimeMs": 1,
        "hitsPerPage": hits_per_page,
        "page": page,
        "totalPages": pages,
        "totalHits": total,
        "facetDistribution": facets or {},
        "facetStats": {},
    }


class MeiliDouble:
    """Start with ``with MeiliDouble() as double:``; point the backend at ``double.url``."""

    def __init__(self, api_key: str = "double-master-key") -> None:
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.indexes: dict[str, _Index] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self.error_status: int | None = None  # answer every request with this error
        self._answerer: SearchAnswerer | None = None
        self._failures: dict[str, tuple[str, str]] = {}
        self._stalled: set[str] = set()
        self._task_ids = itertools.count(0)
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> MeiliDouble:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.double = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections: the server is down."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in list(self._connections):
                with suppress(OSError):  # the client may have hung up already
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._connections.clear()
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> MeiliDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the double first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ------------------------------------------------------------------ test controls

    def answer_searches(self, answerer: SearchAnswerer | list[dict[str, Any]]) -> None:
        """Canned ``/multi-search`` results: a list (one per query) or a function of the
        queries."""
        if isinstance(answerer, list):
            canned = answerer
            self._answerer = lambda queries: canned
        else:
            self._answerer = answerer

    def fail_next(self, task_type: str, message: str, code: str = "internal") -> None:
        """The next task of ``task_type`` (e.g. ``documentAdditionOrUpdate``) fails."""
        self._failures[task_type] = (message, code)

    def stall(self, task_type: str) -> None:
        """Tasks of ``task_type`` stay enqueued forever."""
        self._stalled.add(task_type)

    def calls(
        self, method: str | None = None, path: str | None = None, *, under: str | None = None
    ) -> list[Recorded]:
        """Recorded requests, optionally only those with this method, this exact path, or a
        path starting with ``under``."""
        with self._lock:
            found = list(self.requests)
        return [
            r
            for r in found
            if (method is None or r.method == method)
            and (path is None or r.path == path)
            and (under is None or r.path.startswith(under))
        ]

    def writes(self) -> list[tuple[str, str]]:
        """(method, path) of every request that changes something, in order."""
        return [(r.method, r.path) for r in self.calls() if r.method != "GET"]

    def documents(self, uid: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self.indexes[uid].documents)

    # ------------------------------------------------------------------ the API

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Json) -> Json:
        parts = [p for p in path.split("/") if p]
        match method, parts:
            case "GET", ["health"]:
                return 200, {"status": "available"}
            case "GET", ["tasks", uid]:
                task = self.tasks.get(int(uid))
                if task is None:
                    raise _ApiError(404, "task_not_found", f"Task `{uid}` not found.")
                return 200, task
            case "POST", ["multi-search"]:
                return 200, {"results": self._search(body["queries"])}
            case "POST", ["swap-indexes"]:
                return 202, self._enqueue("indexSwap", None, lambda: self._swap(body))
            case "POST", ["indexes"]:
                uid, key = body["uid"], body.get("primaryKey")
                return 202, self._enqueue("indexCreation", uid, lambda: self._create(uid, key))
            case "GET", ["indexes", uid]:
                return 200, self._index(uid).info()
            case "DELETE", ["indexes", uid]:
                return 202, self._enqueue("indexDeletion", uid, lambda: self._drop(uid))
            case "PATCH", ["indexes", uid, "settings"]:
                return 202, self._enqueue(
                    "settingsUpdate", uid, lambda: self._auto(uid, None).settings.update(body)
                )
            case "GET", ["indexes", uid, "settings"]:
                return 200, self._index(uid).settings
            case "POST", ["indexes", uid, "documents"]:
                key = query.get("primaryKey", [None])[0]
                return 202, self._enqueue(
                    "documentAdditionOrUpdate", uid, lambda: self._add(uid, key, body)
                )
            case "POST", ["indexes", uid, "documents", "delete-batch"]:
                return 202, self._enqueue("documentDeletion", uid, lambda: self._remove(uid, body))
        raise _ApiError(404, "not_found", f"{method} {path} is not implemented by the double.")

    def _search(self, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for q in queries:
            self._index(q["indexUid"])
        if self._answerer is not None:
            return self._answerer(queries)
        return [
            search_result(q["indexUid"], hits_per_page=q.get("hitsPerPage") or 20) for q in queries
        ]

    def _enqueue(self, task_type: str, uid: str | None, apply: Callable[[], object]) -> Json:
        task_uid = next(self._task_ids)
        now = _timestamp()
        task: dict[str, Any] = {
            "uid": task_uid,
            "batchUid": task_uid,
            "indexUid": uid,
            "status": "enqueued",
            "type": task_type,
            "canceledBy": None,
            "details": {},
            "error": None,
            "duration": None,
            "enqueuedAt": now,
            "startedAt": None,
            "finishedAt": None,
        }
        self.tasks[task_uid] = task
        if task_type not in self._stalled:
            failure = self._failures.pop(task_type, None)
            try:
                if failure:
                    raise _ApiError(400, failure[1], failure[0])
                apply()
                task["status"] = "succeeded"
            except _ApiError as exc:
                task["status"], task["error"] = "failed", exc.body()
            task.update(duration="PT0.001S", startedAt=now, finishedAt=now)
        return {
            "taskUid": task_uid,
            "indexUid": uid,
            "status": "enqueued",
            "type": task_type,
            "enqueuedAt": now,
        }

    def _index(self, uid: str) -> _Index:
        index = self.indexes.get(uid)
        if index is None:
            raise _ApiError(404, "index_not_found", f"Index `{uid}` not found.")
        return index

    def _auto(self, uid: str, primary_key: str | None) -> _Index:
        """Meilisearch creates a missing index on a settings or document write."""
        if uid not in self.indexes:
            self._create(uid, primary_key)
        return self.indexes[uid]

    def _create(self, uid: str, primary_key: str | None) -> None:
        if uid in self.indexes:
            raise _ApiError(409, "index_already_exists", f"Index `{uid}` already exists.")
        self.indexes[uid] = _Index(uid, primary_key, _timestamp())

    def _drop(self, uid: str) -> None:
        self._index(uid)
        del self.indexes[uid]

    def _add(self, uid: str, primary_key: str | None, documents: list[dict[str, Any]]) -> None:
        index = self._auto(uid, primary_key)
        index.primary_key = index.primary_key or primary_key
        key = index.primary_key or "id"
        for doc in documents:
            index.documents[str(doc[key])] = doc

    def _remove(self, uid: str, ids: list[str | int]) -> None:
        index = self._index(uid)
        for doc_id in ids:
            index.documents.pop(str(doc_id), None)

    def _swap(self, body: list[dict[str, Any]]) -> None:
        for swap in body:
            a, b = swap["indexes"]
            first, second = self._index(a), self._index(b)
            first.uid, second.uid = b, a
            self.indexes[a], self.indexes[b] = second, first


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    @property
    def double(self) -> MeiliDouble:
        return self.server.double  # type: ignore[attr-defined,no-any-return]

    def setup(self) -> None:
        super().setup()
        with self.double._lock:
            self.double._connections.add(self.connection)

    def finish(self) -> None:
        with self.double._lock:
            self.double._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet test output

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        double = self.double
        record = Recorded(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            body=body,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        with double._lock:
            double.requests.append(record)
            try:
                status, answer = self._answer(double, record)
            except _ApiError as exc:
                status, answer = exc.status, exc.body()
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, double: MeiliDouble, record: Recorded) -> tuple[int, Json]:
        if double.error_status is not None:
            raise _ApiError(double.error_status, "internal", "The double was told to fail.")
        if record.path != "/health":  # as in Meilisearch, /health needs no key
            auth = record.headers.get("authorization")
            if auth is None:
                raise _ApiError(401, "missing_authorization_header", "Missing API key.")
            if auth != f"Bearer {double.api_key}":
                raise _ApiError(403, "invalid_api_key", "The provided API key is invalid.")
        status, answer = double.handle(record.method, record.path, record.query, record.body)
        return int(status), answer


@contextmanager
def running_double(api_key: str = "double-master-key") -> Iterator[MeiliDouble]:
    with MeiliDouble(api_key) as double:
        yield double
