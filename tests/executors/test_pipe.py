"""The executor's messages to and from worker processes: multiprocessing's framing, whole
messages however the bytes arrive, and the end of the other side."""

from __future__ import annotations

import os
import socket
import struct
import threading
from contextlib import suppress
from multiprocessing.connection import Connection

import pytest

from pauta.executors.pipe import MessageReader, read_messages, readable, write_message


def pair() -> tuple[int, int]:
    left, right = socket.socketpair()
    return left.detach(), right.detach()


def close(*fds: int) -> None:
    for fd in fds:
        with suppress(OSError):
            os.close(fd)


@pytest.mark.parametrize("size", [0, 5, 65_535, 65_536, 3_000_000])
def test_a_message_reads_back_whole_in_multiprocessings_framing(size: int) -> None:
    payload = os.urandom(size)
    ours, theirs = pair()
    other = Connection(theirs)
    try:
        # written by one side while the other reads: a large message does not fit the socket
        writer = threading.Thread(target=write_message, args=(ours, payload))
        writer.start()
        assert other.recv_bytes() == payload
        writer.join()
        sender = threading.Thread(target=other.send_bytes, args=(payload,))
        sender.start()
        assert MessageReader(ours).next() == payload
        sender.join()
    finally:
        other.close()
        close(ours)


def test_every_message_that_arrived_is_read_at_once_and_one_at_a_time() -> None:
    ours, theirs = pair()
    try:
        for text in (b"one", b"two", b"three"):
            write_message(theirs, text)
        assert readable(ours)
        assert read_messages(ours) == [b"one", b"two", b"three"]
        assert not readable(ours)
        for text in (b"four", b"five"):
            write_message(theirs, text)
        reader = MessageReader(ours)
        assert [reader.next(), reader.next()] == [b"four", b"five"]
    finally:
        close(ours, theirs)


def test_a_message_begun_is_read_to_its_end_and_a_long_length_is_understood() -> None:
    ours, theirs = pair()
    try:
        payload = b"x" * 100
        frame = struct.pack("!i", -1) + struct.pack("!Q", len(payload)) + payload
        os.write(theirs, frame[:7])  # the header itself arrives in two parts
        finisher = threading.Timer(0.05, lambda: os.write(theirs, frame[7:]))
        finisher.start()
        assert read_messages(ours) == [payload]
        finisher.join()
    finally:
        close(ours, theirs)


def test_the_other_side_gone_is_an_end_of_file() -> None:
    ours, theirs = pair()
    write_message(theirs, b"last words")
    close(theirs)
    try:
        reader = MessageReader(ours)
        assert reader.next() == b"last words"
        assert readable(ours)
        with pytest.raises(EOFError):
            reader.next()
        with pytest.raises(EOFError):
            read_messages(ours)
    finally:
        close(ours)
