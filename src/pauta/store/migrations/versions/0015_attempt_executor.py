"""Each attempt records the executor it ran with: ``task_attempts.executor`` (local, inline,
sensor, venv, container, ray, or a plugin's name), NULL for attempts recorded before.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("task_attempts", sa.Column("executor", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("task_attempts") as batch:
        batch.drop_column("executor")
