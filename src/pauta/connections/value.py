"""``Connection``: a named place with credentials, as code uses it.

``url`` and ``extras`` are the real values (code needs them to connect); ``repr``, ``str``
and ``masked()`` show the password and the secret extras as ``***``, so printing a
connection by accident leaks nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pauta.connections import urls
from pauta.core.secrets import MASK


@dataclass(frozen=True, slots=True, repr=False)
class Connection:
    name: str
    url: str
    """The real URL, credentials included."""
    extras: Mapping[str, str] = field(default_factory=dict)
    """Every extra, the secret ones included, with their real values."""
    secret_keys: frozenset[str] = frozenset()
    """The names of the extras that are secret (sealed at rest, masked when shown)."""
    source: str = "store"
    """Where it was found: "environment" (``PAUTA_CONN_<NAME>``) or "store"."""

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0].lower()

    @property
    def host(self) -> str:
        """``host:port`` (or a bucket), without credentials; "" when the URL has none."""
        return urls.host_of(self.url)

    @property
    def user(self) -> str | None:
        return urls.user_of(self.url)

    @property
    def password(self) -> str | None:
        return urls.password_of(self.url)

    @property
    def masked_url(self) -> str:
        """``postgresql://user:***@host/db``: the URL with its secrets as ``***``."""
        return urls.masked(self.url)

    def masked_extras(self) -> dict[str, str]:
        return {k: (MASK if k in self.secret_keys else v) for k, v in sorted(self.extras.items())}

    def secret_values(self) -> list[str]:
        """Every value to mask wherever task text is shown: the URL's secrets and the
        secret extras' values."""
        found = urls.secrets_of(self.url)
        if self.password:
            # what http_headers sends: printing the headers must not give the password away
            found.append(_basic(self.user or "", self.password))
        for key in sorted(self.secret_keys):
            value = self.extras.get(key)
            if value and value not in found:
                found.append(value)
        return [value for value in found if value]

    def masked(self) -> dict[str, Any]:
        """A view safe to show: name, masked URL, scheme, host, masked extras, secret extra
        names, source."""
        return {
            "name": self.name,
            "url": self.masked_url,
            "scheme": self.scheme,
            "host": self.host,
            "extras": self.masked_extras(),
            "secret_extras": sorted(self.secret_keys),
            "source": self.source,
        }

    def __repr__(self) -> str:
        return f"Connection({self.name!r}, {self.masked_url!r})"

    def __str__(self) -> str:
        return self.masked_url

    # -- clients ----------------------------------------------------------------------------
    def client(self) -> Any:
        """The client a ``pauta.connection_types`` plugin gives for this URL's scheme."""
        return connection_type(self.scheme).client(self)

    def sqlalchemy_engine(self, **kwargs: Any) -> Any:
        """A SQLAlchemy engine for this URL; ``kwargs`` go to ``sqlalchemy.create_engine``.

        Plain ``postgresql://`` uses psycopg 3 and plain ``mysql://``/``mariadb://`` PyMySQL.
        The caller owns the engine (``engine.dispose()`` when done)."""
        import sqlalchemy as sa

        return sa.create_engine(urls.sqlalchemy_url(self.url), **kwargs)

    @property
    def path(self) -> str:
        """The place inside the filesystem the URL names (``bucket/prefix``, ``/data``), for
        calls on ``filesystem()``."""
        from fsspec.core import url_to_fs

        target, options = urls.fsspec_target(self.url)
        _, path = url_to_fs(target, **{**self.storage_options(), **options})
        return str(path)

    def storage_options(self) -> dict[str, Any]:
        """The extras as fsspec storage options: values that read as JSON (``true``, ``3``,
        ``{"region_name": "eu-west-1"}``) are decoded, secret ones stay strings."""
        options: dict[str, Any] = {}
        for key, value in self.extras.items():
            options[key] = value if key in self.secret_keys else _decoded(value)
        return options

    def filesystem(self, **kwargs: Any) -> Any:
        """The fsspec filesystem of the URL's protocol, with the URL's credentials (s3:
        ``s3://KEY:SECRET@bucket``) and the extras as storage options (``endpoint_url``,
        ``key``, ``secret``...); ``kwargs`` add to them."""
        from fsspec.core import url_to_fs

        target, options = urls.fsspec_target(self.url)
        fs, _ = url_to_fs(target, **{**options, **self.storage_options(), **kwargs})
        return fs

    def http_url(self, path: str = "") -> str:
        """The URL without user info, with ``path`` appended (for HTTP clients, which take
        credentials as headers)."""
        base = urls.without_userinfo(self.url)
        if not path:
            return base
        return base.rstrip("/") + "/" + path.lstrip("/")

    def http_headers(self) -> dict[str, str]:
        """HTTP headers the connection gives: ``Authorization`` from the URL's user and
        password (Basic) or from a ``token`` extra (Bearer), and ``header.NAME`` extras as
        the header ``NAME``."""
        headers: dict[str, str] = {}
        user, password = self.user, self.password
        token = self.extras.get("token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif user is not None:
            headers["Authorization"] = "Basic " + _basic(user, password or "")
        for key, value in self.extras.items():
            if key.startswith("header.") and len(key) > len("header."):
                headers[key[len("header.") :]] = value
        return headers


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def connection_type(scheme: str) -> Any:
    """The loaded ``pauta.connection_types`` plugin of ``scheme``; ConnectionsError when no
    plugin has it or it failed to load."""
    from pauta.connections.errors import ConnectionsError
    from pauta.plugins.discovery import CONNECTION_TYPES, find

    plugin = find(CONNECTION_TYPES, scheme)
    if plugin is None:
        raise ConnectionsError(
            f"no connection type plugin handles {scheme}:// URLs (use .sqlalchemy_engine(), "
            ".filesystem() or .http_url() for the built-in kinds; `pauta plugins list`)"
        )
    if not plugin.loaded:
        raise ConnectionsError(
            f"connection type {scheme!r} comes from {plugin.distribution or plugin.value}, "
            f"which failed to load: {plugin.error}"
        )
    return plugin.obj


def has_connection_type(scheme: str) -> bool:
    from pauta.plugins.discovery import CONNECTION_TYPES, find

    return find(CONNECTION_TYPES, scheme) is not None
