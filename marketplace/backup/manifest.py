"""The archive's manifest: what the backup holds and the checksum of every member."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

FORMAT = "duet-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why and what to do."""


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    duet_version: str
    schema_revision: str
    postgres_version: str
    postgres_major: int
    created_at: str
    embedded: bool
    files: list[FileEntry] = field(default_factory=list)

    def to_json(self) -> bytes:
        body = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "duet_version": self.duet_version,
            "schema_revision": self.schema_revision,
            "postgres_version": self.postgres_version,
            "postgres_major": self.postgres_major,
            "created_at": self.created_at,
            "embedded": self.embedded,
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        return json.dumps(body, indent=2).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw)
            if body.get("format") != FORMAT:
                raise ValueError("not a Duet backup manifest")
            if body.get("format_version") != FORMAT_VERSION:
                raise BackupError(
                    f"This backup has format version {body.get('format_version')}; this Duet "
                    f"reads version {FORMAT_VERSION}. Restore it with the Duet that made it."
                )
            return cls(
                duet_version=str(body["duet_version"]),
                schema_revision=str(body["schema_revision"]),
                postgres_version=str(body["postgres_version"]),
                postgres_major=int(body["postgres_major"]),
                created_at=str(body["created_at"]),
                embedded=bool(body["embedded"]),
                files=[
                    FileEntry(str(f["name"]), int(f["size"]), str(f["sha256"]))
                    for f in body["files"]
                ],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"The backup's manifest is damaged ({exc}).") from None
