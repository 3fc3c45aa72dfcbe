"""Where uploaded and generated media files live.

``LocalMediaStorage`` keeps files under ``MEDIA_ROOT`` and the web app serves them at ``/media``.
Keys are relative paths made by the code, never by the client. A production deployment with
several web hosts mounts one shared volume there (see docs/deploy.md).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Protocol


class MediaStorage(Protocol):
    def save(self, key: str, data: bytes) -> None: ...
    def read(self, key: str) -> bytes: ...
    def path(self, key: str) -> Path: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def url(self, key: str) -> str: ...


def new_key(prefix: str, suffix: str) -> str:
    """A fresh unguessable key such as ``photos/ab/abcdef…-320.webp``."""
    token = secrets.token_hex(16)
    return f"{prefix}/{token[:2]}/{token}{suffix}"


class LocalMediaStorage:
    def __init__(self, root: Path, url_prefix: str = "/media") -> None:
        self.root = root.resolve()
        self.url_prefix = url_prefix.rstrip("/")

    def path(self, key: str) -> Path:
        candidate = (self.root / key).resolve()
        if not candidate.is_relative_to(self.root):
            raise ValueError(f"media key escapes the media root: {key!r}")
        return candidate

    def save(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file.
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(data)
        os.replace(partial, target)

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def url(self, key: str) -> str:
        return f"{self.url_prefix}/{key}"
