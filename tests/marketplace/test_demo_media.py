"""Generated demo portraits and recordings: believable, matched to the instrument, cached."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.media import LocalMediaStorage
from marketplace.profiles import media_processing
from marketplace.profiles.models import AudioSample, TutorProfile
from marketplace.profiles.service import photo_rendition_key
from marketplace.seed import avatars, demo_media, sounds
from marketplace.seed.demo_data import demo_tutors
from marketplace.seed.demo_media import recording_file, seed_media
from marketplace.seed.load import seed_demo


def test_portraits_are_deterministic_and_differ_between_tutors() -> None:
    first = avatars.portrait("Zoë Łukasz")
    assert first == avatars.portrait("Zoë Łukasz")
    assert first != avatars.portrait("Ørjan Li")
    image = Image.open(io.BytesIO(first))
    assert image.size == (640, 640)
    # Drawn, not noise: a handful of flat colours cover most of the picture.
    colours = image.convert("RGB").getcolors(maxcolors=640 * 640) or []
    top = sorted((count for count, _ in colours), reverse=True)[:8]
    assert sum(top) > 0.7 * 640 * 640
    assert set(media_processing.photo_renditions(first, 10_000_000)) == {"large", "medium", "small"}


@pytest.mark.parametrize(
    ("instrument", "family"),
    [
        ("classical-guitar", "plucked"),
        ("cello", "bowed"),
        ("flute", "breathy"),
        ("saxophone", "reed"),
        ("trumpet", "brass"),
        ("djembe", "drums"),
        ("piano", "piano"),
        ("music-theory", "piano"),
    ],
)
def test_each_instrument_has_a_family(instrument: str, family: str) -> None:
    assert sounds.family_of(instrument) == family


@pytest.mark.parametrize("voice", ["plucked", "piano", "bowed", "breathy", "reed", "brass"])
def test_a_note_sounds_at_its_pitch(voice: str) -> None:
    import random

    note = sounds._VOICES[voice](220.0, 1.0, random.Random(1))
    # The period is the lag at which the sound best repeats itself (autocorrelation).
    window = note[2400:12000]
    lags = range(sounds.RATE // 400, sounds.RATE // 150)  # 150 to 400 Hz: no octave errors
    best = max(
        lags, key=lambda lag: float(np.dot(window[:-lag], window[lag:])) / (len(window) - lag)
    )
    assert abs(sounds.RATE / best - 220.0) < 4


def test_plucked_strings_decay_and_bowed_strings_sustain() -> None:
    import random

    def tail_to_head(note: np.ndarray) -> float:
        quarter = len(note) // 4
        return float(np.abs(note[-2 * quarter : -quarter]).mean() / np.abs(note[:quarter]).mean())

    assert tail_to_head(sounds._plucked(196.0, 2.0, random.Random(2))) < 0.5
    assert tail_to_head(sounds._bowed(196.0, 2.0, random.Random(2))) > 0.8


def test_a_recording_is_in_the_playable_format() -> None:
    data = recording_file("violin", "ana@example.com")
    probe = media_processing.probe_audio(data, max_bytes=10_000_000, max_seconds=120)
    assert probe.codec == "aac" and abs(probe.duration_seconds - 6.0) < 0.2


async def test_seeded_tutors_get_a_photo_and_a_recording_cached_between_runs(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await seed_demo(sessions, "EUR", tutor_count=3)
    emails = [t.email for t in demo_tutors(3)]
    storage = LocalMediaStorage(tmp_path / "media")
    progress: list[tuple[int, int]] = []
    first = await seed_media(
        sessions, storage, tmp_path / "cache", emails, progress=lambda d, t: progress.append((d, t))
    )
    assert (first.photos, first.recordings, first.cached) == (3, 3, 0)
    assert progress[-1] == (3, 3)
    async with sessions() as session:
        profiles = list(
            await session.scalars(select(TutorProfile).where(TutorProfile.photo_key.is_not(None)))
        )
        samples = list(await session.scalars(select(AudioSample)))
    assert len(profiles) == 3 and len(samples) == 3
    assert all(s.status == "ready" and s.playable_key for s in samples)
    assert all(storage.exists(s.playable_key or "") for s in samples)
    # Tutors who have media keep it; a fresh database reuses the cache instead of drawing.
    again = await seed_media(sessions, storage, tmp_path / "cache", emails)
    assert (again.photos, again.recordings) == (0, 0)
    async with sessions() as session, session.begin():
        for profile in await session.scalars(select(TutorProfile)):
            profile.photo_key = None
            profile.audio_sample = None
    cached = await seed_media(sessions, storage, tmp_path / "cache", emails)
    assert (cached.photos, cached.recordings, cached.generated) == (3, 3, 0)


async def test_many_missing_files_are_drawn_by_a_pool_of_processes_with_the_same_result(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await seed_demo(sessions, "EUR", tutor_count=5)
    emails = [t.email for t in demo_tutors(5)]
    storage = LocalMediaStorage(tmp_path / "media")
    assert 2 * len(emails) >= demo_media.POOL_THRESHOLD  # so the pool draws them
    made = await seed_media(sessions, storage, tmp_path / "cache", emails)
    assert (made.photos, made.recordings, made.generated, made.cached) == (5, 5, 10, 0)
    async with sessions() as session:
        profile = (await session.scalars(select(TutorProfile).limit(1))).one()
    assert profile.photo_key is not None
    drawn_here = demo_media.photo_files(profile.display_name)
    for size, content in drawn_here.items():
        assert storage.path(photo_rendition_key(profile.photo_key, size)).read_bytes() == content
