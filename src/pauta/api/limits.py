"""How much of a request body the server reads: little for a caller without valid
credentials, ``PAUTA_MAX_REQUEST_BYTES`` (1 MiB by default) for the others.

FastAPI reads a route's body before its dependencies check the credentials, so without a limit
an anonymous client could make the server read (and hold) 50 MB only to answer 401. This ASGI
middleware counts the bytes as they arrive, streamed or not (a ``Content-Length`` is checked
up front, a chunked body chunk by chunk), and answers 413 past the limit. Credentials are
looked up only when a body grows past the anonymous limit. A body that does not arrive whole
within ``BODY_TIMEOUT_S`` is answered 408: a client cannot hold a request open by sending its
body slowly, or never.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio.to_thread
from fastapi import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pauta.api import auth
from pauta.app import users
from pauta.core.settings import DEFAULT_MAX_PARAMS_BYTES, describe_size

ANONYMOUS_BODY_BYTES = 64 * 1024
"""The largest body read from a request without valid credentials (a login form is ~200 bytes)."""
BODY_TIMEOUT_S = 20.0
"""A body must arrive whole within this long of being first read: 1 MiB needs 52 KiB/s."""

CredentialsCheck = Callable[[Scope], Awaitable[bool]]


async def has_valid_credentials(scope: Scope) -> bool:
    """Whether the request carries a live API token or session cookie of the app's store."""
    connection = HTTPConnection(scope)
    store = connection.app.state.store
    authorization = connection.headers.get("authorization", "")
    cookie = connection.cookies.get(auth.SESSION_COOKIE, "")
    return await anyio.to_thread.run_sync(users.has_credentials, store, authorization, cookie)


class BodyLimit:
    """ASGI middleware: 413 for a body over ``anonymous_bytes`` without valid credentials, or
    over ``authenticated_bytes`` with them."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticated_bytes: int,
        anonymous_bytes: int = ANONYMOUS_BODY_BYTES,
        params_bytes: int = DEFAULT_MAX_PARAMS_BYTES,
        body_timeout_s: float = BODY_TIMEOUT_S,
        credentials: CredentialsCheck = has_valid_credentials,
    ) -> None:
        self.app = app
        self.body_timeout_s = body_timeout_s
        self.authenticated_bytes = authenticated_bytes
        self.params_bytes = params_bytes
        self.anonymous_bytes = min(anonymous_bytes, authenticated_bytes)
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: int | None = None

        async def allowed() -> int:
            nonlocal limit
            if limit is None:
                valid = await self.credentials(scope)
                limit = self.authenticated_bytes if valid else self.anonymous_bytes
            return limit

        declared = _content_length(scope)
        # credentials are looked up only for a body the anonymous limit would refuse
        if declared is not None and declared > self.anonymous_bytes and declared > await allowed():
            await self._refuse(await allowed())(scope, receive, send)
            return
        received = 0
        deadline: float | None = None
        complete = False

        async def counted() -> Message:
            nonlocal received, deadline, complete
            if complete:  # past the body: a wait for the client to go away, unbounded
                return await receive()
            now = anyio.current_time()
            deadline = deadline if deadline is not None else now + self.body_timeout_s
            message: Message | None = None
            with anyio.move_on_after(deadline - now):
                message = await receive()
            if message is None:
                raise HTTPException(408, self._too_slow(), headers=_CLOSE)
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.anonymous_bytes and received > await allowed():
                    # raised into whoever reads the body; FastAPI passes HTTPExceptions on
                    raise HTTPException(413, self._reason(await allowed()), headers=_CLOSE)
            return message

        await self.app(scope, counted, send)

    def _reason(self, limit: int) -> str:
        if limit < self.authenticated_bytes:
            return (
                f"the request body is over {describe_size(limit)}, the limit for a request "
                "without valid credentials: send an API token (Authorization: Bearer) or log in"
            )
        return (
            f"the request body is over {describe_size(limit)}, the server's limit "
            f"(PAUTA_MAX_REQUEST_BYTES); run parameters may take "
            f"{describe_size(self.params_bytes)} of JSON: pass large data as a path or URI"
        )

    def _too_slow(self) -> str:
        return f"the request body did not arrive within {self.body_timeout_s:g} s"

    def _refuse(self, limit: int) -> ASGIApp:
        return JSONResponse({"detail": self._reason(limit)}, status_code=413, headers=_CLOSE)


# The rest of a refused body is not read: the connection is closed after the answer instead.
_CLOSE = {"Connection": "close"}


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
