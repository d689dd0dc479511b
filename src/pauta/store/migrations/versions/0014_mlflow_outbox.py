"""The MLflow mirror: ``mlflow_outbox`` (what is still to be sent) and ``mlflow_runs`` (the
MLflow run of each flow run and task call).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pauta.store.types import JSONValue, UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "mlflow_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "flow_run_id",
            sa.String(16),
            sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", JSONValue(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_mlflow_outbox_flow_run_id", "mlflow_outbox", ["flow_run_id"])
    op.create_table(
        "mlflow_runs",
        sa.Column(
            "flow_run_id",
            sa.String(16),
            sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("mlflow_run_id", sa.String(64), nullable=False),
        sa.Column("experiment_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mlflow_runs")
    op.drop_index("ix_mlflow_outbox_flow_run_id", "mlflow_outbox")
    op.drop_table("mlflow_outbox")
