"""Prometheus metrics: what the processes count, and what ``/metrics`` reads at scrape time.

Counters and histograms are prometheus-client's, made on first use (so importing this module
costs nothing, and ``PROMETHEUS_MULTIPROC_DIR`` is read after the CLI has set it). In
multiprocess mode every process (web, worker) writes its values to files in that directory and
a scrape of any web process sums them. Gauges that describe state rather than events (queue
depth, bookings and payments by state) are not counted at all: they are read when scraped, from
Redis and PostgreSQL, with a time limit each, by the ``ScrapeSource``s the app registers.

The request metrics (``duet_http_*``) come from Litestar's own ``PrometheusMiddleware``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Latency buckets (seconds) for requests, jobs and searches: 5 ms to 30 s.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SCRAPE_SOURCE_TIMEOUT_S = 2.0


@dataclass
class _Metrics:
    job_runs: Counter
    job_failures: Counter
    job_dead: Counter
    job_skipped: Counter
    job_seconds: Histogram
    webhooks_received: Counter
    webhooks_processed: Counter
    search_seconds: Histogram
    search_errors: Counter
    rooms_open: Gauge
    packets_forwarded: Counter


_made: _Metrics | None = None
_making = threading.Lock()


def _metrics() -> _Metrics:
    """The metrics, made once per process on first use (worker threads race to it)."""
    global _made
    if _made is None:
        with _making:
            if _made is None:
                _made = _make()
    return _made


def _make() -> _Metrics:
    from prometheus_client import Counter, Gauge, Histogram

    return _Metrics(
        job_runs=Counter("duet_job_runs", "Jobs run (each try counts)", ["task"]),
        job_failures=Counter("duet_job_failures", "Job tries that raised", ["task"]),
        job_dead=Counter("duet_job_dead_letters", "Jobs given up after their last retry", ["task"]),
        job_skipped=Counter(
            "duet_job_skipped", "Jobs dropped unrun (too old, shut down)", ["task"]
        ),
        job_seconds=Histogram(
            "duet_job_duration_seconds", "Time a job try took", ["task"], buckets=BUCKETS
        ),
        webhooks_received=Counter(
            "duet_webhooks_received",
            "Payment provider deliveries by event type and what the endpoint answered",
            ["type", "result"],
        ),
        webhooks_processed=Counter(
            "duet_webhooks_processed",
            "Stored payment provider events applied by the job, by type and outcome",
            ["type", "result"],
        ),
        search_seconds=Histogram(
            "duet_search_duration_seconds",
            "Time a tutor search took in its backend",
            ["backend"],
            buckets=BUCKETS,
        ),
        search_errors=Counter("duet_search_errors", "Searches that failed", ["backend"]),
        rooms_open=Gauge(
            "duet_media_rooms_open",
            "Lesson rooms open in live processes",
            multiprocess_mode="livesum",
        ),
        packets_forwarded=Counter(
            "duet_media_packets_forwarded", "RTP packets the media server sent on", ["kind"]
        ),
    )


def metrics() -> _Metrics:
    return _metrics()


# ----------------------------------------------------------------- what code records


def job_finished(task: str, seconds: float, *, failed: bool, dead: bool) -> None:
    m = _metrics()
    m.job_runs.labels(task).inc()
    m.job_seconds.labels(task).observe(seconds)
    if failed:
        m.job_failures.labels(task).inc()
    if dead:
        m.job_dead.labels(task).inc()


def job_skipped(task: str) -> None:
    _metrics().job_skipped.labels(task).inc()


def webhook_received(event_type: str, result: str) -> None:
    _metrics().webhooks_received.labels(event_type, result).inc()


def webhook_processed(event_type: str, result: str) -> None:
    _metrics().webhooks_processed.labels(event_type, result).inc()


def search_timed(backend: str, seconds: float, *, failed: bool = False) -> None:
    m = _metrics()
    if failed:
        m.search_errors.labels(backend).inc()
    else:
        m.search_seconds.labels(backend).observe(seconds)


# ----------------------------------------------------------------- the multiprocess directory


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


_PID_FILE = re.compile(r"_(\d+)\.db$")


def prepare_multiprocess_dir(path: Path, *, clean: bool) -> Path:
    """Create ``path`` for this host's processes. ``clean``: empty it (``duet run``, which
    starts every process itself). Otherwise drop only the live gauges of processes that are
    gone, so a restarted worker does not reset the web's counters."""
    path.mkdir(parents=True, exist_ok=True)
    for entry in path.glob("*.db"):
        if clean:
            entry.unlink(missing_ok=True)
            continue
        found = _PID_FILE.search(entry.name)
        if entry.name.startswith("gauge_live") and found and not _alive(int(found.group(1))):
            entry.unlink(missing_ok=True)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------- read at scrape time


@dataclass(frozen=True)
class Reading:
    """One gauge read at scrape time: ``values`` maps label values to the number."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    values: Mapping[tuple[str, ...], float]


ScrapeSource = Callable[[], Awaitable[Sequence[Reading]]]


@dataclass
class Scraper:
    """Renders the exposition text: the counted metrics (every process's, in multiprocess mode)
    plus what each source reads now. A source that fails or is slow is left out of this scrape
    and shows as ``duet_scrape_source_up{source=...} 0``; the others still answer."""

    sources: dict[str, ScrapeSource] = field(default_factory=dict)
    _keep: dict[str, float] = field(default_factory=dict)
    _cache: dict[str, tuple[float, Sequence[Reading]]] = field(default_factory=dict)

    def add(self, name: str, source: ScrapeSource, *, cache_seconds: float = 0.0) -> None:
        """``cache_seconds``: answer from the last reading for that long (database counts, so
        several scrapers or a short scrape interval cost one query)."""
        self.sources[name] = source
        self._keep[name] = cache_seconds

    async def _read(self, name: str, source: ScrapeSource) -> Sequence[Reading] | None:
        cached = self._cache.get(name)
        if cached and time.monotonic() - cached[0] < self._keep.get(name, 0.0):
            return cached[1]
        try:
            readings = await asyncio.wait_for(source(), SCRAPE_SOURCE_TIMEOUT_S)
        except Exception as exc:
            logger.warning("metrics source %s failed: %s", name, type(exc).__name__)
            return None
        self._cache[name] = (time.monotonic(), readings)
        return readings

    async def render(self) -> bytes:
        from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
        from prometheus_client.core import GaugeMetricFamily

        names = list(self.sources)
        results = await asyncio.gather(*(self._read(n, self.sources[n]) for n in names))
        families: list[Any] = []
        up = GaugeMetricFamily(
            "duet_scrape_source_up", "1 when a scrape-time source answered", labels=["source"]
        )
        for name, readings in zip(names, results, strict=True):
            up.add_metric([name], 0.0 if readings is None else 1.0)
            for reading in readings or ():
                family = GaugeMetricFamily(
                    reading.name, reading.documentation, labels=list(reading.labels)
                )
                for labels, value in sorted(reading.values.items()):
                    family.add_metric(list(labels), value)
                families.append(family)
        families.append(up)

        class _Now:
            def collect(self) -> list[Any]:
                return families

        now = CollectorRegistry(auto_describe=False)
        now.register(_Now())
        return generate_latest(_counted_registry(REGISTRY)) + generate_latest(now)


def _counted_registry(default: Any) -> Any:
    if multiprocess_dir() is None:
        return default
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


async def count_by(
    engine: Any, column: Any, name: str, documentation: str, label: str
) -> list[Reading]:
    """``SELECT column, count(*) ... GROUP BY column`` as one gauge, under a one-second
    statement timeout: a scrape must never hold a connection long."""
    from sqlalchemy import func, select, text

    async with engine.connect() as conn:
        await conn.execute(text("SET LOCAL statement_timeout = 1000"))
        rows = (await conn.execute(select(column, func.count()).group_by(column))).all()
    return [Reading(name, documentation, (label,), {(str(key),): float(n) for key, n in rows})]
