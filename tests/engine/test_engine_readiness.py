"""The engine's wait for its descriptors: readable ones are seen, with or without spinning."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pauta.engine.readiness import Readiness


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


@pytest.mark.parametrize("spin", [0.0, 50e-6])
def test_a_readable_descriptor_ends_the_wait_at_once(
    pair: tuple[socket.socket, socket.socket], spin: float
) -> None:
    reader, writer = pair
    writer.send(b"x")
    started = time.monotonic()
    assert Readiness().wait([reader], 30.0, spin)
    assert time.monotonic() - started < 10  # generous: not the 30 s timeout


@pytest.mark.parametrize("spin", [0.0, 50e-6])
def test_nothing_readable_waits_for_the_timeout(
    pair: tuple[socket.socket, socket.socket], spin: float
) -> None:
    reader, _ = pair
    started = time.monotonic()
    assert not Readiness().wait([reader, reader.fileno()], 0.05, spin)
    assert time.monotonic() - started >= 0.04


def test_a_spinning_wait_still_blocks_until_something_arrives_after_the_spin(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    reader, writer = pair
    later = threading.Timer(0.2, writer.send, args=(b"x",))
    later.start()
    try:
        started = time.monotonic()
        assert Readiness().wait([reader], 30.0, spin=50e-6)
        waited = time.monotonic() - started
    finally:
        later.cancel()
    assert 0.1 < waited < 10


def test_a_zero_timeout_does_not_spin(pair: tuple[socket.socket, socket.socket]) -> None:
    reader, _ = pair
    started = time.monotonic()
    assert not Readiness().wait([reader], 0.0, spin=5.0)
    assert time.monotonic() - started < 2.5  # the 5 s spin would have been spent otherwise
