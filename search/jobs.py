"""Search jobs: keep a tutor's document in step with their profile.

A profile change publishes ``TutorProfileChanged`` after its commit; ``subscribe`` turns that
into a ``search.index_tutor`` job. The job takes only the tutor id and reads the current state,
so running it twice, late or out of order still leaves the index right. When the backend is
unreachable the job fails and dramatiq retries it with backoff, so no change is lost.
"""

from __future__ import annotations

from marketplace.events import EventBus, TutorProfileChanged
from marketplace.tasks import JobContext, TaskQueue, TaskSpec
from search import service
from search.factory import build_search_backend

INDEX_TUTOR = "search.index_tutor"


async def index_tutor(ctx: JobContext, tutor_id: int) -> None:
    backend = build_search_backend(ctx.settings, ctx.engine)
    try:
        await service.index_tutor(ctx.sessions, backend, ctx.storage.url, tutor_id)
    finally:
        await backend.aclose()


def subscribe(events: EventBus, queue: TaskQueue) -> None:
    def on_profile_changed(event: TutorProfileChanged) -> None:
        queue.enqueue(INDEX_TUTOR, event.tutor_id)

    events.subscribe(TutorProfileChanged, on_profile_changed)


TASKS = [
    TaskSpec(INDEX_TUTOR, index_tutor, queue="search", max_retries=20),
]
