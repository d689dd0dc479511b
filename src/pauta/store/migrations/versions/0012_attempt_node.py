"""Each attempt records the node it ran on: ``task_attempts.node`` (this host's name, or the id
of the Ray node that ran it), NULL for attempts recorded before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("task_attempts", sa.Column("node", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("task_attempts") as batch:
        batch.drop_column("node")
