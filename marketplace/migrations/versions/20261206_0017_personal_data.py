"""personal data: data exports, account deletions; the ledger and audit trail let an account
erasure rewrite their free text (never an amount, a party or a time)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Both tables stay append-only. The one exception is an account erasure, which sets the
# transaction-local flag ``duet.erasure`` and may then rewrite only the free-text columns
# (a ledger memo such as "A lesson with <name>", an audit reason or details naming the person).
LEDGER_FUNCTION = """
CREATE OR REPLACE FUNCTION duet_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('duet.erasure', true) = 'on'
       AND (to_jsonb(NEW) - 'memo') = (to_jsonb(OLD) - 'memo') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger_entries is append-only (% refused)', TG_OP;
END $$
"""
AUDIT_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('duet.erasure', true) = 'on'
       AND (to_jsonb(NEW) - 'reason' - 'details') = (to_jsonb(OLD) - 'reason' - 'details') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""
OLD_LEDGER_FUNCTION = """
CREATE OR REPLACE FUNCTION duet_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only (% refused)', TG_OP;
END $$
"""
OLD_AUDIT_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "data_exports",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("file_key", sa.String(length=200), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'ready', 'failed', 'expired')",
            name=op.f("ck_data_exports_known_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_data_exports_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_exports")),
    )
    op.create_index(
        "uq_data_exports_one_pending",
        "data_exports",
        ["user_id"],
        unique=True,
        postgresql_where="status = 'pending'",
    )
    op.create_index(
        "ix_data_exports_user_created", "data_exports", ["user_id", "created_at"], unique=False
    )
    op.create_table(
        "account_deletions",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "pending_files",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_account_deletions_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_account_deletions")),
    )
    op.execute(LEDGER_FUNCTION)
    op.execute(AUDIT_FUNCTION)


def downgrade() -> None:
    op.execute(OLD_AUDIT_FUNCTION)
    op.execute(OLD_LEDGER_FUNCTION)
    op.drop_table("account_deletions")
    op.drop_index("ix_data_exports_user_created", table_name="data_exports")
    op.drop_index("uq_data_exports_one_pending", table_name="data_exports")
    op.drop_table("data_exports")
