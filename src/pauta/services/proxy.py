"""The stable address of a service: an asyncio HTTP/1.1 reverse proxy in the supervisor.

Clients connect to the service's port; each request goes to the ready replica with the fewest
requests in flight, over a kept-alive connection to it. The proxy sends requests only to the
backends its owner's ``routes()`` returns (the ready replicas of the revision that has the
traffic), so moving traffic to a new revision is one assignment, and an old replica is stopped
only once its requests in flight reached zero: no request fails during a deploy.

A request that finds no ready replica waits for one (``wait_s``) instead of failing, while one
is ``coming()`` (a restarted supervisor bringing its replicas up, a replica restarting). A
request whose replica could not be reached before anything was sent is tried on another; one
cut off on a kept-alive connection before any answer came is tried again when its method is
idempotent. Bodies are read whole first (at most ``max_body``), so a retry can send them again.
Plain HTTP/1.1 only: no WebSocket or HTTP/2.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

import h11

from pauta.services.traffic import Traffic

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
CLIENT_IDLE_S = 30.0
"""An idle kept-alive client connection is closed after this long."""
UPSTREAM_IDLE_S = 4.0
"""A kept-alive connection to a replica is not reused after this long idle: below uvicorn's
default keep-alive timeout (5 s), so a replica never closes one just as a request is sent."""
CONNECT_TIMEOUT_S = 2.0
READ_CHUNK = 64 * 1024
CLIENT_CLOSED = 499
"""Recorded for a request whose client went away before its answer was sent (nginx's code)."""

IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
        b"content-length",
    }
)


class _Upstream:
    """One connection to a replica, with its h11 state."""

    __slots__ = ("conn", "idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.idle_since = 0.0

    def close(self) -> None:
        with suppress(Exception):
            self.writer.close()


class Backend:
    """A replica process as the proxy sees it: its address, its requests in flight and its idle
    connections."""

    def __init__(self, host: str, port: int, monotonic: Callable[[], float]) -> None:
        self.host = host
        self.port = port
        self.in_flight = 0
        self.served = 0
        self._now = monotonic
        self._idle: list[_Upstream] = []
        self._quiet = asyncio.Event()
        self._quiet.set()

    def __repr__(self) -> str:
        return f"Backend({self.host}:{self.port}, in_flight={self.in_flight})"

    def begin(self) -> None:
        self.in_flight += 1
        self._quiet.clear()

    def end(self) -> None:
        self.in_flight -= 1
        self.served += 1
        if self.in_flight == 0:
            self._quiet.set()

    async def connection(self) -> tuple[_Upstream, bool]:
        """An idle connection (reused: True) or a new one; OSError when it cannot connect."""
        now = self._now()
        while self._idle:
            upstream = self._idle.pop()
            if now - upstream.idle_since < UPSTREAM_IDLE_S and not upstream.reader.at_eof():
                return upstream, True
            upstream.close()
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Upstream(reader, writer), False

    def give_back(self, upstream: _Upstream) -> None:
        if upstream.conn.our_state is h11.DONE and upstream.conn.their_state is h11.DONE:
            upstream.conn.start_next_cycle()
            upstream.idle_since = self._now()
            self._idle.append(upstream)
        else:
            upstream.close()

    def close_idle(self) -> None:
        """Close the kept-alive connections, before the replica is stopped."""
        idle, self._idle = self._idle, []
        for upstream in idle:
            upstream.close()

    async def drained(self, timeout: float) -> bool:
        """Wait until no request is in flight (False when ``timeout`` passed first)."""
        try:
            async with asyncio.timeout(timeout):
                await self._quiet.wait()
        except TimeoutError:
            return False
        return True


class _Unanswered(Exception):
    """The replica gave no answer; ``retry`` says whether the request may go to another."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


class _ClientGone(Exception):
    """The client closed its connection while its answer was being sent."""


class ServiceProxy:
    """The listening socket of one service and the requests it forwards."""

    def __init__(
        self,
        name: str,
        routes: Callable[[], Sequence[Backend]],
        traffic: Traffic,
        monotonic: Callable[[], float],
        *,
        coming: Callable[[], bool] = lambda: True,
        wait_s: float = 30.0,
        answer_timeout_s: float = 300.0,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.name = name
        self._routes = routes
        self._coming = coming
        self.traffic = traffic
        self._now = monotonic
        self.wait_s = wait_s
        self.answer_timeout_s = answer_timeout_s
        self.max_body = max_body
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Event()
        self._turn = 0
        self._clients: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.port: int | None = None

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def listen(self, host: str, port: int) -> None:
        """Bind the service's port (OSError when it is taken)."""
        self._closing = False
        self._server = await asyncio.start_server(
            self._client, host, port, reuse_address=True, backlog=1024, limit=MAX_HEAD_BYTES
        )
        self.port = port

    def routes_changed(self) -> None:
        """Wake requests waiting for a ready replica (call after ``routes()`` changed)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def close(self, timeout: float = 10.0) -> None:
        """Stop listening; let answers in progress finish (up to ``timeout``), then cut."""
        self._closing = True
        server, self._server = self._server, None
        if server is not None:
            server.close()
        clients = list(self._clients)
        if clients:
            _, pending = await asyncio.wait(clients, timeout=timeout)
            for task in pending:
                task.cancel()
        self.routes_changed()

    # one client connection ----------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        peer = writer.get_extra_info("peername")
        client_ip = str(peer[0]) if peer else ""
        try:
            while not self._closing:
                try:
                    event = await self._next(conn, reader, CLIENT_IDLE_S)
                except h11.RemoteProtocolError as exc:
                    await self._refuse(conn, writer, exc.error_status_hint, "bad request")
                    return
                if not isinstance(event, h11.Request):
                    return
                await self._request(conn, reader, writer, event, client_ip)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, TimeoutError, _ClientGone, h11.ProtocolError):
            pass
        except asyncio.CancelledError:
            pass  # cut by close(): this connection's task just ends
        finally:
            with suppress(Exception):
                writer.close()
            if task is not None:
                self._clients.discard(task)

    @staticmethod
    async def _next(conn: h11.Connection, reader: asyncio.StreamReader, timeout: float) -> Any:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            async with asyncio.timeout(timeout):
                data = await reader.read(READ_CHUNK)
            conn.receive_data(data)

    async def _request(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        client_ip: str,
    ) -> None:
        started = self._now()
        traffic = self.traffic
        traffic.in_flight += 1
        status = CLIENT_CLOSED
        try:
            body = await self._body(conn, reader, writer)
            if body is None:
                status = 413
                await self._refuse(conn, writer, 413, "request body too large")
                return
            status = await self._forward(conn, writer, request, body, client_ip)
        finally:
            traffic.in_flight -= 1
            traffic.record(status, self._now() - started)

    async def _body(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes | None:
        if conn.they_are_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
        parts: list[bytes] = []
        size = 0
        while True:
            event = await self._next(conn, reader, CLIENT_IDLE_S)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.max_body:
                    return None
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            else:
                raise ConnectionError("the client closed its connection mid-request")

    async def _forward(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        body: bytes,
        client_ip: str,
    ) -> int:
        deadline = self._now() + self.wait_s
        headers = _upstream_headers(request, body, client_ip)
        tried: set[int] = set()
        while True:
            backend = await self._pick(deadline, tried)
            if backend is None:
                return await self._refuse(
                    conn, writer, 503, f"service {self.name!r} has no ready replica"
                )
            backend.begin()
            try:
                return await self._exchange(conn, writer, backend, request, headers, body)
            except _Unanswered as exc:
                if not exc.retry or self._now() >= deadline:
                    return await self._refuse(conn, writer, 502, f"the replica failed: {exc}")
                tried.add(id(backend))
            finally:
                backend.end()

    async def _pick(self, deadline: float, tried: set[int]) -> Backend | None:
        while True:
            routed = self._routes()
            fresh = [b for b in routed if id(b) not in tried]
            if fresh:
                self._turn += 1
                count = len(fresh)
                # fewest in flight; ties taken in turn, so idle replicas share the load
                return min(
                    (fresh[(self._turn + i) % count] for i in range(count)),
                    key=lambda b: b.in_flight,
                )
            remaining = deadline - self._now()
            if remaining <= 0 or self._closing or not (routed or self._coming()):
                return None
            # none ready, or each one tried: wait for the routes to change (a replica that
            # could not be reached is taken out within a moment), then try them again
            pause = min(remaining, 0.1 if tried else 0.5)
            tried.clear()
            changed = self._changed
            with suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await changed.wait()

    async def _exchange(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        backend: Backend,
        request: h11.Request,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> int:
        try:
            upstream, reused = await backend.connection()
        except (OSError, TimeoutError) as exc:
            raise _Unanswered(f"cannot connect: {exc}", retry=True) from None
        try:
            response = await self._send_and_read_head(upstream, request, headers, body)
        except (OSError, TimeoutError, h11.ProtocolError, EOFError) as exc:
            upstream.close()
            retry = reused and request.method in IDEMPOTENT
            raise _Unanswered(str(exc) or type(exc).__name__, retry=retry) from None
        try:
            await self._relay(conn, writer, upstream, response)
        except BaseException:
            upstream.close()
            raise
        backend.give_back(upstream)
        return int(response.status_code)

    async def _send_and_read_head(
        self,
        upstream: _Upstream,
        request: h11.Request,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> h11.Response:
        up = upstream.conn
        out = up.send(h11.Request(method=request.method, target=request.target, headers=headers))
        if body:
            out = (out or b"") + (up.send(h11.Data(data=body)) or b"")
        out = (out or b"") + (up.send(h11.EndOfMessage()) or b"")
        upstream.writer.write(out)
        await upstream.writer.drain()
        while True:
            event = await self._upstream_event(upstream)
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.InformationalResponse):
                continue
            raise EOFError("the replica closed the connection before answering")

    async def _upstream_event(self, upstream: _Upstream) -> Any:
        up = upstream.conn
        while True:
            event = up.next_event()
            if event is not h11.NEED_DATA:
                return event
            async with asyncio.timeout(self.answer_timeout_s):
                data = await upstream.reader.read(READ_CHUNK)
            up.receive_data(data)

    async def _relay(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        upstream: _Upstream,
        response: h11.Response,
    ) -> None:
        headers = [(k, v) for k, v in response.headers if k not in HOP_BY_HOP]
        length = _content_length(response.headers)
        if length is not None:
            headers.append((b"content-length", length))
        head = h11.Response(
            status_code=response.status_code, headers=headers, reason=response.reason
        )
        try:
            writer.write(conn.send(head) or b"")
        except h11.LocalProtocolError as exc:
            raise _ClientGone(str(exc)) from None
        while True:
            event = await self._upstream_event(upstream)
            if isinstance(event, h11.Data):
                writer.write(conn.send(h11.Data(data=event.data)) or b"")
                await _drain(writer)
            elif isinstance(event, h11.EndOfMessage):
                writer.write(conn.send(h11.EndOfMessage()) or b"")
                await _drain(writer)
                return
            else:
                # cut off mid-answer: the client's connection cannot be reused either
                raise _ClientGone("the replica closed the connection mid-answer")

    async def _refuse(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int, reason: str
    ) -> int:
        """Answer ``status`` with a JSON reason, when the connection still allows an answer."""
        if conn.our_state not in {h11.IDLE, h11.SEND_RESPONSE}:
            return status
        body = json.dumps({"detail": reason}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status in {400, 413}:
            headers.append((b"connection", b"close"))
        try:
            writer.write(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
            writer.write(conn.send(h11.Data(data=body)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await _drain(writer)
        except (h11.LocalProtocolError, _ClientGone):
            pass
        return status


async def _drain(writer: asyncio.StreamWriter) -> None:
    try:
        await writer.drain()
    except ConnectionError as exc:
        raise _ClientGone(str(exc)) from None


def _content_length(headers: Any) -> bytes | None:
    for key, value in headers:
        if key == b"content-length":
            return bytes(value)
    return None


def _upstream_headers(
    request: h11.Request, body: bytes, client_ip: str
) -> list[tuple[bytes, bytes]]:
    named = {
        part.strip().lower()
        for key, value in request.headers
        if key == b"connection"
        for part in bytes(value).split(b",")
    }
    headers = [(k, v) for k, v in request.headers if k not in HOP_BY_HOP and k not in named]
    forwarded = [v for k, v in request.headers if k == b"x-forwarded-for"]
    chain = b", ".join([*forwarded, client_ip.encode()]) if client_ip else b", ".join(forwarded)
    headers = [(k, v) for k, v in headers if k != b"x-forwarded-for"]
    if chain:
        headers.append((b"x-forwarded-for", chain))
    if body or request.method in {b"POST", b"PUT", b"PATCH"}:
        headers.append((b"content-length", str(len(body)).encode()))
    return headers
