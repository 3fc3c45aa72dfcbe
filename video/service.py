"""Lesson room use cases that touch the database: bitrate, consent, ending the lesson,
recordings (start, tracks, finishing, retention). No Litestar types, no media."""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import Forbidden, NotFound, ValidationFailed
from marketplace.settings import BITRATES_KBPS, Settings
from marketplace.uow import defer_job
from scheduling import changes, rooms
from scheduling.lifecycle import IllegalTransition, State
from scheduling.models import Booking
from scheduling.rooms import RoomRole
from scheduling.service import Caller
from video.models import LessonRoom, Recording, RecordingTrack
from video.recording import TrackFile

logger = logging.getLogger(__name__)

FINISH_TASK = "video.finish_recording"
SWEEP_TASK = "video.sweep"
# A recording still "recording" this long after its room closed lost its room (a restart).
ORPHAN_GRACE = timedelta(minutes=5)


async def room_choice(session: AsyncSession, booking_id: int) -> LessonRoom | None:
    return await session.get(LessonRoom, booking_id, populate_existing=True)


async def _room_row(session: AsyncSession, booking_id: int, default_kbps: int) -> LessonRoom:
    """The lesson's row, locked; both sides may click at the same moment, so insert-or-keep."""
    await session.execute(
        insert(LessonRoom)
        .values(booking_id=booking_id, bitrate_kbps=default_kbps)
        .on_conflict_do_nothing(index_elements=[LessonRoom.booking_id])
    )
    row = await session.get(LessonRoom, booking_id, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


async def set_bitrate(
    session: AsyncSession, booking_id: int, role: RoomRole, kbps: object, default_kbps: int
) -> int:
    if role is not RoomRole.TUTOR:
        raise Forbidden("The tutor chooses the room's bitrate.", code="tutor_only")
    if not isinstance(kbps, int) or isinstance(kbps, bool) or kbps not in BITRATES_KBPS:
        choices = ", ".join(map(str, BITRATES_KBPS))
        raise ValidationFailed({"kbps": f"Choose one of {choices}."})
    row = await _room_row(session, booking_id, default_kbps)
    row.bitrate_kbps = kbps
    return kbps


async def set_consent(
    session: AsyncSession, booking_id: int, role: RoomRole, consent: object, default_kbps: int
) -> LessonRoom:
    if role is RoomRole.OBSERVER:
        raise Forbidden("Only the tutor and the student decide about recording.", code="observer")
    if not isinstance(consent, bool):
        raise ValidationFailed({"consent": "Send true or false."})
    row = await _room_row(session, booking_id, default_kbps)
    at = datetime.now(UTC) if consent else None
    if role is RoomRole.TUTOR:
        row.tutor_consented_at = at
    else:
        row.student_consented_at = at
    return row


def consent_view(row: LessonRoom | None) -> dict[str, bool]:
    return {
        "tutor": bool(row and row.tutor_consented_at),
        "student": bool(row and row.student_consented_at),
    }


async def end_lesson(
    session: AsyncSession, booking_id: int, caller: Caller, dispute_window: timedelta
) -> None:
    """The tutor's "End lesson": confirmed → completed through the lifecycle. A lesson the
    clock completed already is just closed."""
    booking = await session.get(Booking, booking_id, with_for_update=True)
    if booking is None:
        raise NotFound("No such lesson.", code="booking_not_found")
    if booking.status == State.COMPLETED.value and caller.id == booking.tutor_id:
        return
    try:
        await changes.apply_event(
            session, booking_id, caller, rooms.END_EVENT, dispute_window=dispute_window
        )
    except IllegalTransition as exc:
        if exc.code == "too_early":
            raise IllegalTransition(
                "The lesson can be ended once it has started.",
                code="too_early",
                fields=exc.fields,
            ) from None
        raise


# ---------------------------------------------------------------- recordings


async def recording_id(session: AsyncSession, booking_id: int) -> int | None:
    return await session.scalar(select(Recording.id).where(Recording.booking_id == booking_id))


async def start_recording(session: AsyncSession, booking_id: int) -> int | None:
    """The recording to write into; None when this lesson's recording is already finished.

    A recording still ``recording`` is continued, whoever started it: when the process holding
    the room died, the process that takes the room over adds its tracks to the same recording
    (one per lesson), next to the tracks the dead one left."""
    await session.execute(
        insert(Recording)
        .values(booking_id=booking_id, status="recording")
        .on_conflict_do_nothing(index_elements=[Recording.booking_id])
    )
    found = await session.scalar(
        select(Recording).where(Recording.booking_id == booking_id).with_for_update()
    )
    assert found is not None
    return found.id if found.status == "recording" else None


async def save_track(session: AsyncSession, recording_id: int, track: TrackFile) -> None:
    """The track's row: inserted when its file is opened (``ended_at`` None), completed when the
    file is closed. The two saves run as separate transactions in either order, so both upsert
    on the file key and the opening one never undoes the closing one. A row left without
    ``ended_at`` is a track whose process died: its file holds what was written."""
    values = {
        "recording_id": recording_id,
        "user_id": track.user_id,
        "kind": track.kind,
        "file_key": track.key,
        "started_at": track.started_at,
        "ended_at": track.ended_at,
        "packets": track.packets,
    }
    statement = insert(RecordingTrack).values(**values)
    if track.ended_at is None:
        statement = statement.on_conflict_do_nothing(index_elements=[RecordingTrack.file_key])
    else:
        statement = statement.on_conflict_do_update(
            index_elements=[RecordingTrack.file_key],
            set_={"ended_at": track.ended_at, "packets": track.packets},
        )
    await session.execute(statement)


async def queue_finish(session: AsyncSession, booking_id: int) -> None:
    """The room closed: mix what was recorded (in a job); forget a recording of nothing."""
    found = await session.scalar(
        select(Recording).where(Recording.booking_id == booking_id).with_for_update()
    )
    if found is None or found.status != "recording":
        return
    tracks = await session.scalar(
        select(RecordingTrack.id).where(RecordingTrack.recording_id == found.id).limit(1)
    )
    if tracks is None:
        await session.delete(found)
        return
    found.status = "processing"
    defer_job(session, FINISH_TASK, found.id)


@dataclass(frozen=True)
class RecordingView:
    status: str
    url: str | None
    duration_seconds: float | None
    deletes_on: datetime | None


async def recording_view(
    session: AsyncSession, booking: Booking, retention_days: int
) -> RecordingView | None:
    found = await session.scalar(select(Recording).where(Recording.booking_id == booking.id))
    if found is None:
        return None
    return RecordingView(
        status=found.status,
        url=f"/lessons/{booking.id}/recording" if found.status == "ready" else None,
        duration_seconds=found.duration_seconds,
        deletes_on=booking.ends_at + timedelta(days=retention_days),
    )


async def recording_file(session: AsyncSession, booking_id: int, root: Path) -> Path:
    found = await session.scalar(select(Recording).where(Recording.booking_id == booking_id))
    if found is None or found.status != "ready" or not found.file_key:
        raise NotFound("This lesson has no recording.", code="recording_not_found")
    path = root / found.file_key
    if not path.is_file():
        raise NotFound("This recording's file is missing.", code="recording_not_found")
    return path


async def finish_recording(session: AsyncSession, recording_id: int, settings: Settings) -> None:
    """Job body: mix the tracks into one file. Safe to run twice (it locks and checks)."""
    from video import mixing  # PyAV and numpy: only the worker that mixes needs them

    found = await session.get(Recording, recording_id, with_for_update=True)
    if found is None or found.status != "processing":
        return
    booking = await session.get(Booking, found.booking_id)
    assert booking is not None
    choice = await session.get(LessonRoom, found.booking_id)
    root = settings.video.recordings_root
    tracks = list(
        await session.scalars(
            select(RecordingTrack).where(RecordingTrack.recording_id == recording_id)
        )
    )
    key = f"{recording_id}/lesson-{found.booking_id}.webm"
    # A file may be missing or empty (its process died before writing any), or end without
    # its trailer and mid-packet (it died while writing, ``ended_at`` None): mixed up to there.
    inputs = [
        mixing.Track(t.user_id, t.kind, root / t.file_key, t.started_at)
        for t in tracks
        if (root / t.file_key).is_file() and (root / t.file_key).stat().st_size > 0
    ]
    if cut := sum(t.ended_at is None for t in tracks):
        logger.info("recording %s: %s track(s) cut short by their process", recording_id, cut)
    try:
        result = await asyncio.to_thread(
            mixing.mix,
            inputs,
            root / key,
            bitrate_kbps=choice.bitrate_kbps if choice else settings.video.default_bitrate_kbps,
            order=[booking.tutor_id, booking.student_id],
        )
    except Exception as exc:
        logger.exception("mixing recording %s failed", recording_id)
        found.status = "failed"
        found.error = str(exc)[:500]
        return
    found.status = "ready"
    found.file_key = key
    found.duration_seconds = result.duration_seconds
    found.size_bytes = result.size_bytes
    found.ready_at = datetime.now(UTC)
    shutil.rmtree(root / str(recording_id) / "tracks", ignore_errors=True)


async def sweep(session: AsyncSession, settings: Settings, now: datetime) -> dict[str, int]:
    """Periodic: finish recordings whose room is gone; delete recordings past retention."""
    closes_after = timedelta(minutes=settings.scheduling.room_closes_minutes) + ORPHAN_GRACE
    orphans = list(
        await session.scalars(
            select(Booking.id)
            .join(Recording, Recording.booking_id == Booking.id)
            .where(Recording.status == "recording", Booking.ends_at + closes_after < now)
        )
    )
    for booking_id in orphans:
        await queue_finish(session, booking_id)
    cutoff = now - timedelta(days=settings.video.recording_retention_days)
    expired = list(
        await session.scalars(
            select(Recording)
            .join(Booking, Booking.id == Recording.booking_id)
            .where(Recording.status.in_(("ready", "failed")), Booking.ends_at < cutoff)
            .with_for_update(of=Recording, skip_locked=True)
        )
    )
    for found in expired:
        shutil.rmtree(settings.video.recordings_root / str(found.id), ignore_errors=True)
        found.status = "deleted"
        found.file_key = None
        found.deleted_at = now
    return {"finished": len(orphans), "deleted": len(expired)}
