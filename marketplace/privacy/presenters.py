from __future__ import annotations

from marketplace.privacy.blockers import Blocker
from marketplace.privacy.models import AccountDeletion, DataExport
from marketplace.privacy.registry import RULES
from marketplace.privacy.schemas import BlockerOut, DataExportOut, DeletionOut

KEPT = [f"{rule.table.replace('_', ' ')}: {rule.keeps}" for rule in RULES if rule.keeps]
"""What an erasure keeps, table by table, in the registry's words."""


def download_url(row: DataExport) -> str:
    return f"/api/v1/me/data-exports/{row.id}/download"


def export_out(row: DataExport) -> DataExportOut:
    return DataExportOut(
        id=row.id,
        status=row.status,
        created_at=row.created_at,
        ready_at=row.ready_at,
        expires_at=row.expires_at,
        size_bytes=row.size_bytes,
        download_url=download_url(row) if row.status == "ready" else None,
    )


def deletion_out(deletion: AccountDeletion | None, blockers: list[Blocker]) -> DeletionOut:
    if deletion is not None:
        status = "erased" if deletion.erased_at else "pending"
    else:
        status = "blocked" if blockers else "possible"
    return DeletionOut(
        status=status,
        blockers=[BlockerOut(b.code, b.message, b.link) for b in blockers],
        keeps=KEPT,
    )
