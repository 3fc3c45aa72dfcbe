"""Background jobs: task definitions, the dramatiq broker and the queue the services use.

Each package's ``jobs.py`` lists its ``TaskSpec``s. ``build_broker`` makes a dramatiq broker from
the settings it is given (no module-level broker), and ``DramatiqQueue`` declares one actor per
task on it. Task functions are ``async def fn(ctx: JobContext, *ids)``: thin, JSON-safe
arguments, safe to run twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.middleware.asyncio import AsyncIO

from marketplace.observability.jobs import JobObservability

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from marketplace.events import EventBus
    from marketplace.media import MediaStorage
    from marketplace.observability.metrics import Reading
    from marketplace.settings import Settings

logger = logging.getLogger(__name__)
# Every Redis key of the broker starts with this (``duet:<queue>``).
BROKER_NAMESPACE = "duet"

JSONArg = str | int | float | bool | None


@dataclass
class JobContext:
    """What a job needs, built once per worker process on first use."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    storage: MediaStorage
    events: EventBus
    queue: TaskQueue


TaskFn = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    fn: TaskFn
    queue: str = "default"
    max_retries: int = 5
    time_limit_ms: int = 10 * 60 * 1000


class TaskQueue(Protocol):
    def enqueue(self, name: str, *args: JSONArg, delay_ms: int = 0) -> None:
        """Queue task ``name``; with ``delay_ms``, not to run before that much time passed."""


def build_broker(redis_url: str | None) -> dramatiq.Broker:
    """Redis when a URL is given; otherwise dramatiq's in-memory ``StubBroker`` (tests)."""
    middleware = [
        # First: its before-hooks set the request id for the others, its after-hooks run last.
        JobObservability(),
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(min_backoff=1000, max_backoff=5 * 60 * 1000),
        AsyncIO(),
    ]
    broker: dramatiq.Broker
    if redis_url:
        broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=redis_url, middleware=middleware, namespace=BROKER_NAMESPACE
        )
    else:
        broker = StubBroker(middleware=middleware)
        broker.emit_after("process_boot")
    return broker


@dataclass
class DramatiqQueue:
    """Declares every task as an actor on ``broker`` and enqueues by task name."""

    broker: dramatiq.Broker
    tasks: Sequence[TaskSpec]
    context_factory: Callable[[], JobContext] | None = None
    _actors: dict[str, dramatiq.Actor[Any, Any]] = field(default_factory=dict, init=False)
    _context: JobContext | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        for spec in self.tasks:
            self._actors[spec.name] = dramatiq.Actor(
                self._runner(spec),
                broker=self.broker,
                actor_name=spec.name,
                queue_name=spec.queue,
                priority=0,
                options={"max_retries": spec.max_retries, "time_limit": spec.time_limit_ms},
            )

    def enqueue(self, name: str, *args: JSONArg, delay_ms: int = 0) -> None:
        if delay_ms > 0:
            self._actors[name].send_with_options(args=args, delay=delay_ms)
        else:
            self._actors[name].send(*args)

    def queue_names(self) -> set[str]:
        return {spec.queue for spec in self.tasks}

    def context(self) -> JobContext:
        with self._lock:
            if self._context is None:
                if self.context_factory is None:
                    raise RuntimeError("this process only enqueues jobs; it cannot run them")
                self._context = self.context_factory()
            return self._context

    def _runner(self, spec: TaskSpec) -> Callable[..., Awaitable[None]]:
        async def run(*args: Any) -> None:
            await spec.fn(self.context(), *args)

        run.__name__ = spec.name
        run.__qualname__ = spec.name
        return run


def all_task_specs(groups: Iterable[Sequence[TaskSpec]]) -> list[TaskSpec]:
    specs: list[TaskSpec] = []
    seen: set[str] = set()
    for group in groups:
        for spec in group:
            if spec.name in seen:
                raise ValueError(f"two tasks are named {spec.name!r}")
            seen.add(spec.name)
            specs.append(spec)
    return specs


async def queue_depths(
    broker: dramatiq.Broker, queue_names: Iterable[str], redis: Redis | None
) -> list[Reading]:
    """Messages per queue, read now: ``ready`` to run, ``delayed`` (retries waiting for their
    back-off, jobs queued for later) and ``dead`` (given up, kept a week by dramatiq)."""
    from dramatiq.common import dq_name, xq_name

    from marketplace.observability.metrics import Reading

    names = sorted(queue_names)
    values: dict[tuple[str, ...], float] = {}
    if redis is not None:
        async with redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.llen(f"{BROKER_NAMESPACE}:{name}")
                pipe.llen(f"{BROKER_NAMESPACE}:{dq_name(name)}")
                pipe.zcard(f"{BROKER_NAMESPACE}:{xq_name(name)}")
            counts = await pipe.execute()
        for index, name in enumerate(names):
            ready, delayed, dead = counts[3 * index : 3 * index + 3]
            values.update(
                {(name, "ready"): ready, (name, "delayed"): delayed, (name, "dead"): dead}
            )
    elif isinstance(broker, StubBroker):
        for name in names:
            ready = broker.queues.get(name)
            delayed = broker.queues.get(dq_name(name))
            values[(name, "ready")] = ready.qsize() if ready is not None else 0
            values[(name, "delayed")] = delayed.qsize() if delayed is not None else 0
            values[(name, "dead")] = len(broker.dead_letters_by_queue.get(name, ()))
    return [
        Reading(
            "duet_queue_messages",
            "Messages waiting in each job queue, by state",
            ("queue", "state"),
            values,
        )
    ]
