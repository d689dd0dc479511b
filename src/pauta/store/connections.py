"""Rows of the ``connections`` table: sealed bytes in, sealed bytes out.

Sealing and opening (Fernet) is ``pauta.connections``' job; this module never sees a
credential in the clear, only the token and the parts a listing shows without the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pauta.store import db
from pauta.store.tables import connections


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    name: str
    scheme: str
    host: str
    extras: dict[str, str]
    """The extras that are not secret, in the clear."""
    secret_keys: list[str]
    """The names of the secret extras (their values are in ``sealed``)."""
    sealed: bytes
    key_id: str
    created_at: datetime
    updated_at: datetime


class ConnectionRows:
    """The ``connections`` table of one metadata database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = db.writer(engine)

    def put(self, row: ConnectionRow, *, replace: bool) -> bool | None:
        """Write ``row``: True when it was new, False when it replaced one (keeping its
        ``created_at``), None when one exists and ``replace`` is False (nothing written)."""
        c = connections.c
        with self._writer.begin() as conn:
            found = conn.execute(
                sa.select(c.created_at).where(c.name == row.name).with_for_update()
            ).first()
            if found is None:
                conn.execute(sa.insert(connections).values(**_values(row)))
                return True
            if not replace:
                return None
            values = _values(row)
            del values["created_at"]
            conn.execute(sa.update(connections).where(c.name == row.name).values(**values))
            return False

    def get(self, name: str) -> ConnectionRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(connections).where(connections.c.name == name)).first()
        return _record(row) if row is not None else None

    def list(self) -> list[ConnectionRow]:
        """Every row, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(connections).order_by(connections.c.name))
            return [_record(row) for row in rows]

    def delete(self, name: str) -> bool:
        """Remove a row; False when there was none."""
        with self._writer.begin() as conn:
            gone = conn.execute(sa.delete(connections).where(connections.c.name == name))
        return gone.rowcount == 1

    def reseal(self, change: Callable[[ConnectionRow], tuple[bytes, str]]) -> int:
        """Replace every row's sealed bytes and key id with what ``change`` gives for it, in
        one transaction: a failure part way leaves every row as it was. How many changed."""
        c = connections.c
        with self._writer.begin() as conn:
            rows = conn.execute(sa.select(connections).order_by(c.name).with_for_update())
            found = [_record(row) for row in rows]
            for row in found:
                sealed, key_id = change(row)
                conn.execute(
                    sa.update(connections)
                    .where(c.name == row.name)
                    .values(sealed=sealed, key_id=key_id)
                )
        return len(found)


def _values(row: ConnectionRow) -> dict[str, object]:
    return {
        "name": row.name,
        "scheme": row.scheme,
        "host": row.host,
        "extras": row.extras,
        "secret_keys": row.secret_keys,
        "sealed": row.sealed,
        "key_id": row.key_id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _record(row: sa.Row[object]) -> ConnectionRow:
    m = row._mapping
    return ConnectionRow(
        name=m["name"],
        scheme=m["scheme"],
        host=m["host"],
        extras=dict(m["extras"] or {}),
        secret_keys=list(m["secret_keys"] or []),
        sealed=bytes(m["sealed"]),
        key_id=m["key_id"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )
