"""Uploads behind audio, video and file items, and the job that makes them playable."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lessons.courses import media
from lessons.courses.models import Course, CourseItem, CourseMedia, ItemKind, MediaState
from lessons.courses.service import item_of, media_keys
from marketplace.errors import Conflict, ValidationFailed
from marketplace.media import MediaStorage, new_key
from marketplace.settings import CourseSettings
from marketplace.uow import defer_job

logger = logging.getLogger(__name__)
TRANSCODE_TASK = "lessons.process_course_media"
_LOCK_CLASS = 7_008  # advisory lock namespace for course media jobs
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StagedUpload:
    """An upload copied to a temporary file under the media root, not yet accepted."""

    path: Path
    filename: str
    content_type: str
    size: int


def limits_for(kind: str, settings: CourseSettings) -> media.Limits:
    if kind == ItemKind.AUDIO.value:
        return media.Limits(settings.max_audio_bytes, settings.max_audio_seconds)
    if kind == ItemKind.VIDEO.value:
        return media.Limits(settings.max_video_bytes, settings.max_video_seconds)
    return media.Limits(settings.max_file_bytes, 0)


def staging_path(storage: MediaStorage) -> Path:
    path = storage.path(f"tmp/{secrets.token_hex(16)}.upload")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


async def accept_upload(
    session: AsyncSession,
    storage: MediaStorage,
    course: Course,
    item_id: int,
    staged: StagedUpload,
    settings: CourseSettings,
) -> tuple[CourseMedia, list[str]]:
    """Check the staged file (422 and nothing kept when it is wrong), store it on the item and
    queue its transcode. Returns the media row and the old files to remove after commit."""
    item = await item_of(session, course, item_id)
    try:
        if item.kind not in (ItemKind.AUDIO.value, ItemKind.VIDEO.value, ItemKind.FILE.value):
            raise ValidationFailed({"file": "Only audio, video and file items take an upload."})
        probe = await asyncio.to_thread(
            media.probe,
            staged.path,
            item.kind,
            staged.content_type,
            limits_for(item.kind, settings),
        )
    except BaseException:
        staged.path.unlink(missing_ok=True)
        raise
    suffix = {"audio": ".audio", "video": ".video", "file": ".pdf"}[item.kind]
    key = new_key("course-media/original", suffix)
    target = storage.path(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged.path.replace(target)
    existing = await session.scalar(
        select(CourseMedia).where(CourseMedia.item_id == item.id).with_for_update()
    )
    old = media_keys(existing) if existing else []
    row = existing or CourseMedia(item_id=item.id, attempts=0)
    row.kind = item.kind
    row.original_key = key
    row.original_filename = _safe_name(staged.filename, suffix)
    row.content_type = media._declared(staged.content_type) or "application/octet-stream"
    row.size_bytes = staged.size
    row.duration_seconds = probe.duration_seconds
    row.width, row.height, row.pages = probe.width, probe.height, probe.pages
    row.playable_key = row.hls_key = None
    row.error = ""
    row.progress_percent = 0
    if item.kind == ItemKind.FILE.value:
        row.status = MediaState.READY.value  # a PDF is served as uploaded
        row.progress_percent = 100
    else:
        row.status = MediaState.PROCESSING.value
    if existing is None:
        session.add(row)
    await session.flush()
    if row.status == MediaState.PROCESSING.value:
        defer_job(session, TRANSCODE_TASK, row.id)
    return row, old


def _safe_name(filename: str, suffix: str) -> str:
    name = Path(filename or "").name.strip().replace("\x00", "")[:200]
    return name or f"download{suffix if suffix == '.pdf' else ''}"


async def retry(session: AsyncSession, course: Course, item_id: int) -> CourseMedia:
    item = await item_of(session, course, item_id)
    row = await session.scalar(
        select(CourseMedia).where(CourseMedia.item_id == item.id).with_for_update()
    )
    if row is None or row.status != MediaState.FAILED.value:
        raise Conflict("Only a failed conversion can be retried.", code="not_failed")
    row.status = MediaState.PROCESSING.value
    row.error = ""
    row.progress_percent = 0
    defer_job(session, TRANSCODE_TASK, row.id)
    return row


async def media_of(session: AsyncSession, item: CourseItem) -> CourseMedia | None:
    return await session.scalar(select(CourseMedia).where(CourseMedia.item_id == item.id))


async def process(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    storage: MediaStorage,
    media_id: int,
    hls_min_seconds: float,
) -> None:
    """The transcode job. An advisory lock (held on its own connection for the whole run)
    keeps a redelivered job from converting the same file twice; if the worker dies, the lock
    dies with its connection and the sweep at the next worker start picks the row up again."""
    async with engine.connect() as lock:
        got = await lock.scalar(
            text("SELECT pg_try_advisory_lock(:c, :o)"), {"c": _LOCK_CLASS, "o": media_id}
        )
        await lock.commit()  # the session-level lock outlives this (short) transaction
        if not got:
            return
        try:
            await _process_locked(sessions, storage, media_id, hls_min_seconds)
        finally:
            await lock.execute(
                text("SELECT pg_advisory_unlock(:c, :o)"), {"c": _LOCK_CLASS, "o": media_id}
            )
            await lock.commit()


async def _process_locked(
    sessions: async_sessionmaker[AsyncSession],
    storage: MediaStorage,
    media_id: int,
    hls_min_seconds: float,
) -> None:
    async with sessions() as session, session.begin():
        row = await session.get(CourseMedia, media_id)
        if row is None or row.status != MediaState.PROCESSING.value:
            return
        row.attempts += 1
        kind, original, duration = row.kind, row.original_key, row.duration_seconds or 0.0
    token = secrets.token_hex(16)
    source = storage.path(original)
    fraction = [0.0]

    def work() -> tuple[str, str | None, float, int | None, int | None]:
        def report(f: float) -> None:
            fraction[0] = f

        if kind == ItemKind.AUDIO.value:
            key = f"course-media/playable/{token[:2]}/{token}.m4a"
            seconds = media.transcode_audio(source, storage.path(key), duration, report)
            return key, None, seconds, None, None
        key = f"course-media/playable/{token[:2]}/{token}.mp4"
        seconds, width, height = media.transcode_video(source, storage.path(key), duration, report)
        hls = None
        if seconds >= hls_min_seconds:
            hls = f"course-media/hls/{token}/index.m3u8"
            media.make_hls(storage.path(key), storage.path(hls).parent)
        return key, hls, seconds, width, height

    task = asyncio.ensure_future(asyncio.to_thread(work))
    shown = 0
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=1.0)
            percent = int(fraction[0] * 100)
            if percent > shown and not task.done():
                shown = percent
                await _set_progress(sessions, media_id, percent)
        key, hls, seconds, width, height = await task
    except media.MediaError as exc:
        logger.warning("course media %s could not be converted: %s", media_id, exc)
        async with sessions() as session, session.begin():
            await session.execute(
                update(CourseMedia)
                .where(CourseMedia.id == media_id, CourseMedia.status == "processing")
                .values(status=MediaState.FAILED.value, error=str(exc)[:2000], progress_percent=0)
            )
        return
    async with sessions() as session, session.begin():
        done = await session.execute(
            update(CourseMedia)
            .where(
                CourseMedia.id == media_id,
                CourseMedia.status == "processing",
                CourseMedia.original_key == original,
            )
            .values(
                status=MediaState.READY.value,
                playable_key=key,
                hls_key=hls,
                duration_seconds=seconds,
                width=width,
                height=height,
                progress_percent=100,
            )
        )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        # Replaced or deleted meanwhile: this result belongs to nobody.
        for stale in (key, hls):
            if stale:
                storage.delete(stale)


async def _set_progress(
    sessions: async_sessionmaker[AsyncSession], media_id: int, percent: int
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(CourseMedia)
            .where(CourseMedia.id == media_id, CourseMedia.status == "processing")
            .values(progress_percent=min(percent, 99))
        )


async def stuck(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(CourseMedia.id).where(CourseMedia.status == MediaState.PROCESSING.value)
            )
        )


def remove_files(storage: MediaStorage, keys: list[str]) -> None:
    """Delete stored files (after the commit that forgot them); HLS keys remove their folder."""
    for key in keys:
        path = storage.path(key)
        if key.endswith(".m3u8"):
            for part in path.parent.glob("*"):
                part.unlink(missing_ok=True)
            path.parent.rmdir() if path.parent.exists() else None
        else:
            storage.delete(key)
