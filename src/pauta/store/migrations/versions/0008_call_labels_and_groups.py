"""Task calls may carry a label (``@task(label="train[{kind}]")``): ``task_runs.label``, NULL
for a call shown by its key; and the path of the task group they were called in
(``with group("train"):``): ``task_runs.task_group``, NULL outside any group; and whether a
call is a teardown call: ``task_runs.teardown``. Runs queued by ``trigger_flow`` name the run
and call that queued them: ``flow_runs.triggered_by`` and ``flow_runs.triggered_by_key``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("flow_runs", sa.Column("triggered_by", sa.String(16)))
    op.add_column("flow_runs", sa.Column("triggered_by_key", sa.String(512)))
    op.add_column("task_runs", sa.Column("label", sa.String(512)))
    op.add_column("task_runs", sa.Column("task_group", sa.String(512)))
    op.add_column(
        "task_runs",
        sa.Column("teardown", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_column("triggered_by")
        batch.drop_column("triggered_by_key")
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("label")
        batch.drop_column("task_group")
        batch.drop_column("teardown")
