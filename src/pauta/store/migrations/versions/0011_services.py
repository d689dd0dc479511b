"""Long-running services: their revisions, the supervisor's status of each, its lease.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pauta.store.types import JSONValue, UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_services"),
        sa.UniqueConstraint("port", name="uq_services_port"),
    )
    op.create_table(
        "service_revisions",
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("spec", JSONValue(), nullable=False),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ready_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service"],
            ["services.name"],
            name="fk_service_revisions_service_services",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service", "revision", name="pk_service_revisions"),
    )
    op.create_index("ix_service_revisions_state", "service_revisions", ["state"])
    op.create_table(
        "service_status",
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("supervisor", sa.String(255), nullable=False),
        sa.Column("status", JSONValue(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service"],
            ["services.name"],
            name="fk_service_status_service_services",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service", name="pk_service_status"),
    )
    op.create_table(
        "service_supervisors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("address_host", sa.String(255), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_service_supervisors"),
    )


def downgrade() -> None:
    op.drop_table("service_supervisors")
    op.drop_table("service_status")
    op.drop_index("ix_service_revisions_state", table_name="service_revisions")
    op.drop_table("service_revisions")
    op.drop_table("services")
