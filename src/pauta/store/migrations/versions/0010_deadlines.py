"""Flow deadlines: ``flow_runs.deadline_at`` and ``deadline_cancel``, and ``deadline_misses``
(one row per run that missed its deadline, so a miss is reported once).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pauta.store.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("deadline_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("deadline_cancel", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_flow_runs_state_deadline_at", ["state", "deadline_at"])
    op.create_table(
        "deadline_misses",
        sa.Column(
            "flow_run_id",
            sa.String(16),
            sa.ForeignKey(
                "flow_runs.id",
                ondelete="CASCADE",
                name="fk_deadline_misses_flow_run_id_flow_runs",
            ),
            nullable=False,
        ),
        sa.Column("flow", sa.String(255), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("missed_at", UTCDateTime(), nullable=False),
        sa.Column("seen_by", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("flow_run_id", name="pk_deadline_misses"),
    )
    op.create_index("ix_deadline_misses_flow_missed_at", "deadline_misses", ["flow", "missed_at"])


def downgrade() -> None:
    op.drop_index("ix_deadline_misses_flow_missed_at", table_name="deadline_misses")
    op.drop_table("deadline_misses")
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_index("ix_flow_runs_state_deadline_at")
        batch.drop_column("deadline_cancel")
        batch.drop_column("deadline_at")
