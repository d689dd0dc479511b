"""Connections: named places with credentials, sealed with a Fernet key.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pauta.store.types import JSONValue, UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("scheme", sa.String(64), nullable=False),
        sa.Column("host", sa.String(512), nullable=False),
        sa.Column("extras", JSONValue(), nullable=False),
        sa.Column("secret_keys", JSONValue(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_connections"),
    )


def downgrade() -> None:
    op.drop_table("connections")
