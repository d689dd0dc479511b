"""The HTTP server's bounds on slow and idle clients, over raw sockets against the uvicorn
configuration `pauta server` uses."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pauta.api import create_app
from pauta.api.limits import BODY_TIMEOUT_S
from pauta.api.serving import HEADER_TIMEOUT_S, MAX_HEADER_BYTES, HTTPServerThread
from pauta.core.settings import Settings
from pauta.store.repository import Store

pytestmark = pytest.mark.slow

BOUND_S = max(HEADER_TIMEOUT_S, BODY_TIMEOUT_S) + 15  # generous: it only has to end


@pytest.fixture
def address(tmp_path: Path, flows_dir: Path) -> Iterator[tuple[str, int]]:
    store = Store(f"sqlite:///{tmp_path / 'pauta.db'}")
    app = create_app(Settings.from_env(tmp_path / "home"), store=store, flows_dir=flows_dir)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = HTTPServerThread(app, sock).start()
    try:
        yield "127.0.0.1", sock.getsockname()[1]
    finally:
        server.stop()
        sock.close()
        store.close()


def _seconds_until_closed(address: tuple[str, int], send: bytes) -> float:
    """Connect, send ``send`` (maybe nothing), and wait for the server to close."""
    start = time.monotonic()
    with socket.create_connection(address, timeout=BOUND_S) as conn:
        conn.sendall(send)
        try:
            while conn.recv(65536):
                pass  # an answer, if any, then the end
        except TimeoutError:
            return float("inf")
    return time.monotonic() - start


def test_idle_and_half_sent_connections_are_closed(address: tuple[str, int]) -> None:
    cases = {
        "nothing sent": b"",
        "half a request head": b"GET /health HTTP/1.1\r\nHost: pauta\r\nX-Slow: ",
        "a body never sent": (
            b"POST /api/v1/flows/greet/runs HTTP/1.1\r\nHost: pauta\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10\r\n\r\n{"
        ),
    }
    with ThreadPoolExecutor(len(cases)) as pool:
        took = dict(
            zip(
                cases,
                pool.map(lambda b: _seconds_until_closed(address, b), cases.values()),
                strict=True,
            )
        )
    for name, seconds in took.items():
        assert seconds < BOUND_S, (name, took)


def test_an_idle_keep_alive_connection_is_closed(address: tuple[str, int]) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: pauta\r\n\r\n"
    assert _seconds_until_closed(address, request) < BOUND_S


def test_a_head_sent_slowly_but_whole_is_served(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=BOUND_S) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\n")
        time.sleep(0.5)
        conn.sendall(b"Host: pauta\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer


def test_a_request_head_that_never_ends_is_refused_past_the_limit(
    address: tuple[str, int],
) -> None:
    # a head that keeps coming without its blank line is not buffered without bound
    head = b"GET /health HTTP/1.1\r\nHost: pauta\r\nX-Big: " + b"a" * (2 * MAX_HEADER_BYTES)
    with socket.create_connection(address, timeout=BOUND_S) as conn:
        conn.sendall(head)
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400"), answer
