"""course discussions: threads, posts and their attachments

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A thread's opening post is its first post (one per thread: a partial unique index).
    op.create_table(
        "discussion_threads",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("course_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=140), nullable=False),
        sa.Column("pinned", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("locked", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("reply_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("answer_post_id", sa.BigInteger(), nullable=True),
        sa.Column("tutor_replied", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "last_post_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_author_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("char_length(title) > 0", name=op.f("ck_discussion_threads_titled")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_discussion_threads_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_discussion_threads_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discussion_threads")),
    )
    op.create_index(
        "ix_discussion_threads_course",
        "discussion_threads",
        ["course_id", "pinned", "last_post_at"],
        unique=False,
    )
    op.create_table(
        "discussion_posts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("first", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("by_tutor", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("has_attachments", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_by", sa.BigInteger(), nullable=True),
        sa.Column("hidden_reason", sa.String(length=300), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "char_length(body) > 0 OR has_attachments", name=op.f("ck_discussion_posts_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_discussion_posts_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hidden_by"],
            ["users.id"],
            name=op.f("fk_discussion_posts_hidden_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["discussion_threads.id"],
            name=op.f("fk_discussion_posts_thread_id_discussion_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discussion_posts")),
    )
    op.create_index(
        "ix_discussion_posts_thread", "discussion_posts", ["thread_id", "id"], unique=False
    )
    op.create_index(
        "uq_discussion_posts_first",
        "discussion_posts",
        ["thread_id"],
        unique=True,
        postgresql_where=sa.text("first"),
    )
    op.create_table(
        "discussion_post_attachments",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("attachment_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_discussion_post_attachments_attachment_id_attachments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["discussion_posts.id"],
            name=op.f("fk_discussion_post_attachments_post_id_discussion_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "post_id", "attachment_id", name=op.f("pk_discussion_post_attachments")
        ),
        sa.UniqueConstraint(
            "attachment_id", name=op.f("uq_discussion_post_attachments_attachment_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("discussion_post_attachments")
    op.drop_index(
        "uq_discussion_posts_first",
        table_name="discussion_posts",
        postgresql_where=sa.text("first"),
    )
    op.drop_index("ix_discussion_posts_thread", table_name="discussion_posts")
    op.drop_table("discussion_posts")
    op.drop_index("ix_discussion_threads_course", table_name="discussion_threads")
    op.drop_table("discussion_threads")
