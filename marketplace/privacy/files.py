"""Where a user's files live: the public media root, the private one, the recordings root."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.media import LocalMediaStorage, MediaStorage
from marketplace.settings import Settings


@dataclass(frozen=True)
class Stores:
    media: MediaStorage
    """``MEDIA_ROOT``: photos, audio samples, lesson files."""
    private: MediaStorage
    """``PRIVATE_MEDIA_ROOT``: attachments and data exports."""
    recordings: Path
    """``RECORDINGS_ROOT``: one folder per recording."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Stores:
        return cls(
            media=LocalMediaStorage(settings.media.root),
            private=LocalMediaStorage(settings.messaging.private_root, url_prefix=""),
            recordings=settings.video.recordings_root,
        )

    def open(self, store: str, key: str) -> Path | None:
        """The file's path, or None when it is not there (deleted by retention, never made)."""
        if store == "recording":
            path = (self.recordings / key).resolve()
            if not path.is_relative_to(self.recordings.resolve()):
                return None
            return path if path.is_file() else None
        for name in ("media", "private") if store == "any" else (store,):
            storage = self.media if name == "media" else self.private
            if storage.exists(key):
                return storage.path(key)
        return None

    def delete(self, store: str, key: str) -> None:
        if store == "recording":
            folder = (self.recordings / key).resolve()
            if folder.is_relative_to(self.recordings.resolve()) and folder != self.recordings:
                shutil.rmtree(folder, ignore_errors=True)
            return
        (self.media if store == "media" else self.private).delete(key)


@dataclass(frozen=True)
class OwnedFile:
    store: str
    """``media``, ``private``, ``any`` (either root) or ``recording``."""
    key: str
    name: str
    """Its path inside the export ZIP."""


PHOTO_SIZES = ("large", "medium", "small")

_FILES_SQL = """
SELECT 'media', photo_key, 'photo' FROM tutor_profiles WHERE user_id = :uid
    AND photo_key IS NOT NULL
UNION ALL
SELECT 'media', changes->>'photo_key', 'photo-pending' FROM pending_profile_changes
    WHERE tutor_id = :uid AND changes->>'photo_key' IS NOT NULL
UNION ALL
SELECT 'media', original_key, 'audio-sample/' || coalesce(nullif(original_filename, ''), 'original')
    FROM audio_samples WHERE tutor_id = :uid
UNION ALL
SELECT 'media', playable_key, 'audio-sample/playable.m4a' FROM audio_samples
    WHERE tutor_id = :uid AND playable_key IS NOT NULL
UNION ALL
SELECT 'private', storage_key, 'attachments/' || id || '-' || filename FROM attachments
    WHERE owner_id = :uid
UNION ALL
SELECT 'any', key, 'lesson-files/' || id || '-' || filename FROM lesson_files
    WHERE uploaded_by = :uid
UNION ALL
SELECT 'recording', r.file_key, 'recordings/lesson-' || r.booking_id || '.webm'
    FROM recordings r JOIN bookings b ON b.id = r.booking_id
    WHERE (b.student_id = :uid OR b.tutor_id = :uid) AND r.file_key IS NOT NULL
"""


async def owned_files(session: AsyncSession, user_id: int) -> list[OwnedFile]:
    """The user's files: photo, audio sample, attachments and lesson files they uploaded, and
    the recordings of their lessons."""
    rows = await session.execute(text(_FILES_SQL), {"uid": user_id})
    found: list[OwnedFile] = []
    for store, key, name in rows:
        if name.startswith("photo"):
            found.append(OwnedFile(store, f"{key}-large.webp", f"{name}.webp"))
        else:
            found.append(OwnedFile(store, key, name))
    return found


async def files_to_delete(session: AsyncSession, user_id: int) -> list[list[str]]:
    """Every file the erasure removes, as [store, key] (JSON-safe for ``pending_files``)."""
    doomed: list[list[str]] = []
    for owned in await owned_files(session, user_id):
        if owned.name.startswith("photo"):
            base = owned.key.removesuffix("-large.webp")
            doomed.extend(["media", f"{base}-{size}.webp"] for size in PHOTO_SIZES)
        elif owned.store == "any":
            doomed.extend([["media", owned.key], ["private", owned.key]])
        elif owned.store != "recording":
            doomed.append([owned.store, owned.key])
    recordings = await session.scalars(
        text(
            "SELECT r.id FROM recordings r JOIN bookings b ON b.id = r.booking_id "
            "WHERE b.student_id = :uid OR b.tutor_id = :uid"
        ),
        {"uid": user_id},
    )
    doomed.extend(["recording", str(rid)] for rid in recordings)
    exports = await session.scalars(
        text("SELECT file_key FROM data_exports WHERE user_id = :uid AND file_key IS NOT NULL"),
        {"uid": user_id},
    )
    doomed.extend(["private", key] for key in exports)
    return doomed
