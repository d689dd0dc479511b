"""Events and triggers: asset updates and finished flow runs, the cursors of the triggers that
consume them, and each flow's ``max_active_runs`` for the workers that claim runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pauta.store.types import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("flow_run_id", sa.String(16)),
        sa.Column("task_key", sa.String(512)),
        sa.Column("state", sa.String(32)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_events_kind_name_created_at", "events", ["kind", "name", "created_at"])
    op.create_table(
        "trigger_cursors",
        sa.Column("flow", sa.String(255), primary_key=True),
        sa.Column("trigger", sa.String(512), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("flows") as batch:
        batch.add_column(sa.Column("max_active_runs", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("flows") as batch:
        batch.drop_column("max_active_runs")
    op.drop_table("trigger_cursors")
    op.drop_index("ix_events_kind_name_created_at", table_name="events")
    op.drop_table("events")
