"""Connections below any interface: `pauta connections`, the API and the UI call these.

Every view is masked (``Connection.masked``): the password, the secret query parameters and
the secret extras are ``***``. A view says where the connection resolves from (``source``:
"environment" when ``PAUTA_CONN_<NAME>`` overrides the store, else "store") and whether the
store holds it (``stored``), and whether that variable hides the stored one (``overridden``).
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any

from pauta.connections import Connection, UnknownConnectionError, connection
from pauta.connections.probe import probe
from pauta.connections.registry import ConnectionRegistry, StoredConnection
from pauta.connections.resolve import from_environment
from pauta.connections.rules import ENV_PREFIX, check_name, env_var
from pauta.core.errors import PautaError
from pauta.store.repository import Store

_registries: weakref.WeakKeyDictionary[Store, dict[str, ConnectionRegistry]] = (
    weakref.WeakKeyDictionary()
)


def registry_of(store: Store, home: Path | str) -> ConnectionRegistry:
    """The connections of ``store``, sealed with the keys of the pauta home ``home``."""
    by_home = _registries.setdefault(store, {})
    found = by_home.get(str(home))
    if found is None:
        found = by_home[str(home)] = ConnectionRegistry(store.engine, home, store.clock)
    return found


def view(conn: Connection, stored: StoredConnection | None) -> dict[str, Any]:
    """What a listing shows of ``conn``, masked; ``stored`` gives the dates."""
    variable = env_var(conn.name)
    return {
        **conn.masked(),
        "env_var": variable,
        "stored": stored is not None,
        # the stored one is not what code gets: the environment variable wins
        "overridden": stored is not None and bool(os.environ.get(variable, "").strip()),
        "created_at": stored.created_at.isoformat() if stored else None,
        "updated_at": stored.updated_at.isoformat() if stored else None,
    }


def add_connection(
    store: Store,
    home: Path | str,
    name: str,
    url: str,
    *,
    extras: dict[str, Any] | None = None,
    secret_extras: dict[str, Any] | None = None,
    replace: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Store a connection, sealed; (its view, whether it is new)."""
    _, created = registry_of(store, home).add(name, url, extras, secret_extras, replace=replace)
    return show_connection(store, home, name, prefer_store=True), created


def list_connections(store: Store, home: Path | str) -> list[dict[str, Any]]:
    """Every connection, by name: the stored ones, and those only the environment gives
    (``PAUTA_CONN_<NAME>`` named by the variable's suffix, lower-cased)."""
    views: dict[str, dict[str, Any]] = {}
    for stored in registry_of(store, home).list():
        name = stored.connection.name
        views[name] = view(from_environment(name) or stored.connection, stored)
    taken = {env_var(name) for name in views}
    for variable in sorted(os.environ):
        if not variable.startswith(ENV_PREFIX) or variable in taken:
            continue
        name = variable[len(ENV_PREFIX) :].lower()
        try:
            check_name(name)
            found = from_environment(name)
        except PautaError:
            continue  # not a connection pauta could resolve by any name
        if found is not None and env_var(name) == variable:
            views[name] = view(found, None)
    return [views[name] for name in sorted(views)]


def show_connection(
    store: Store, home: Path | str, name: str, *, prefer_store: bool = False
) -> dict[str, Any]:
    """The connection ``name`` resolves to (the environment first), masked."""
    check_name(name)
    registry = registry_of(store, home)
    row = registry.rows.get(name)
    stored = None
    if row is not None:
        found = registry.get(name)
        assert found is not None
        stored = StoredConnection(found, row.created_at, row.updated_at)
    conn = None if prefer_store else from_environment(name)
    conn = conn or (stored.connection if stored else None)
    if conn is None:
        raise UnknownConnectionError(
            f"no connection named {name!r}: {env_var(name)} is not set and the store has none"
        )
    return view(conn, stored)


def test_connection(store: Store, home: Path | str, name: str) -> dict[str, Any]:
    """Try to reach connection ``name`` (as ``connection(name)`` resolves it): ``name``,
    ``kind`` (sql, http, filesystem), ``ok`` and ``message`` (what was reached, or why not)."""
    conn = connection(name, store=store, home=home)
    return {**probe(conn).to_json(), "source": conn.source}


def delete_connection(store: Store, home: Path | str, name: str) -> None:
    """Remove a stored connection (no key needed); an environment override stays."""
    check_name(name)
    registry_of(store, home).delete(name)


def rotate_key(store: Store, home: Path | str) -> dict[str, Any]:
    """Seal every stored connection with a new first key: ``resealed`` (how many),
    ``key_id`` (the new key's id), ``where`` (PAUTA_SECRET_KEY or the key file)."""
    rotated = registry_of(store, home).rotate()
    return {"resealed": rotated.resealed, "key_id": rotated.key_id, "where": rotated.where}
