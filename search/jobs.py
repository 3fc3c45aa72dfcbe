"""Search jobs: keep a tutor's document in step with their profile, ratings and free time.

A profile change publishes ``TutorProfileChanged``, a review change ``TutorRatingChanged``, a
booking that takes or frees time ``BookingTransitioned`` and an edit of availability, rules,
time off or imported calendars ``AvailabilityChanged``, each after its commit; ``subscribe``
turns them into ``search.index_tutor`` jobs. The job takes only ids and reads the current
state, so running it twice, late or out of order still leaves the index right. When the
backend is unreachable the job fails and dramatiq retries it with backoff, so no change is lost.

Scheduling changes come in bursts (a tutor saving their week, a student booking twelve weekly
lessons, a calendar import): their jobs wait ``COALESCE_MS`` and carry the moment they were
asked for, so the first one rebuilds the document and the rest find it already fresh.

``search.refresh_stale`` runs every minute and re-indexes the documents time has made stale
(see ``service.refresh_stale``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from marketplace.events import EventBus, TutorProfileChanged, TutorRatingChanged
from marketplace.tasks import JobContext, TaskQueue, TaskSpec
from scheduling.events import AvailabilityChanged
from scheduling.lifecycle import LIVE_STATES, BookingTransitioned
from search import service
from search.factory import build_search_backend
from search.signals import SignalSource

INDEX_TUTOR = "search.index_tutor"
REFRESH_STALE = "search.refresh_stale"
COALESCE_MS = 2000
_LIVE = {state.value for state in LIVE_STATES}
# (task, seconds between runs): enqueued by the worker's ticker.
PERIODIC = [(REFRESH_STALE, 60)]


def tasks(signals: SignalSource) -> list[TaskSpec]:
    """The search tasks, reading rating signals from ``signals`` (wired by the composition
    root, because the reviews package is a sibling search may not import)."""

    async def index_tutor(
        ctx: JobContext, tutor_id: int, requested_at: float | None = None
    ) -> None:
        backend = build_search_backend(ctx.settings, ctx.engine)
        asked = datetime.fromtimestamp(requested_at, UTC) if requested_at is not None else None
        try:
            await service.index_tutor(
                ctx.sessions, backend, ctx.storage.url, tutor_id, signals, requested_at=asked
            )
        finally:
            await backend.aclose()

    async def refresh_stale(ctx: JobContext) -> None:
        backend = build_search_backend(ctx.settings, ctx.engine)
        try:
            await service.refresh_stale(ctx.sessions, backend, ctx.storage.url, signals)
        finally:
            await backend.aclose()

    return [
        TaskSpec(INDEX_TUTOR, index_tutor, queue="search", max_retries=20),
        TaskSpec(REFRESH_STALE, refresh_stale, queue="search", max_retries=0),
    ]


def takes_or_frees_time(event: BookingTransitioned) -> bool:
    """A new hold, a booking that stops being live (cancelled, expired, released) or one that
    moves changes the tutor's open slots; confirming or completing one does not."""
    return (event.from_state in _LIVE) != (event.to_state in _LIVE) or event.event == "reschedule"


def subscribe(events: EventBus, queue: TaskQueue) -> None:
    def on_tutor_changed(event: TutorProfileChanged | TutorRatingChanged) -> None:
        queue.enqueue(INDEX_TUTOR, event.tutor_id)

    def on_time_changed(tutor_id: int) -> None:
        asked = datetime.now(UTC).timestamp()
        queue.enqueue(INDEX_TUTOR, tutor_id, asked, delay_ms=COALESCE_MS)

    def on_booking(event: BookingTransitioned) -> None:
        if takes_or_frees_time(event):
            on_time_changed(event.tutor_id)

    events.subscribe(TutorProfileChanged, on_tutor_changed)
    events.subscribe(TutorRatingChanged, on_tutor_changed)
    events.subscribe(BookingTransitioned, on_booking)
    events.subscribe(AvailabilityChanged, lambda event: on_time_changed(event.tutor_id))
