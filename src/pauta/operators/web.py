"""``http``: one HTTP request, answered with JSON (or text), its status checked.

With ``conn`` the connection's URL is the base that ``url`` is relative to, and its
credentials become the request's ``Authorization``: a bearer token from the connection's
``token`` extra, else HTTP basic auth from the URL's ``user:password``. Credentials go only to
the connection's own host: a redirect elsewhere is followed without them, and an absolute
``url`` to another host is refused.
"""

from __future__ import annotations

import base64
import json as jsonlib
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from pauta.definitions.context import context
from pauta.definitions.task import task
from pauta.operators.connect import http_endpoint
from pauta.operators.errors import HttpStatusError, OperatorError

BODY_EXCERPT = 500
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _opener() -> Any:
    """An opener that follows redirects but drops ``Authorization`` when one leads to another
    host. (urllib.request is imported here: it costs tens of ms, and importing the operators
    should not.)"""
    import urllib.request

    class Redirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
            if new is not None and _origin(newurl) != _origin(req.full_url):
                new.remove_header("Authorization")
            return new

    return urllib.request.build_opener(Redirects)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower() + f":{parts.port or ''}"


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without its ``user:password@``, and the user and password it held."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    user = urllib.parse.unquote(parts.username)
    password = None if parts.password is None else urllib.parse.unquote(parts.password)
    return clean, user, password


def _target(url: str, conn: Any) -> tuple[str, str | None]:
    """The URL to request and its ``Authorization`` header (None for none)."""
    if conn is None:
        if not url.startswith(("http://", "https://")):
            raise OperatorError(f"http: url must start with http:// or https:// (got {url!r})")
        clean, user, password = _split_credentials(url)
        return clean, _basic(user, password)
    base, extras = http_endpoint(conn)
    base, user, password = _split_credentials(base)
    if not base.startswith(("http://", "https://")):
        raise OperatorError("http: the connection's URL must start with http:// or https://")
    if url.startswith(("http://", "https://")):
        if _origin(url) != _origin(base):
            raise OperatorError(
                "http: url is on another host than the connection; its credentials are sent "
                "only to the connection's own host (give a path relative to the connection)"
            )
        full = url
    else:
        full = base.rstrip("/") + "/" + url.lstrip("/") if url else base
    token = extras.get("token")
    if token:
        return full, f"Bearer {token}"
    return full, _basic(user, password)


def _basic(user: str | None, password: str | None) -> str | None:
    if user is None:
        return None
    pair = f"{user}:{password or ''}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _decode(body: bytes, content_type: str) -> Any:
    if not body:
        return None
    charset = "utf-8"
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip('"')
    text = body.decode(charset, "replace")
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            return jsonlib.loads(text)
        except ValueError:
            return text
    return text


def _seconds(timeout: float | timedelta) -> float:
    if isinstance(timeout, timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise OperatorError(f"http: timeout must be a number of seconds > 0, got {timeout!r}")
    return float(timeout)


@task(name="http")
def http(
    method: str,
    url: str,
    *,
    conn: Any = None,
    json: Any = None,
    expect: int | Sequence[int] = (200,),
    headers: Mapping[str, str] | None = None,
    timeout: float | timedelta = 30.0,
) -> Any:
    """Send one request and return the answer's body: parsed JSON when the server says it is
    JSON, else text (None when empty).

    ``url`` is absolute, or relative to the URL of ``conn`` (a URL, a connection object or a
    connection name), whose credentials become the ``Authorization`` header. ``json`` is sent
    as a JSON body. A status outside ``expect`` raises ``HttpStatusError`` with the status and
    the start of the body; a refused connection or a timeout raises ``OperatorError``.
    """
    verb = str(method).upper()
    if verb not in METHODS:
        raise OperatorError(f"http: method {method!r} is not one of {', '.join(METHODS)}")
    full, authorization = _target(str(url), conn)
    expected = (expect,) if isinstance(expect, int) else tuple(int(code) for code in expect)
    limit = _seconds(timeout)
    import urllib.error
    import urllib.request

    request = urllib.request.Request(full, method=verb)
    request.add_header("Accept", "application/json, text/plain;q=0.9, */*;q=0.5")
    if json is not None:
        request.data = jsonlib.dumps(json).encode()
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if authorization is not None:
        request.add_header("Authorization", authorization)
    opener = _opener()
    begun = time.monotonic()
    try:
        with opener.open(request, timeout=limit) as response:
            status, body, kind = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, body, kind = exc.code, exc.read(), exc.headers
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OperatorError(f"http: {verb} {full} failed: {reason}") from None
    elapsed = time.monotonic() - begun
    context().logger.info("%s %s -> %s (%.3f s)", verb, full, status, elapsed)
    content_type = kind.get("Content-Type", "") if kind is not None else ""
    if status not in expected:
        excerpt = body[:BODY_EXCERPT].decode("utf-8", "replace")
        raise HttpStatusError(
            f"http: {verb} {full} answered {status}, expected "
            f"{' or '.join(map(str, expected))}; the body begins: {excerpt!r}",
            status=status,
            body=excerpt,
        )
    return _decode(body, content_type)
