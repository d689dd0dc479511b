"""Serving the app with uvicorn, with bounds on what a slow or idle client may hold.

- A request head (request line and headers) must arrive whole within ``HEADER_TIMEOUT_S`` of
  the connection opening or of the previous response; otherwise the connection is closed. A
  client that opens connections and sends nothing, or half a request, would hold them forever
  (uvicorn has no such timeout: its keep-alive timer stops at the first byte).
- An idle keep-alive connection is closed after ``KEEP_ALIVE_TIMEOUT_S``.
- A request head over ``MAX_HEADER_BYTES`` is answered 400.

Request bodies are bounded by ``pauta.api.limits``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_TIMEOUT_S = 5
MAX_HEADER_BYTES = 16 * 1024


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head."""

    header_timeout_s = HEADER_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not self._waiting_after:
            self._disarm_head_timer()  # a whole request head arrived

    def on_response_complete(self) -> None:
        # armed before uvicorn moves on, since it may start a pipelined request at once
        if not self.transport.is_closing():
            self._arm_head_timer()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        # the cycle of the last request (None before the first): a new one means a new head
        self._waiting_after = self.cycle
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is self._waiting_after and not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(app: Any, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration `pauta server` serves ``app`` with."""
    return uvicorn.Config(
        app,
        http=BoundedH11Protocol,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=5,
        **options,
    )


class HTTPServerThread:
    """uvicorn serving an app in a thread of its own (signals stay with the main thread)."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        self.server = uvicorn.Server(uvicorn_config(app))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="pauta-http", daemon=True
        )

    def start(self) -> HTTPServerThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
