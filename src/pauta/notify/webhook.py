"""``Webhook``: POST each event as JSON to a URL; and the HTTP client the webhooks share.

Only the standard library (``urllib.request``). Redirects are refused rather than followed:
urllib would turn a redirected POST into a GET without a body and report success.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pauta.notify.notifiers import Event, NotifyError, check_event, check_timeout, mask_url

USER_AGENT = "pauta-notify"
_BODY_EXCERPT = 200


class HttpTarget:
    """A validated http(s) URL: where to send, the Basic auth its user info gives, how to show it.

    User info (``https://user:token@host/...``) is sent as an ``Authorization: Basic`` header
    and never appears in what is shown.
    """

    __slots__ = ("_authorization", "_url", "shown")

    def __init__(self, url: str, who: str, *, hide_path: bool = False) -> None:
        if not isinstance(url, str):
            raise TypeError(f"{who}: url must be a string, not {type(url).__name__}")
        self.shown = mask_url(url, hide_path=hide_path)
        if any(ch.isspace() or ord(ch) < 32 for ch in url):
            raise ValueError(f"{who}: the URL {self.shown} contains spaces or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError(f"{who}: {self.shown} is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"{who}: the URL must start with https:// or http:// and name a host, "
                f"not {self.shown}"
            )
        self._authorization: str | None = None
        if parts.username is not None or parts.password is not None:
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            self._authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        netloc = host if port is None else f"{host}:{port}"
        self._url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))

    def post_json(
        self, body: Mapping[str, Any], *, headers: Mapping[str, str], timeout: float, who: str
    ) -> None:
        """POST ``body`` as JSON; a NotifyError unless the answer is 2xx."""
        all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if self._authorization:
            all_headers["Authorization"] = self._authorization
        all_headers.update(headers)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self._url, data=data, headers=all_headers, method="POST")
        opener = urllib.request.build_opener(_RefuseRedirects)
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            try:
                detail = _excerpt(exc.read())
            except (OSError, http.client.HTTPException):
                detail = ""
            finally:
                exc.close()
            hint = ""
            if 300 <= exc.code < 400:
                location = mask_url(exc.headers.get("Location", "?"))
                hint = f" (a redirect to {location}: use that URL)"
            raise NotifyError(
                f"{who}: POST to {self.shown} answered HTTP {exc.code} {exc.reason}{hint}{detail}",
                target=self.shown,
                status=exc.code,
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, TimeoutError):
                text = f"no answer within {timeout:g} s"
            else:
                text = str(reason) or type(reason).__name__
            raise NotifyError(
                f"{who}: could not POST to {self.shown}: {text}", target=self.shown
            ) from exc


class Webhook:
    """POST each ``Event`` as JSON (``Event.to_json()``) to ``url``.

    ``headers`` are added to the request (e.g. ``{"Authorization": "Bearer ..."}``); their
    values are never shown. A non-2xx answer or a connection error raises ``NotifyError``.
    """

    __slots__ = ("_headers", "_target", "timeout")

    def __init__(
        self, url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0
    ) -> None:
        self._target = HttpTarget(url, "Webhook")
        self._headers = dict(headers or {})
        for name, value in self._headers.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError("Webhook: headers must map strings to strings")
        self.timeout = check_timeout(timeout, "Webhook")

    @property
    def url(self) -> str:
        """The URL, with credentials masked."""
        return self._target.shown

    def __call__(self, event: Event, /) -> None:
        """Send ``event``; ``NotifyError`` when the receiver did not accept it."""
        check_event(event, "Webhook")
        self._target.post_json(
            event.to_json(), headers=self._headers, timeout=self.timeout, who="Webhook"
        )

    def __repr__(self) -> str:
        extra = f", headers={sorted(self._headers)!r}" if self._headers else ""
        return f"Webhook({self._target.shown!r}{extra}, timeout={self.timeout:g})"


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        # None makes urllib raise HTTPError with the 3xx status instead of following.
        return None


def _excerpt(raw: bytes) -> str:
    text = " ".join(raw.decode("utf-8", errors="replace").split())
    if not text:
        return ""
    if len(text) > _BODY_EXCERPT:
        text = text[: _BODY_EXCERPT - 1] + "…"
    return f": {text}"
