"""The proxy on loopback, between raw HTTP clients and raw upstream servers: framing passes
through, hop-by-hop headers do not, malformed or smuggling requests are refused, requests
wait for a replica or go to another one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from pauta.services.proxy import Backend, ServiceProxy
from pauta.services.traffic import Traffic

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def reply(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


def upstream(answer: Callable[[bytes, bytes], bytes], seen: list[Any]) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head, body = await read_request(reader)
                seen.append((head, body))
                writer.write(answer(head, body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return handle


async def serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def exchange(port: int, data: bytes, *, until_close: bool = False) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        if until_close:
            return await asyncio.wait_for(reader.read(1 << 20), 10)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = next(
            (int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.startswith(b"content-length")),
            0,
        )
        return head + await reader.readexactly(length)
    finally:
        writer.close()


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


class Rig:
    """A proxy in front of the given backends."""

    def __init__(self, backends: list[Backend], coming: bool = True, wait_s: float = 5) -> None:
        self.backends = backends
        self.traffic = Traffic(time.monotonic)
        self.proxy = ServiceProxy(
            "svc",
            lambda: self.backends,
            self.traffic,
            time.monotonic,
            coming=lambda: coming,
            wait_s=wait_s,
            max_body=1000,
        )

    async def stop(self, *servers: asyncio.Server) -> None:
        await self.proxy.close(1)
        for backend in self.backends:
            backend.close_idle()
        for server in servers:
            server.close()
            await server.wait_closed()
        await asyncio.sleep(0)  # let the closed transports finish

    async def start(self) -> int:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        await self.proxy.listen("127.0.0.1", port)
        return port


def test_a_request_passes_with_its_body_and_without_hop_by_hop_headers() -> None:
    async def test() -> None:
        seen: list[Any] = []
        server, port = await serve(upstream(lambda h, b: reply(b"hello " + b), seen))
        rig = Rig([Backend("127.0.0.1", port, time.monotonic)])
        front = await rig.start()
        answer = await exchange(
            front,
            b"POST /predict?x=1 HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive, x-secret\r\n"
            b"X-Secret: no\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For: 10.0.0.9\r\n\r\n"
            b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b"\r\n\r\nhello abcde")
        head, body = seen[0]
        assert head.startswith(b"POST /predict?x=1 HTTP/1.1\r\n")
        assert body == b"abcde"
        lowered = head.lower()
        assert b"host: svc" in lowered
        assert b"content-length: 5" in lowered
        assert b"transfer-encoding" not in lowered
        assert b"x-secret" not in lowered
        assert b"connection" not in lowered
        assert b"x-forwarded-for: 10.0.0.9, 127.0.0.1" in lowered
        assert rig.traffic.snapshot()["by_class"] == {"2xx": 1}
        await rig.stop(server)

    run(test)


def test_chunked_and_close_delimited_answers_reach_both_kinds_of_client() -> None:
    async def test() -> None:
        def chunked(head: bytes, body: bytes) -> bytes:
            return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\n\r\n"

        server, port = await serve(upstream(chunked, []))
        rig = Rig([Backend("127.0.0.1", port, time.monotonic)])
        front = await rig.start()
        new = await exchange(front, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", until_close=False)
        assert b"transfer-encoding: chunked" in new.lower()
        old = await exchange(front, b"GET / HTTP/1.0\r\n\r\n", until_close=True)
        assert old.endswith(b"\r\n\r\nwiki")
        assert b"chunked" not in old.lower()
        assert b"connection: close" in old.lower()
        await rig.stop(server)

    run(test)


def test_a_head_answer_keeps_its_length_and_has_no_body() -> None:
    async def test() -> None:
        def head_only(head: bytes, body: bytes) -> bytes:
            return b"HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n"

        server, port = await serve(upstream(head_only, []))
        rig = Rig([Backend("127.0.0.1", port, time.monotonic)])
        front = await rig.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", front)
        writer.write(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await reader.readuntil(b"\r\n\r\n")
        second = await reader.readuntil(b"\r\n\r\n")  # the same connection, no body between
        assert b"content-length: 42" in first
        assert b"content-length: 42" in second
        writer.close()
        await writer.wait_closed()
        await rig.stop(server)

    run(test)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", b"400"),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", b"501"),
        (b"GET / HTTP/2.0\r\n\r\n", b"400"),
        (b"GET /a b HTTP/1.1\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", b"413"),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
    ],
    ids=[
        "cl+te",
        "two lengths",
        "gzip",
        "http2",
        "space",
        "header name",
        "folded",
        "too big",
        "negative",
        "chunk size",
        "huge head",
    ],
)
def test_malformed_and_smuggling_requests_are_refused_and_never_forwarded(
    request_bytes: bytes, status: bytes
) -> None:
    async def test() -> None:
        seen: list[Any] = []
        server, port = await serve(upstream(lambda h, b: reply(b"x"), seen))
        rig = Rig([Backend("127.0.0.1", port, time.monotonic)])
        front = await rig.start()
        answer = await exchange(front, request_bytes, until_close=True)
        assert answer.split(b" ")[1] == status
        assert b"connection: close" in answer.lower()
        assert seen == []
        await rig.stop(server)

    run(test)


def test_without_a_replica_a_request_waits_for_one_or_is_answered_503() -> None:
    async def test() -> None:
        nobody = Rig([], coming=False)
        front = await nobody.start()
        started = time.monotonic()
        answer = await exchange(front, b"GET / HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503")
        assert b"has no ready replica" in answer
        assert time.monotonic() - started < 2  # nothing is coming: no wait
        await nobody.stop()

        server, port = await serve(upstream(lambda h, b: reply(b"late"), []))
        waiting = Rig([])
        front = await waiting.start()
        pending = asyncio.ensure_future(exchange(front, b"GET / HTTP/1.1\r\n\r\n"))
        await asyncio.sleep(0.3)
        assert not pending.done()
        waiting.backends.append(Backend("127.0.0.1", port, time.monotonic))
        waiting.proxy.routes_changed()
        assert (await pending).endswith(b"late")
        await waiting.stop(server)

    run(test)


def test_a_replica_that_cannot_be_reached_is_skipped_even_for_a_post() -> None:
    async def test() -> None:
        dead, dead_port = await serve(upstream(lambda h, b: reply(b"never"), []))
        dead.close()
        await dead.wait_closed()
        server, port = await serve(upstream(lambda h, b: reply(b"alive"), []))
        rig = Rig(
            [
                Backend("127.0.0.1", dead_port, time.monotonic),
                Backend("127.0.0.1", port, time.monotonic),
            ]
        )
        front = await rig.start()
        for _ in range(4):
            answer = await exchange(front, b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx")
            assert answer.endswith(b"alive")
        await rig.stop(server)

    run(test)
