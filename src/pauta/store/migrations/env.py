"""Alembic environment for pauta's metadata schema.

pauta runs Alembic from code (``pauta.store.migrations``) and hands this script an open
connection already inside a write transaction, so that the whole upgrade commits or rolls back
as one. Without one, it opens the ``sqlalchemy.url`` of the config.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from pauta.core.errors import StoreError
from pauta.store.db import create_engine
from pauta.store.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise StoreError("pauta's migrations run online only (pauta db upgrade)")

_connection = config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:
    _engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with _engine.begin() as _conn:
            _run(_conn)
    finally:
        _engine.dispose()
