"""Photos and "hear me play" recordings for the demo tutors, generated at seed time.

Generating 200 portraits and recordings takes a while, so each result is cached under
``<var>/cache/demo-media/`` by a hash of everything that shapes it (the generator version, the
tutor's name and instrument): a second seed, or a seed after ``rm -rf var/postgres``, only
copies files. Tutors who already have a photo or a recording keep theirs.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import multiprocessing
import os
import tempfile
import wave
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.accounts.models import User
from marketplace.media import MediaStorage, new_key
from marketplace.profiles import media_processing
from marketplace.profiles.models import AudioSample, MediaStatus, TutorProfile
from marketplace.profiles.service import photo_rendition_key
from marketplace.seed import avatars, sounds

# Bump when the drawing or the synthesis changes, so cached files are made again.
GENERATOR_VERSION = "2"
RECORDING_SECONDS = 6.0
BATCH = 25
# Below this many files to draw, a pool of processes costs more to start than it saves.
POOL_THRESHOLD = 8
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MediaResult:
    photos: int
    recordings: int
    generated: int  # not found in the cache
    cached: int


class MediaCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def key(self, *parts: str) -> str:
        return hashlib.sha256("\x1f".join((GENERATOR_VERSION, *parts)).encode()).hexdigest()

    def has(self, key: str, suffix: str) -> bool:
        return (self.root / key[:2] / f"{key}{suffix}").is_file()

    def get_or_make(self, key: str, suffix: str, make: Callable[[], bytes]) -> tuple[bytes, bool]:
        """(content, whether it came from the cache)."""
        path = self.root / key[:2] / f"{key}{suffix}"
        if path.is_file():
            return path.read_bytes(), True
        content = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(content)
        partial.replace(path)
        return content, False


def photo_files(name: str) -> dict[str, bytes]:
    """The same WebP renditions an upload gets, from a drawn portrait."""
    return media_processing.photo_renditions(avatars.portrait(name), max_bytes=10_000_000)


def recording_file(instrument: str, seed: str) -> bytes:
    """A recording in the app's playable format (AAC in M4A), through the upload transcoder."""
    audio = sounds.recording(instrument, seed, RECORDING_SECONDS)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    raw = io.BytesIO()
    with wave.open(raw, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sounds.RATE)
        wav.writeframes(pcm)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.wav"
        target = Path(tmp) / f"out{media_processing.PLAYABLE_SUFFIX}"
        source.write_bytes(raw.getvalue())
        media_processing.transcode_to_playable(source, target)
        return target.read_bytes()


async def seed_media(
    sessions: async_sessionmaker[AsyncSession],
    storage: MediaStorage,
    cache_dir: Path,
    emails: list[str],
    *,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> MediaResult:
    """Give each demo tutor (by e-mail) without a photo or recording a generated one.

    ``cancelled`` is asked before each batch: when it says yes, the tutors done so far keep
    their media and the rest get theirs at the next call (a later ``duet run``)."""
    cache = MediaCache(cache_dir)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(TutorProfile.user_id, User.email)
                .join(User, User.id == TutorProfile.user_id)
                .where(User.email.in_(emails))
                .order_by(TutorProfile.user_id)
            )
        ).all()
    ids = [tutor_id for tutor_id, _ in rows]
    email_of = dict(rows)
    photos = recordings = generated = cached = 0
    workers = min(os.cpu_count() or 1, 4)
    # "spawn": the seed runs inside an event loop with open connections, which a fork would copy.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        for start in range(0, len(ids), BATCH):
            if cancelled():
                break
            async with sessions() as session, session.begin():
                profiles = list(
                    await session.scalars(
                        select(TutorProfile).where(
                            TutorProfile.user_id.in_(ids[start : start + BATCH])
                        )
                    )
                )
                fresh = await _fill_cache(cache, pool, workers, profiles, email_of)
                for profile in profiles:
                    seed = email_of[profile.user_id]
                    counts = _attach(session, storage, cache, profile, seed, fresh)
                    photos += counts[0]
                    recordings += counts[1]
                    generated += counts[2]
                    cached += counts[3]
            if progress:
                progress(min(start + BATCH, len(ids)), len(ids))
    finally:
        pool.shutdown(cancel_futures=True)
    return MediaResult(photos, recordings, generated, cached)


async def _fill_cache(
    cache: MediaCache,
    pool: ProcessPoolExecutor,
    workers: int,
    profiles: list[TutorProfile],
    email_of: dict[int, str],
) -> set[str]:
    """Draw and record what the cache lacks for these tutors, on every core at once; the cache
    keys made. Nothing when there is too little to draw: then each is made as it is attached."""
    jobs: list[tuple[Callable[..., None], tuple[str, ...]]] = []
    keys: set[str] = set()
    for profile in profiles:
        name = profile.display_name
        photo_keys = {cache.key("photo", size, name) for size in media_processing.PHOTO_SIZES}
        if profile.photo_key is None and not all(cache.has(k, ".webp") for k in photo_keys):
            jobs.append((_fill_photo, (str(cache.root), name)))
            keys |= photo_keys
        if profile.audio_sample is None and profile.instruments:
            instrument = profile.instruments[0].instrument
            seed = email_of[profile.user_id]
            key = cache.key("recording", instrument, seed)
            if not cache.has(key, media_processing.PLAYABLE_SUFFIX):
                jobs.append((_fill_recording, (str(cache.root), instrument, seed)))
                keys.add(key)
    if workers < 2 or len(jobs) < POOL_THRESHOLD:
        return set()
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(pool, fn, *args) for fn, args in jobs))
    return keys


def _fill_photo(root: str, name: str) -> None:
    cache = MediaCache(Path(root))
    files = photo_files(name)
    for size, content in files.items():
        cache.get_or_make(cache.key("photo", size, name), ".webp", lambda c=content: c)  # type: ignore[misc]


def _fill_recording(root: str, instrument: str, seed: str) -> None:
    cache = MediaCache(Path(root))
    key = cache.key("recording", instrument, seed)
    cache.get_or_make(
        key, media_processing.PLAYABLE_SUFFIX, lambda: recording_file(instrument, seed)
    )


def _attach(
    session: AsyncSession,
    storage: MediaStorage,
    cache: MediaCache,
    profile: TutorProfile,
    seed: str,
    fresh: set[str],
) -> tuple[int, int, int, int]:
    """Give one tutor a photo and a recording: (photos, recordings, generated, cached).
    ``fresh``: cache keys drawn in this run (by the pool), counted as generated."""
    photos = recordings = generated = cached = 0
    if profile.photo_key is None:
        base = new_key("photos", "")
        name = profile.display_name
        hit = False
        for size in media_processing.PHOTO_SIZES:
            key = cache.key("photo", size, name)
            content, hit = cache.get_or_make(
                key,
                ".webp",
                lambda size=size, name=name: _renditions(name)[size],  # type: ignore[misc]
            )
            hit = hit and key not in fresh
            storage.save(photo_rendition_key(base, size), content)
        profile.photo_key = base
        photos += 1
        generated, cached = (generated, cached + 1) if hit else (generated + 1, cached)
    if profile.audio_sample is None and profile.instruments:
        instrument = profile.instruments[0].instrument
        key = cache.key("recording", instrument, seed)
        content, hit = cache.get_or_make(
            key,
            media_processing.PLAYABLE_SUFFIX,
            lambda instrument=instrument, seed=seed: recording_file(instrument, seed),  # type: ignore[misc]
        )
        hit = hit and key not in fresh
        media_key = new_key("audio/playable", media_processing.PLAYABLE_SUFFIX)
        storage.save(media_key, content)
        # Generated straight in the playable format: the original is the same file.
        session.add(
            AudioSample(
                tutor_id=profile.user_id,
                status=MediaStatus.READY.value,
                original_key=media_key,
                original_filename=f"{instrument}-demo.m4a",
                playable_key=media_key,
                duration_seconds=RECORDING_SECONDS,
            )
        )
        recordings += 1
        generated, cached = (generated, cached + 1) if hit else (generated + 1, cached)
    return photos, recordings, generated, cached


_last: dict[str, dict[str, bytes]] = {}


def _renditions(name: str) -> dict[str, bytes]:
    """All sizes are drawn at once; keep the last tutor's so the other sizes reuse them."""
    if name not in _last:
        _last.clear()
        _last[name] = photo_files(name)
    return _last[name]
