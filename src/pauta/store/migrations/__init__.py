"""Alembic migrations of the metadata schema, run from code: no ``alembic.ini`` on disk.

Stores migrate themselves on first use (``pauta.store.db.ensure_schema``); ``pauta db upgrade``
calls :func:`upgrade` to do it explicitly, for example before starting several servers.
Developers add a migration with :func:`new_revision` and then bump ``HEAD`` in
``pauta.store.db``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from pauta.core.errors import StoreError
from pauta.store import db

HERE = Path(__file__).resolve().parent


def config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic config pointing at these migrations, for a connection or a URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url is not None:
        # ConfigParser treats % as interpolation; URL-encoded passwords contain it.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision among the migration scripts."""
    newest = ScriptDirectory.from_config(config()).get_current_head()
    if newest is None:
        raise StoreError(f"no migration scripts found in {HERE / 'versions'}")
    return newest


def run(connection: Connection) -> None:
    """Upgrade the database of ``connection`` to the newest revision, in its transaction.

    The caller owns the transaction (and any lock): nothing is committed here.
    """
    current = db.current_revision(connection)
    script = ScriptDirectory.from_config(config())
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError as exc:
            raise StoreError(
                f"the database is at schema revision {current!r}, which this version of pauta "
                f"does not know (newest known: {db.HEAD!r}); it was probably upgraded by a "
                "newer pauta. Upgrade pauta, or point PAUTA_DATABASE_URL at another database."
            ) from exc
    command.upgrade(config(connection=connection), "head")


def upgrade(url: str, *, sqlite_synchronous: str = "NORMAL") -> str:
    """Bring the database at ``url`` to the newest schema; idempotent. Returns the revision."""
    engine = db.create_engine(url, sqlite_synchronous=sqlite_synchronous)
    try:
        db.ensure_schema(engine)
        with engine.connect() as conn:
            revision = db.current_revision(conn)
    finally:
        engine.dispose()
    return revision or ""


def new_revision(url: str, message: str) -> None:
    """Write a new migration script from the difference between ``url``'s schema and the tables.

    ``url`` should be a scratch database already at the current head. Review the generated
    file: autogenerate misses some changes (see Alembic's documentation).
    """
    command.revision(config(url=url), message=message, autogenerate=True)
