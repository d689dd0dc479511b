"""Connections in the metadata store, sealed with the keys of ``pauta.connections.keys``.

Each row keeps its whole URL and its secret extras in one Fernet token; the scheme, the host,
the plain extras and the secret extras' names stay in the clear for listings. Deleting needs
no key, so a connection sealed with a lost key can still be removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from pauta.connections import keys as keyring
from pauta.connections.errors import (
    ConnectionExistsError,
    SecretKeyError,
    UnknownConnectionError,
)
from pauta.connections.rules import check_name, check_url, scheme_of, split_extras
from pauta.connections.urls import host_of
from pauta.connections.value import Connection
from pauta.core.clock import Clock
from pauta.store.connections import ConnectionRow, ConnectionRows

HOST_COLUMN = 512


@dataclass(frozen=True, slots=True)
class StoredConnection:
    connection: Connection
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RotatedKeys:
    resealed: int
    """How many connections were sealed again with the new first key."""
    key_id: str
    where: str


class ConnectionRegistry:
    """The stored connections of one metadata database, sealed with the keys of ``home``."""

    def __init__(self, engine: Engine, home: Path | str, clock: Clock) -> None:
        self.rows = ConnectionRows(engine)
        self.home = Path(home)
        self.clock = clock

    def add(
        self,
        name: str,
        url: str,
        extras: dict[str, Any] | None = None,
        secret_extras: dict[str, Any] | None = None,
        *,
        replace: bool = False,
    ) -> tuple[Connection, bool]:
        """Store a connection; (it, whether it is new). ConnectionExistsError when the name is
        taken and ``replace`` is False. The key file is created when there is no key yet."""
        name, url = check_name(name), check_url(url)
        plain, hidden = split_extras(extras, secret_extras)
        keys = keyring.load(self.home, create=True)
        assert keys is not None
        sealed, key_id = keys.seal(json.dumps({"url": url, "secret_extras": hidden}).encode())
        now = self.clock.now()
        row = ConnectionRow(
            name=name,
            scheme=scheme_of(url),
            host=host_of(url)[:HOST_COLUMN],
            extras=plain,
            secret_keys=sorted(hidden),
            sealed=sealed,
            key_id=key_id,
            created_at=now,
            updated_at=now,
        )
        created = self.rows.put(row, replace=replace)
        if created is None:
            raise ConnectionExistsError(
                f"a connection named {name!r} exists already; replace it with --force (PUT in "
                f"the API), or delete it first"
            )
        return Connection(name, url, {**plain, **hidden}, frozenset(hidden)), created

    def get(self, name: str) -> Connection | None:
        row = self.rows.get(name)
        return self._open(row, self._keys(f"connection {name!r}")) if row is not None else None

    def list(self) -> list[StoredConnection]:
        """Every stored connection, by name, opened (SecretKeyError when one does not open)."""
        rows = self.rows.list()
        if not rows:
            return []
        keys = self._keys(f"connection {rows[0].name!r}")
        return [StoredConnection(self._open(r, keys), r.created_at, r.updated_at) for r in rows]

    def delete(self, name: str) -> None:
        if not self.rows.delete(name):
            raise UnknownConnectionError(f"no connection named {name!r} is stored")

    def rotate(self) -> RotatedKeys:
        """Seal every connection again with a new first key.

        With ``PAUTA_SECRET_KEY`` the new key is its first one (put it before the old ones;
        drop the old ones afterwards). With the key file a key is made here: the file gets the
        new key before the old ones, every row is resealed in one transaction, and then the
        file keeps the new key only; a failure at any step leaves every connection readable.
        """
        if keyring.keys_from_env():
            keys = self._keys("the connections")
            count = self.rows.reseal(lambda row: keys.seal(self._payload(row, keys)))
            return RotatedKeys(count, keys.ids[0], keys.where)
        old = keyring.load(self.home)
        if old is None and self.rows.list():
            raise keyring.missing_key(self.home, "the connections")
        fresh = keyring.new_key()
        previous = [k.decode("ascii") for k in old.keys] if old is not None else []
        keyring.write_key_file(self.home, [fresh, *previous])
        both = self._keys("the connections")
        count = self.rows.reseal(lambda row: both.seal(self._payload(row, both)))
        path = keyring.write_key_file(self.home, [fresh])
        return RotatedKeys(count, both.ids[0], f"the key file {path}")

    def _keys(self, what: str) -> keyring.Keys:
        found = keyring.load(self.home)
        if found is None:
            raise keyring.missing_key(self.home, what)
        return found

    @staticmethod
    def _payload(row: ConnectionRow, keys: keyring.Keys) -> bytes:
        return keys.open(row.sealed, row.key_id, f"connection {row.name!r}")

    def _open(self, row: ConnectionRow, keys: keyring.Keys) -> Connection:
        try:
            data = json.loads(self._payload(row, keys))
            url, hidden = str(data["url"]), dict(data["secret_extras"])
        except (ValueError, KeyError, TypeError):
            raise SecretKeyError(
                f"connection {row.name!r} opened but does not hold a connection; add it again "
                "with --force"
            ) from None
        return Connection(row.name, url, {**row.extras, **hidden}, frozenset(hidden))
