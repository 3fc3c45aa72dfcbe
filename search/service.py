"""Keeping the index in step with profiles, ratings and free time: index or remove a batch of
tutors, re-index the documents time has made stale, or rebuild everything."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, DateTime, bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.errors import ValidationFailed
from marketplace.observability import metrics
from marketplace.profiles.models import TutorProfile, TutorStatus
from marketplace.wording import plural
from payouts import accounts as payout_accounts
from search.availability import FreeTime, free_time
from search.backends import SearchBackend, SearchResult
from search.documents import TutorDocument, build_document
from search.models import SearchFreshness
from search.query import SearchQuery
from search.signals import SignalSource, no_signals

MediaUrl = Callable[[str], str]
Progress = Callable[[int, int], None]
REINDEX_BATCH = 500
# The periodic refresh re-indexes at most this many stale documents per run.
REFRESH_BATCH = 500
# A document is rebuilt at least this often, so its 14 days of free half-hours slide along.
MAX_AGE = timedelta(hours=24)
# Clocks of the web and worker hosts may disagree by this much: a build that started less than
# this after a change was requested may not have seen it, so it does not count as covering it.
CLOCK_SKEW = timedelta(seconds=1)
# Namespace of the advisory locks that serialise indexing per tutor ("search" in hex-speak).
_LOCK_NAMESPACE = 0x5EA2C4


def is_searchable(profile: TutorProfile, can_be_paid: bool) -> bool:
    """Approved (so neither pending nor suspended) and bookable: something to book, at a price,
    with a payout account that may receive the money (``can_be_paid``)."""
    return profile.is_public and bool(profile.prices) and bool(profile.instruments) and can_be_paid


async def search(backend: SearchBackend, query: SearchQuery) -> SearchResult:
    """Run ``query``; asking for a page past the last one is a 422 naming ``page``."""
    started = time.perf_counter()
    try:
        result = await backend.search(query)
    except Exception:
        metrics.search_timed(backend.name, 0.0, failed=True)
        raise
    metrics.search_timed(backend.name, time.perf_counter() - started)
    if result.total and query.page > result.pages:
        raise ValidationFailed(
            {"page": f"There are only {plural(result.pages, 'page')} of results."},
            message="That page is past the last page of results.",
        )
    return result


@dataclass
class Indexed:
    """What ``index_tutors`` did, by tutor id."""

    upserted: set[int] = field(default_factory=set)
    removed: set[int] = field(default_factory=set)
    skipped: set[int] = field(default_factory=set)  # already rebuilt since the request


async def index_tutor(
    sessions: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    media_url: MediaUrl,
    tutor_id: int,
    signals: SignalSource = no_signals,
    *,
    requested_at: datetime | None = None,
) -> bool:
    """Upsert the tutor's document if they are searchable, delete it otherwise. Returns
    whether the tutor is in the index now (see ``index_tutors``)."""
    done = await index_tutors(
        sessions, backend, media_url, [tutor_id], signals, requested_at=requested_at
    )
    return tutor_id in done.upserted or (
        tutor_id in done.skipped and await _is_indexed(sessions, tutor_id)
    )


async def index_tutors(
    sessions: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    media_url: MediaUrl,
    tutor_ids: Iterable[int],
    signals: SignalSource = no_signals,
    *,
    requested_at: datetime | None = None,
) -> Indexed:
    """Rebuild the documents of ``tutor_ids`` from their current profile, rating signals and
    open slots (each read once for the whole batch), or delete those no longer searchable.

    Idempotent, and safe when jobs for the same tutors overlap: per-tutor locks are held from
    reading until the index write is done, so the last write always carries the latest
    committed state. With ``requested_at`` (when the change that asked for this happened), a
    tutor whose document was rebuilt since is skipped: a burst of changes costs one rebuild.
    """
    ids = sorted(set(tutor_ids))
    done = Indexed()
    if not ids:
        return done
    async with sessions() as session, session.begin():
        # Locks in id order, so two batches never wait for each other in a circle.
        await session.execute(_LOCK_ALL, {"ids": ids, "namespace": _LOCK_NAMESPACE})
        started = datetime.now(UTC)  # everything committed before now is read below
        if requested_at is not None:
            fresh = set(
                await session.scalars(
                    select(SearchFreshness.tutor_id).where(
                        SearchFreshness.tutor_id.in_(ids),
                        SearchFreshness.built_at >= requested_at + CLOCK_SKEW,
                    )
                )
            )
            done.skipped = fresh
            ids = [i for i in ids if i not in fresh]
            if not ids:
                return done
        profiles = {
            p.user_id: p
            for p in await session.scalars(
                select(TutorProfile).where(TutorProfile.user_id.in_(ids))
            )
        }
        documents, free = await _documents(
            session, media_url, list(profiles.values()), signals, started
        )
        done.upserted = {d.id for d in documents}
        done.removed = set(ids) - done.upserted
        await backend.upsert(documents)
        await backend.delete(sorted(done.removed))
        await _record_freshness(session, started, free, removed=done.removed)
    return done


async def _documents(
    session: AsyncSession,
    media_url: MediaUrl,
    profiles: Sequence[TutorProfile],
    signals: SignalSource,
    now: datetime,
) -> tuple[list[TutorDocument], dict[int, FreeTime]]:
    """Documents of the searchable ``profiles``, with their signals and free time; the free
    time of each, by tutor id (empty for one without any)."""
    payable = await payout_accounts.payout_ready(session, [p.user_id for p in profiles])
    searchable = [p for p in profiles if is_searchable(p, p.user_id in payable)]
    ids = [p.user_id for p in searchable]
    found = await signals(session, ids)
    durations = {p.user_id: [price.duration_minutes for price in p.prices] for p in searchable}
    free = await free_time(session, durations, now)
    free = {i: free.get(i, FreeTime()) for i in ids}
    documents = [
        build_document(p, media_url, found.get(p.user_id), free[p.user_id]) for p in searchable
    ]
    return documents, free


def _refresh_at(built_at: datetime, free: FreeTime) -> datetime:
    """When time alone makes the document stale: its next free slot starts (or passes the
    tutor's notice), or it reaches ``MAX_AGE``, whichever comes first."""
    oldest = built_at + MAX_AGE
    return min(free.next_free_at, oldest) if free.next_free_at else oldest


async def _record_freshness(
    session: AsyncSession,
    built_at: datetime,
    free: dict[int, FreeTime],
    *,
    removed: Iterable[int] = (),
) -> None:
    gone = list(removed)
    if gone:
        await session.execute(delete(SearchFreshness).where(SearchFreshness.tutor_id.in_(gone)))
    if free:
        ids = list(free)
        await session.execute(
            _UPSERT_FRESHNESS,
            {
                "ids": ids,
                "built": [built_at] * len(ids),
                "refresh": [_refresh_at(built_at, free[i]) for i in ids],
            },
        )


async def _is_indexed(sessions: async_sessionmaker[AsyncSession], tutor_id: int) -> bool:
    async with sessions() as session:
        return await session.get(SearchFreshness, tutor_id) is not None


async def refresh_stale(
    sessions: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    media_url: MediaUrl,
    signals: SignalSource = no_signals,
    *,
    limit: int = REFRESH_BATCH,
    now: datetime | None = None,
) -> int:
    """Re-index the documents time has made stale (their next free slot has passed, or they
    are ``MAX_AGE`` old), the stalest first, at most ``limit``. Returns how many."""
    moment = now or datetime.now(UTC)
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(SearchFreshness.tutor_id)
                .where(SearchFreshness.refresh_at <= moment)
                .order_by(SearchFreshness.refresh_at)
                .limit(limit)
            )
        )
    if ids:
        await index_tutors(sessions, backend, media_url, ids, signals)
    return len(ids)


_LOCK_ALL = text(
    "SELECT pg_advisory_xact_lock(:namespace, hashint8(i)) "
    "FROM (SELECT i FROM unnest(:ids) AS i ORDER BY i) ordered"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))
_UPSERT_FRESHNESS = text(
    "INSERT INTO search_freshness (tutor_id, built_at, refresh_at) "
    "SELECT * FROM unnest(:ids, :built, :refresh) "
    "ON CONFLICT (tutor_id) DO UPDATE SET built_at = EXCLUDED.built_at, "
    "refresh_at = EXCLUDED.refresh_at"
).bindparams(
    bindparam("ids", type_=ARRAY(BigInteger)),
    bindparam("built", type_=ARRAY(DateTime(timezone=True))),
    bindparam("refresh", type_=ARRAY(DateTime(timezone=True))),
)


async def reindex_all(
    sessions: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    media_url: MediaUrl,
    progress: Progress | None = None,
    signals: SignalSource = no_signals,
) -> int:
    """Rebuild the whole index from the profiles (with their rating signals and open slots,
    read once per batch) and swap it in atomically.

    ``progress(done, total)`` is called after every batch of profiles read. Returns the number
    of documents in the new index.
    """
    approved = TutorProfile.status == TutorStatus.APPROVED.value
    async with sessions() as session:
        total = int(
            await session.scalar(select(func.count()).select_from(TutorProfile).where(approved))
            or 0
        )
    if progress:
        progress(0, total)
    built: list[tuple[datetime, dict[int, FreeTime]]] = []

    async def batches() -> AsyncIterator[Sequence[TutorDocument]]:
        done, last_id = 0, 0
        async with sessions() as session:
            while True:
                profiles = list(
                    await session.scalars(
                        select(TutorProfile)
                        .where(approved, TutorProfile.user_id > last_id)
                        .order_by(TutorProfile.user_id)
                        .limit(REINDEX_BATCH)
                    )
                )
                if not profiles:
                    break
                last_id = profiles[-1].user_id
                started = datetime.now(UTC)
                documents, free = await _documents(session, media_url, profiles, signals, started)
                built.append((started, free))
                yield documents
                done += len(profiles)
                session.expunge_all()  # keep memory flat over a large rebuild
                if progress:
                    progress(min(done, total), max(total, done))

    count = await backend.rebuild(batches())
    # The new index is live: its freshness replaces the old one's.
    async with sessions() as session, session.begin():
        await session.execute(delete(SearchFreshness))
        for started, free in built:
            await _record_freshness(session, started, free)
    return count
