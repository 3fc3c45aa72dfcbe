"""``duet backup`` and ``duet restore``: the database and the media folders in one archive.

The archive is a plain tar (the dump is compressed by ``pg_dump`` itself; photos, audio and
video are compressed already). Members:

- ``database.dump``: ``pg_dump --format=custom`` of the whole database;
- ``media/…`` (``MEDIA_ROOT``: photos, audio samples, course media, lesson files),
  ``private-media/…`` (``PRIVATE_MEDIA_ROOT``: message attachments), ``recordings/…``
  (``RECORDINGS_ROOT``);
- ``var/secret_key`` and ``var/certificate_signing_key`` on the embedded default (the keys
  ``duet run`` generated: without the second, issued certificates no longer verify);
- ``manifest.json``, written last: format, Duet version, Alembic revision, PostgreSQL version,
  creation time, and the size and SHA-256 of every other member.

The dump is one consistent snapshot; media are copied after it, so a file uploaded meanwhile may
be in the archive without its row (harmless), and a row's file is there unless it was deleted
meanwhile. The client tools must have the server's major version: a dump is read only by a
``pg_restore`` at least as new as the ``pg_dump`` that wrote it, and keeping them equal means a
restore never depends on which client happened to be on the path.
"""

from marketplace.backup.manifest import BackupError, Manifest
from marketplace.backup.postgres import find_tool
from marketplace.backup.service import (
    check_revision,
    create_backup,
    describe,
    read_manifest,
    restore_backup,
    verify,
)

__all__ = [
    "BackupError",
    "Manifest",
    "check_revision",
    "create_backup",
    "describe",
    "find_tool",
    "read_manifest",
    "restore_backup",
    "verify",
]
