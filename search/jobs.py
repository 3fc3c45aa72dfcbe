"""Search jobs: keep a tutor's document in step with their profile and ratings.

A profile change publishes ``TutorProfileChanged`` and a review change ``TutorRatingChanged``
after its commit; ``subscribe`` turns either into a ``search.index_tutor`` job. The job takes
only the tutor id and reads the current state, so running it twice, late or out of order still
leaves the index right. When the backend is unreachable the job fails and dramatiq retries it
with backoff, so no change is lost.
"""

from __future__ import annotations

from marketplace.events import EventBus, TutorProfileChanged, TutorRatingChanged
from marketplace.tasks import JobContext, TaskQueue, TaskSpec
from search import service
from search.factory import build_search_backend
from search.signals import SignalSource

INDEX_TUTOR = "search.index_tutor"


def tasks(signals: SignalSource) -> list[TaskSpec]:
    """The search tasks, reading rating signals from ``signals`` (wired by the composition
    root, because the reviews package is a sibling search may not import)."""

    async def index_tutor(ctx: JobContext, tutor_id: int) -> None:
        backend = build_search_backend(ctx.settings, ctx.engine)
        try:
            await service.index_tutor(
                ctx.sessions, backend, ctx.storage.url, tutor_id, signals=signals
            )
        finally:
            await backend.aclose()

    return [TaskSpec(INDEX_TUTOR, index_tutor, queue="search", max_retries=20)]


def subscribe(events: EventBus, queue: TaskQueue) -> None:
    def on_tutor_changed(event: TutorProfileChanged | TutorRatingChanged) -> None:
        queue.enqueue(INDEX_TUTOR, event.tutor_id)

    events.subscribe(TutorProfileChanged, on_tutor_changed)
    events.subscribe(TutorRatingChanged, on_tutor_changed)
