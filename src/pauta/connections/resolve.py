"""``connection(name)``: the environment first (``PAUTA_CONN_<NAME>``), else the store.

``PAUTA_CONN_WAREHOUSE=postgresql://etl:pw@db/warehouse`` overrides a stored connection
``warehouse``; for extras the variable holds JSON instead:
``{"url": "s3://lake", "extras": {"endpoint_url": "http://minio:9000"},
"secret_extras": {"secret": "..."}}``. A resolved connection's secrets are registered for
masking in this process (``pauta.connections.masking``).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pauta.connections.errors import InvalidConnectionError, UnknownConnectionError
from pauta.connections.masking import PREFIX, reveal
from pauta.connections.rules import check_name, check_url, env_var, split_extras
from pauta.connections.value import Connection
from pauta.core.errors import PautaError
from pauta.core.secrets import reveal_secrets, revealed_names

if TYPE_CHECKING:
    from pauta.connections.registry import ConnectionRegistry

_defaults: dict[tuple[str, str], ConnectionRegistry] = {}
_defaults_lock = threading.Lock()


def connection(name: str, *, store: Any = None, home: Path | str | None = None) -> Connection:
    """The connection ``name``: from ``PAUTA_CONN_<NAME>`` when that is set (name upper-cased,
    ``-`` and ``.`` as ``_``), else from the metadata store.

    ``store`` is a ``pauta.store.repository.Store`` to read (default: the one the pauta
    settings name); ``home`` is the pauta home whose key file opens it (default: the pauta
    home). The connection's password and secret extras are masked as ``***`` in this
    process's task logs, result previews and errors from now on. Raises
    ``UnknownConnectionError`` when neither place has it.
    """
    check_name(name)
    found = from_environment(name)
    if found is None:
        found = registry(store, home).get(name)
    if found is None:
        raise UnknownConnectionError(
            f"no connection named {name!r}: {env_var(name)} is not set and the metadata store "
            f"has none. Add it with `pauta connections add {name} URL`, or set {env_var(name)}."
        )
    reveal(found)
    return found


def reveal_connections(names: Iterable[str]) -> None:
    """Resolve (and so mask) the connections another process reported resolving (the names
    ``revealed_names`` gives there); one that cannot be resolved here is skipped: this
    process cannot leak a value it never had."""
    known = set(revealed_names())
    for name in names:
        if name.startswith(PREFIX) and name not in known:
            try:
                connection(name[len(PREFIX) :])
            except PautaError:
                continue


def reveal_reported(names: Iterable[str]) -> None:
    """Mask here what another process reported reading (its ``revealed_names``): the secrets
    (``reveal_secrets``) and the connections (``reveal_connections``)."""
    names = list(names)
    reveal_secrets(names)
    reveal_connections(names)


def from_environment(name: str) -> Connection | None:
    """The connection ``PAUTA_CONN_<NAME>`` gives, or None when it is unset or empty."""
    variable = env_var(name)
    value = os.environ.get(variable, "").strip()
    return parse_environment(name, variable, value) if value else None


def parse_environment(name: str, variable: str, value: str) -> Connection:
    """The connection a ``PAUTA_CONN_`` variable holds: a URL, or JSON with ``url``,
    ``extras`` and ``secret_extras``. Errors never show the value."""
    extras: Any = None
    secrets: Any = None
    url: Any = value
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            raise InvalidConnectionError(
                f"{variable} starts with '{{' but is not a JSON object with a \"url\" string "
                '(and optional "extras" and "secret_extras" objects of strings)'
            )
        url, extras, secrets = data["url"], data.get("extras"), data.get("secret_extras")
        if any(part is not None and not isinstance(part, dict) for part in (extras, secrets)):
            raise InvalidConnectionError(
                f'{variable}: "extras" and "secret_extras" must be JSON objects of strings'
            )
    try:
        url = check_url(url)
        plain, hidden = split_extras(extras, secrets)
    except InvalidConnectionError as exc:
        raise InvalidConnectionError(f"{variable}: {exc}") from None
    return Connection(name, url, {**plain, **hidden}, frozenset(hidden), "environment")


def registry(store: Any = None, home: Path | str | None = None) -> ConnectionRegistry:
    """The stored connections of ``store`` (default: the settings' store, opened once per
    process), sealed with the keys of ``home`` (default: the pauta home)."""
    # Imported here: the store and the keys bring SQLAlchemy and cryptography, which a
    # connection from the environment, and a flow file importing `connection`, never need.
    from pauta.connections.registry import ConnectionRegistry
    from pauta.core.settings import find_home

    if store is not None:
        return ConnectionRegistry(store.engine, home or find_home(), store.clock)
    from pauta.core.clock import get_clock
    from pauta.core.settings import Settings
    from pauta.store import db

    settings = Settings.from_env()
    key = (settings.database_url, str(home or settings.home))
    with _defaults_lock:
        found = _defaults.get(key)
        if found is None:
            if settings.database_url.startswith("sqlite"):
                settings.ensure_home()
            engine = db.create_engine(
                settings.database_url, sqlite_synchronous=settings.sqlite_synchronous
            )
            db.ensure_schema(engine)
            found = ConnectionRegistry(engine, home or settings.home, get_clock())
            _defaults[key] = found
    return found
