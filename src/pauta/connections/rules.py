"""What a connection's name, URL and extras may be, and which extras are secret.

Names map to environment variables (``PAUTA_CONN_<NAME>``, upper-cased, ``-`` and ``.`` as
``_``), so they are kept to letters, digits, ``_``, ``-`` and ``.``, starting with a letter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pauta.connections.errors import InvalidConnectionError

ENV_PREFIX = "PAUTA_CONN_"
MAX_NAME = 255
MAX_URL = 8192
MAX_SCHEME = 64
MAX_EXTRAS = 64
MAX_EXTRA_KEY = 128
MAX_EXTRA_VALUE = 8192

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_EXTRA_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")

SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
    "signature",
)
"""An extra whose name holds one of these (``aws_secret_access_key``, ``api_key``, ``token``)
is secret whether or not it was marked so: it is sealed and masked like the password."""


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or not _NAME.fullmatch(name):
        shown = repr(name)[:80]
        raise InvalidConnectionError(
            f"connection name {shown} is not valid: use letters, digits, '_', '-' and '.', "
            f"starting with a letter, at most {MAX_NAME} characters (e.g. warehouse, s3-lake)"
        )
    return name


def env_var(name: str) -> str:
    """The environment variable that overrides connection ``name``."""
    return ENV_PREFIX + name.upper().replace("-", "_").replace(".", "_")


def scheme_of(url: str) -> str:
    """The URL's scheme, lower-cased (``postgresql+psycopg``)."""
    return url.partition("://")[0].lower()


def check_url(url: object) -> str:
    """The URL when it looks like ``scheme://...``. The message never shows the URL: it may
    hold a password."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidConnectionError("a connection needs a URL such as postgresql://user@host/db")
    url = url.strip()
    scheme, sep, _ = url.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme) or len(scheme) > MAX_SCHEME:
        raise InvalidConnectionError(
            "a connection's URL must look like scheme://... (postgresql://user:pw@host/db, "
            "s3://bucket/prefix, file:///data); the URL given is not shown, it may hold a "
            "password"
        )
    if len(url) > MAX_URL or any(ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidConnectionError(
            f"a connection's URL must be at most {MAX_URL} characters, without control "
            "characters or line breaks"
        )
    return url


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def check_extras(extras: Mapping[str, object] | None, what: str = "extra") -> dict[str, str]:
    """Extras as a plain dict of strings; InvalidConnectionError naming the faulty key (the
    value is never shown)."""
    found: dict[str, str] = {}
    for key, value in (extras or {}).items():
        if not isinstance(key, str) or len(key) > MAX_EXTRA_KEY or not _EXTRA_KEY.fullmatch(key):
            raise InvalidConnectionError(
                f"{what} name {repr(key)[:80]} is not valid: use letters, digits, '_', '-' "
                f"and '.', starting with a letter or '_', at most {MAX_EXTRA_KEY} characters"
            )
        if not isinstance(value, str):
            raise InvalidConnectionError(f"{what} {key!r} must be a string")
        if len(value) > MAX_EXTRA_VALUE or "\x00" in value:
            raise InvalidConnectionError(
                f"{what} {key!r} must be at most {MAX_EXTRA_VALUE} characters, without NUL"
            )
        found[key] = value
    if len(found) > MAX_EXTRAS:
        raise InvalidConnectionError(f"a connection has at most {MAX_EXTRAS} extras")
    return found


def split_extras(
    extras: Mapping[str, object] | None, secret_extras: Mapping[str, object] | None
) -> tuple[dict[str, str], dict[str, str]]:
    """(plain extras, secret extras), checked; an extra whose name looks secret is moved to
    the secret ones. A name given as both is refused."""
    plain = check_extras(extras)
    hidden = check_extras(secret_extras, "secret extra")
    both = sorted(plain.keys() & hidden.keys())
    if both:
        raise InvalidConnectionError(f"extra {both[0]!r} is given both as plain and as secret")
    for key in [k for k in plain if is_secret_key(k)]:
        hidden[key] = plain.pop(key)
    if len(plain) + len(hidden) > MAX_EXTRAS:
        raise InvalidConnectionError(f"a connection has at most {MAX_EXTRAS} extras")
    return plain, hidden


def parse_pairs(pairs: tuple[str, ...] | list[str], what: str = "--extra") -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict; the value is never shown in an error."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidConnectionError(f"{what} must look like KEY=VALUE (got a value without =)")
        found[key.strip()] = value
    return found
