"""Keeping the index in step with profiles: index or remove one tutor, or rebuild everything."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.errors import ValidationFailed
from marketplace.profiles.models import TutorProfile, TutorStatus
from payouts import accounts as payout_accounts
from search.backends import SearchBackend, SearchResult
from search.documents import TutorDocument, build_document
from search.query import SearchQuery
from search.signals import SignalSource, no_signals

MediaUrl = Callable[[str], str]
Progress = Callable[[int, int], None]
REINDEX_BATCH = 500
# Namespace of the advisory locks that serialise indexing per tutor ("search" in hex-speak).
_LOCK_NAMESPACE = 0x5EA2C4


def is_searchable(profile: TutorProfile, can_be_paid: bool) -> bool:
    """Approved (so neither pending nor suspended) and bookable: something to book, at a price,
    with a payout account that may receive the money (``can_be_paid``)."""
    return profile.is_public and bool(profile.prices) and bool(profile.instruments) and can_be_paid


async def search(backend: SearchBackend, query: SearchQuery) -> SearchResult:
    """Run ``query``; asking for a page past the last one is a 422 naming ``page``."""
    result = await backend.search(query)
    if result.total and query.page > result.pages:
        raise ValidationFailed(
            {"page": f"There are only {result.pages} pages of results."},
            message="That page is past the last page of results.",
        )
    return result


async def index_tutor(
    sessions: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    media_url: MediaUrl,
    tutor_id: int,
    signals: SignalSource = no_signals,
) -> bool:
    """Upsert the tutor's document if they are searchable, delete it otherwise.

    Idempotent, and safe when jobs for the same tutor overlap: a per-tutor lock is held from
    reading the profile and its rating signals until the index write is done, so the last write
    always carries the latest committed state. Returns whether the tutor is now in the index.
    """
    async with sessions() as session, session.begin():
        await session.execute(
            select(func.pg_advisory_xact_lock(_LOCK_NAMESPACE, func.hashint8(tutor_id)))
        )
        profile = await session.get(TutorProfile, tutor_id)
        payable = await payout_accounts.can_receive_payouts(session, tutor_id)
        if profile is not None and is_searchable(profile, payable):
            found = await signals(session, [tutor_id])
            await backend.upsert([build_document(profile, media_url, found.get(tutor_id))])
            return True
        await backend.delete([tutor_id])
        return False


async def reindex_all(
    sessions: async_sessionmaker[AsyncSession],
    backend: SearchBackend,
    media_url: MediaUrl,
    progress: Progress | None = None,
    signals: SignalSource = no_signals,
) -> int:
    """Rebuild the whole index from the profiles (and their rating signals, read once per
    batch) and swap it in atomically.

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
                ids = [p.user_id for p in profiles]
                payable = await payout_accounts.payout_ready(session, ids)
                found = await signals(session, ids)
                yield [
                    build_document(p, media_url, found.get(p.user_id))
                    for p in profiles
                    if is_searchable(p, p.user_id in payable)
                ]
                done += len(profiles)
                session.expunge_all()  # keep memory flat over a large rebuild
                if progress:
                    progress(min(done, total), max(total, done))

    return await backend.rebuild(batches())
