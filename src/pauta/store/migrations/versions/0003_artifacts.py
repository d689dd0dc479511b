"""Artifacts: files and objects a task keeps with its run (``context().log_artifact``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pauta.store.types import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("flow_run_id", sa.String(16), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("uri", sa.Text()),
        sa.Column("size", sa.BigInteger()),
        sa.Column("serializer", sa.String(64)),
        sa.Column("preview", sa.Text()),
        sa.Column("logged_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["flow_run_id"], ["flow_runs.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_artifacts_flow_run_id", "artifacts", ["flow_run_id"])


def downgrade() -> None:
    op.drop_index("ix_artifacts_flow_run_id", table_name="artifacts")
    op.drop_table("artifacts")
