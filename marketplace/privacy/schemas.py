from __future__ import annotations

from datetime import datetime

import msgspec


class DataExportOut(msgspec.Struct):
    id: int
    status: str
    """``pending`` (being built), ``ready``, ``failed`` or ``expired``."""
    created_at: datetime
    ready_at: datetime | None
    expires_at: datetime | None
    size_bytes: int | None
    download_url: str | None
    """Only while ``ready``; needs the same account."""


class DataExportsOut(msgspec.Struct):
    items: list[DataExportOut]


class BlockerOut(msgspec.Struct):
    code: str
    message: str
    link: str


class DeletionOut(msgspec.Struct):
    status: str
    """``possible``, ``blocked`` (see ``blockers``), ``pending`` (confirmed, being erased) or
    ``erased``."""
    blockers: list[BlockerOut]
    keeps: list[str]
    """What Duet keeps after an erasure, and why."""


class DeletionIn(msgspec.Struct, forbid_unknown_fields=True):
    password: str
