"""Taking a connection URL apart: its secret parts, its masked form, its host, and the forms
SQLAlchemy and fsspec take.

A URL's secrets are the password of its user info and the values of query parameters whose
names look secret (``?password=``, ``?token=``, ``?X-Amz-Signature=``: see
``pauta.connections.rules.SECRET_WORDS``). Both their raw (percent-encoded) and decoded forms
count, since code may print either.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from pauta.connections.rules import is_secret_key
from pauta.core.secrets import MASK

DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
"""SQLAlchemy's default drivers for these schemes (psycopg2, mysqlclient) need C libraries;
pauta's dependencies are psycopg 3 and PyMySQL, so a plain scheme means those."""

# fsspec protocols whose credentials are the user info's user and password, passed on as
# these storage options (s3fs: key, secret); other protocols (sftp, ftp, smb) read the user
# info of the URL themselves.
_USERINFO_OPTIONS = {"s3": ("key", "secret"), "s3a": ("key", "secret")}


@dataclass(frozen=True, slots=True)
class Parts:
    """A URL cut where its secrets are: ``scheme://[user[:password]@]host/path?query#frag``."""

    scheme: str
    user: str | None
    password: str | None
    hostinfo: str
    path: str
    query: str
    fragment: str

    @classmethod
    def of(cls, url: str) -> Parts:
        scheme, _, rest = url.partition("://")
        end = len(rest)
        for mark in "/?#":
            found = rest.find(mark)
            if found >= 0:
                end = min(end, found)
        netloc, tail = rest[:end], rest[end:]
        userinfo, at, hostinfo = netloc.rpartition("@")
        user = password = None
        if at:
            name, colon, secret = userinfo.partition(":")
            user, password = name, (secret if colon else None)
        tail, _, fragment = tail.partition("#")
        path, _, query = tail.partition("?")
        return cls(scheme, user, password, hostinfo, path, query, fragment)

    def render(self, *, password: str | None, query: str, with_userinfo: bool = True) -> str:
        userinfo = ""
        if with_userinfo and self.user is not None:
            userinfo = self.user + (f":{password}" if password is not None else "") + "@"
        text = f"{self.scheme}://{userinfo}{self.hostinfo}{self.path}"
        if query:
            text += f"?{query}"
        if self.fragment:
            text += f"#{self.fragment}"
        return text

    def query_pairs(self) -> list[tuple[str, str]]:
        pairs = []
        for item in self.query.split("&") if self.query else []:
            key, _, value = item.partition("=")
            pairs.append((key, value))
        return pairs

    def masked_query(self) -> str:
        items = []
        for key, value in self.query_pairs():
            secret = is_secret_key(unquote(key)) and value
            items.append(f"{key}={MASK}" if secret else (f"{key}={value}" if value else key))
        return "&".join(items)


def masked(url: str) -> str:
    """``url`` with its password and secret query values as ``***``."""
    parts = Parts.of(url)
    password = MASK if parts.password else parts.password
    return parts.render(password=password, query=parts.masked_query())


def secrets_of(url: str) -> list[str]:
    """The URL's secret values, raw and decoded (empty ones left out)."""
    parts = Parts.of(url)
    raw = [parts.password or ""]
    raw += [value for key, value in parts.query_pairs() if is_secret_key(unquote(key))]
    found: list[str] = []
    for value in raw:
        for form in (value, unquote(value)):
            if form and form not in found:
                found.append(form)
    return found


def host_of(url: str) -> str:
    """Where the URL points, without credentials: ``host:port`` (a bucket for s3), or ""."""
    return Parts.of(url).hostinfo


def user_of(url: str) -> str | None:
    parts = Parts.of(url)
    return unquote(parts.user) if parts.user is not None else None


def password_of(url: str) -> str | None:
    parts = Parts.of(url)
    return unquote(parts.password) if parts.password is not None else None


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` (percent-encoded) in its user info; the user must be there."""
    parts = Parts.of(url)
    return parts.render(password=quote(password, safe=""), query=parts.query)


def sqlalchemy_url(url: str) -> str:
    """The URL SQLAlchemy should get: a plain ``postgresql://`` means psycopg 3, a plain
    ``mysql://`` or ``mariadb://`` means PyMySQL."""
    scheme, sep, rest = url.partition("://")
    driver = DEFAULT_DRIVERS.get(scheme.lower())
    return f"{driver}{sep}{rest}" if driver else url


def fsspec_target(url: str) -> tuple[str, dict[str, str]]:
    """The URL to give fsspec and the storage options its user info turns into.

    For s3 the user info is ``KEY:SECRET`` and goes to the options (s3fs would read it as
    part of the bucket); other protocols keep it in the URL, where fsspec reads it.
    """
    parts = Parts.of(url)
    names = _USERINFO_OPTIONS.get(parts.scheme.lower())
    if names is None or parts.user is None:
        return url, {}
    options = {names[0]: unquote(parts.user)}
    if parts.password is not None:
        options[names[1]] = unquote(parts.password)
    return parts.render(password=None, query=parts.query, with_userinfo=False), options


def without_userinfo(url: str) -> str:
    parts = Parts.of(url)
    return parts.render(password=None, query=parts.query, with_userinfo=False)
