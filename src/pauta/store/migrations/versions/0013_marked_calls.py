"""A task call a user marked SUCCEEDED records who and when: ``task_runs.marked_by`` and
``task_runs.marked_at`` (NULL for calls that ran, and for every call recorded before).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pauta.store.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("task_runs", sa.Column("marked_by", sa.String(255)))
    op.add_column("task_runs", sa.Column("marked_at", UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("marked_at")
        batch.drop_column("marked_by")
