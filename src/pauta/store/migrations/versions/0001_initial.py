"""The initial schema: flows, flow runs, task runs, attempts, metrics and pools.

Revision ID: 0001
Revises:
Create Date: 2026-05-01

Written out in full rather than from ``tables.metadata`` so that later changes to the tables
module never change what this revision creates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pauta.store.types import JSONValue, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

RUN_ID = sa.String(16)
KEY = sa.String(512)
STATE = sa.String(32)


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["flow_run_id"],
        ["flow_runs.id"],
        name=f"fk_{table}_flow_run_id_flow_runs",
        ondelete="CASCADE",
    )


def _result_columns() -> list[sa.Column]:
    return [
        sa.Column("result_uri", sa.Text()),
        sa.Column("result_inline", sa.LargeBinary()),
        sa.Column("result_size", sa.Integer()),
        sa.Column("result_serializer", sa.String(64)),
        sa.Column("result_preview", sa.Text()),
        sa.Column("error", JSONValue()),
    ]


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parameters_schema", JSONValue()),
        sa.Column("schedule", sa.Text()),
        sa.Column("timezone", sa.String(64)),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("source", sa.Text()),
        sa.Column("updated_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("name", name="pk_flows"),
    )

    op.create_table(
        "flow_runs",
        sa.Column("id", RUN_ID, nullable=False),
        sa.Column("flow", sa.String(255), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("params", JSONValue(), nullable=False),
        sa.Column("logical_date", UTCDateTime(), nullable=False),
        sa.Column("interval_start", UTCDateTime(), nullable=False),
        sa.Column("interval_end", UTCDateTime(), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("schedule_key", sa.String(512)),
        sa.Column("parent_run_id", RUN_ID),
        sa.Column("parent_key", KEY),
        sa.Column("code_hash", sa.String(128), nullable=False),
        sa.Column("flow_ref", JSONValue(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("tags", JSONValue(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("driver_host", sa.String(255)),
        sa.Column("driver_pid", sa.Integer()),
        sa.Column("lease_epoch", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("heartbeat_at", UTCDateTime()),
        *_result_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_flow_runs"),
        sa.UniqueConstraint("schedule_key", name="uq_flow_runs_schedule_key"),
    )
    op.create_index("ix_flow_runs_flow_created_at", "flow_runs", ["flow", "created_at"])
    op.create_index("ix_flow_runs_created_at", "flow_runs", ["created_at"])
    op.create_index("ix_flow_runs_state", "flow_runs", ["state"])
    op.create_index("ix_flow_runs_parent_run_id", "flow_runs", ["parent_run_id"])

    op.create_table(
        "task_runs",
        sa.Column("flow_run_id", RUN_ID, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("map_index", sa.Integer()),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("upstream", JSONValue(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("resources", JSONValue(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("child_run_id", RUN_ID),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
        *_result_columns(),
        sa.Column("cache_key", sa.String(255)),
        sa.Column("cached_from", sa.String(600)),
        sa.PrimaryKeyConstraint("flow_run_id", "key", name="pk_task_runs"),
        _run_fk("task_runs"),
    )
    op.create_index("ix_task_runs_flow_run_id_state", "task_runs", ["flow_run_id", "state"])
    cached = sa.text("cache_key IS NOT NULL")
    op.create_index(
        "ix_task_runs_name_cache_key",
        "task_runs",
        ["name", "cache_key"],
        sqlite_where=cached,
        postgresql_where=cached,
    )

    op.create_table(
        "task_attempts",
        sa.Column("flow_run_id", RUN_ID, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("queued_at", UTCDateTime()),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("error", JSONValue()),
        sa.Column("worker", sa.String(255)),
        sa.Column("log_path", sa.Text()),
        sa.PrimaryKeyConstraint("flow_run_id", "key", "attempt", name="pk_task_attempts"),
        _run_fk("task_attempts"),
    )

    op.create_table(
        "metrics",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("flow_run_id", RUN_ID, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("step", sa.Integer()),
        sa.Column("logged_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_metrics"),
        _run_fk("metrics"),
    )
    op.create_index("ix_metrics_flow_run_id", "metrics", ["flow_run_id"])

    op.create_table(
        "pools",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_pools"),
    )


def downgrade() -> None:
    for table in ("metrics", "task_attempts", "task_runs", "flow_runs", "flows", "pools"):
        op.drop_table(table)
