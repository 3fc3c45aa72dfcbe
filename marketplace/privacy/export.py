"""Building a user's data export: ``data.json`` (every registry table's rows that concern them)
plus their files, in one ZIP written to a temporary name and renamed (never half a file)."""

# ruff: noqa: S608 - table names and clauses come from the registry; values are bound.

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
import zipfile
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.privacy.files import OwnedFile, Stores, owned_files
from marketplace.privacy.registry import RULES

FORMAT_VERSION = 1

README = """Your data from Duet
===================

data.json   everything Duet holds about you, one list of rows per table
            (your account, profiles, lessons, payments and ledger lines that concern you,
            reviews you wrote and received, conversations you are in, courses, quizzes,
            certificates, notes, reports you filed, notifications, calendar imports and
            audit entries where you acted or were the subject). Secrets (password and token
            hashes) are never included.
files/      your photo, audio sample, attachments, lesson files and calendar files you
            uploaded, and the recordings of your lessons that still exist.
"""


_AS_IS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    if type(value) in _AS_IS:
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Range):
        return {"lower": _plain(value.lower), "upper": _plain(value.upper)}
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


async def collect(session: AsyncSession, user_id: int) -> dict[str, Any]:
    """The JSON document: for each registry table with an export rule, its rows for the user."""
    params = {"uid": user_id, "uid_text": str(user_id)}
    tables: dict[str, list[dict[str, Any]]] = {}
    for rule in RULES:
        if rule.export is None:
            continue
        result = await session.execute(
            text(f'SELECT * FROM "{rule.table}" WHERE {rule.export} ORDER BY 1'), params
        )
        keys = list(result.keys())
        kept = [(i, key) for i, key in enumerate(keys) if key not in rule.omit]
        rows = [{key: _plain(row[i]) for i, key in kept} for row in result]
        tables[rule.table] = rows
    return {"format": FORMAT_VERSION, "user_id": user_id, "tables": tables}


async def build_zip(session: AsyncSession, stores: Stores, user_id: int, target: Path) -> int:
    """Write the export to ``target``; returns its size in bytes."""
    document = await collect(session, user_id)
    files = await owned_files(session, user_id)
    calendars = await session.execute(
        text(
            "SELECT id, ics_data FROM external_calendars WHERE tutor_id = :uid "
            "AND ics_data IS NOT NULL"
        ),
        {"uid": user_id},
    )
    uploaded = {f"files/calendars/{cid}.ics": bytes(data) for cid, data in calendars}
    return await asyncio.to_thread(_write, stores, document, files, uploaded, target)


def _write(
    stores: Stores,
    document: dict[str, Any],
    files: list[OwnedFile],
    uploaded: dict[str, bytes],
    target: Path,
) -> int:
    document["files"] = []
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README)
        for owned in files:
            path = stores.open(owned.store, owned.key)
            if path is None:
                continue  # removed by retention meanwhile; the row in data.json still says so
            name = "files/" + owned.name.replace("..", "_").lstrip("/")
            archive.write(path, name)
            document["files"].append(name)
        for name, data in uploaded.items():  # calendar files a tutor uploaded (kept in a column)
            archive.writestr(name, data)
            document["files"].append(name)
        archive.writestr(
            "data.json", json.dumps(document, ensure_ascii=False, indent=2, default=str)
        )
    os.replace(partial, target)
    return target.stat().st_size
