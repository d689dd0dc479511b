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

from pauta.services import http1
from pauta.services.http1 import BadMessage, Head
from pauta.services.traffic import Traffic

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
CLIENT_IDLE_S = 30.0
"""An idle kept-alive client connection is closed after this long (and a request's head and
body must arrive within it)."""
UPSTREAM_IDLE_S = 4.0
"""A kept-alive connection to a replica is not reused after this long idle: below uvicorn's
default keep-alive timeout (5 s), so a replica never closes one just as a request is sent."""
CONNECT_TIMEOUT_S = 2.0
CLIENT_CLOSED = 499
"""Recorded for a request whose client went away before its answer was sent (nginx's code)."""

IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
REASONS = {
    400: "Bad Request",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class _Upstream:
    """One connection to a replica."""

    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
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
        self._closed = False
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
            reader, writer = await asyncio.open_connection(
                self.host, self.port, limit=MAX_HEAD_BYTES
            )
        return _Upstream(reader, writer), False

    def give_back(self, upstream: _Upstream, reusable: bool) -> None:
        if reusable and not self._closed:
            upstream.idle_since = self._now()
            self._idle.append(upstream)
        else:
            upstream.close()

    def close_idle(self) -> None:
        """Close the kept-alive connections (and keep none from now on), before the replica
        is stopped."""
        self._closed = True
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
        peer = writer.get_extra_info("peername")
        client_ip = str(peer[0]).encode() if peer else b""
        try:
            while not self._closing:
                try:
                    async with asyncio.timeout(CLIENT_IDLE_S):
                        head = await http1.read_request(reader)
                except BadMessage as exc:
                    self._refuse(writer, exc.status, str(exc), close=True)
                    await _drain(writer)
                    return
                if head is None:
                    return
                if not await self._request(reader, writer, head, client_ip):
                    return
        except (ConnectionError, TimeoutError, _ClientGone, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # cut by close(): this connection's task just ends
        finally:
            with suppress(Exception):
                writer.close()
            if task is not None:
                self._clients.discard(task)

    async def _request(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: Head,
        client_ip: bytes,
    ) -> bool:
        """Answer one request; whether the connection may carry the next one."""
        started = self._now()
        traffic = self.traffic
        traffic.in_flight += 1
        status = CLIENT_CLOSED
        try:
            if head.expects_continue:
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            try:
                async with asyncio.timeout(CLIENT_IDLE_S):
                    body = await http1.read_body(reader, head, self.max_body)
            except BadMessage as exc:
                status = exc.status
                self._refuse(writer, status, str(exc), close=True)
                await _drain(writer)
                return False
            status, keep = await self._forward(writer, head, body, client_ip)
            return keep and head.keep_alive and not self._closing
        finally:
            traffic.in_flight -= 1
            traffic.record(status, self._now() - started)

    async def _forward(
        self, writer: asyncio.StreamWriter, head: Head, body: bytes, client_ip: bytes
    ) -> tuple[int, bool]:
        deadline = self._now() + self.wait_s
        request = _upstream_request(head, body, client_ip)
        tried: set[int] = set()
        while True:
            backend = await self._pick(deadline, tried)
            if backend is None:
                self._refuse(writer, 503, f"service {self.name!r} has no ready replica")
                await _drain(writer)
                return 503, True
            backend.begin()
            try:
                return await self._exchange(writer, backend, head, request)
            except _Unanswered as exc:
                if not exc.retry or self._now() >= deadline:
                    self._refuse(writer, 502, f"the replica failed: {exc}")
                    await _drain(writer)
                    return 502, True
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
        self, writer: asyncio.StreamWriter, backend: Backend, head: Head, request: bytes
    ) -> tuple[int, bool]:
        try:
            upstream, reused = await backend.connection()
        except (OSError, TimeoutError) as exc:
            raise _Unanswered(f"cannot connect: {exc}", retry=True) from None
        try:
            upstream.writer.write(request)
            async with asyncio.timeout(self.answer_timeout_s):
                await upstream.writer.drain()
                response = await http1.read_response(upstream.reader)
        except (OSError, TimeoutError, EOFError, BadMessage) as exc:
            upstream.close()
            retry = reused and head.method in IDEMPOTENT
            raise _Unanswered(str(exc) or type(exc).__name__, retry=retry) from None
        try:
            keep, reusable = await self._relay(writer, upstream, head, response)
        except BaseException:
            upstream.close()
            raise
        backend.give_back(upstream, reusable)
        return response.status, keep

    async def _relay(
        self, writer: asyncio.StreamWriter, upstream: _Upstream, request: Head, response: Head
    ) -> tuple[bool, bool]:
        """Send the replica's answer on; (client connection reusable, replica's reusable)."""
        headers = http1.passed_on(response.headers)
        keep = request.keep_alive
        first = b"HTTP/1.1 " + response.first[1] + b" " + response.first[2]
        reader = upstream.reader
        if http1.no_body(request.method, response.status):
            if response.length is not None:  # a HEAD answer says how long the GET's would be
                headers.append((b"content-length", str(response.length).encode()))
            writer.write(http1.encode_head(first, _closing(headers, keep)))
            await _drain(writer)
            return keep, response.keep_alive
        if response.length is not None:
            headers.append((b"content-length", str(response.length).encode()))
            out = http1.encode_head(first, _closing(headers, keep))
            remaining = response.length
            while True:
                if remaining:
                    data = await reader.read(min(http1.CHUNK, remaining))
                    if not data:
                        raise _ClientGone("the replica closed the connection mid-answer")
                    remaining -= len(data)
                    out += data
                writer.write(out)
                await _drain(writer)
                if not remaining:
                    return keep, response.keep_alive
                out = b""
        # chunked, or until the replica closes: chunked to an HTTP/1.1 client
        chunked = request.version == b"HTTP/1.1"
        keep = keep and chunked
        if chunked:
            headers.append((b"transfer-encoding", b"chunked"))
        writer.write(http1.encode_head(first, _closing(headers, keep)))
        pieces = http1.chunks(reader) if response.chunked else _until_closed(reader)
        async for piece in pieces:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await _drain(writer)
        if chunked:
            writer.write(b"0\r\n\r\n")
        await _drain(writer)
        return keep, response.chunked and response.keep_alive

    def _refuse(
        self, writer: asyncio.StreamWriter, status: int, reason: str, *, close: bool = False
    ) -> None:
        """Answer ``status`` with a JSON reason."""
        body = json.dumps({"detail": reason}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if close:
            headers.append((b"connection", b"close"))
        first = f"HTTP/1.1 {status} {REASONS.get(status, '')}".encode()
        writer.write(http1.encode_head(first, headers) + body)


def _closing(headers: list[tuple[bytes, bytes]], keep: bool) -> list[tuple[bytes, bytes]]:
    return headers if keep else [*headers, (b"connection", b"close")]


async def _until_closed(reader: asyncio.StreamReader):  # type: ignore[no-untyped-def]
    while data := await reader.read(http1.CHUNK):
        yield data


async def _drain(writer: asyncio.StreamWriter) -> None:
    try:
        await writer.drain()
    except ConnectionError as exc:
        raise _ClientGone(str(exc)) from None


def _upstream_request(head: Head, body: bytes, client_ip: bytes) -> bytes:
    """The request as the replica gets it: HTTP/1.1 kept alive, its body framed by length,
    the client's address added to X-Forwarded-For."""
    headers = http1.passed_on(head.headers)
    forwarded = [v for k, v in headers if k == b"x-forwarded-for"]
    headers = [(k, v) for k, v in headers if k != b"x-forwarded-for"]
    chain = b", ".join([*forwarded, client_ip] if client_ip else forwarded)
    if chain:
        headers.append((b"x-forwarded-for", chain))
    if body or head.method in {b"POST", b"PUT", b"PATCH"}:
        headers.append((b"content-length", str(len(body)).encode()))
    first = head.method + b" " + head.target + b" HTTP/1.1"
    return http1.encode_head(first, headers) + body
