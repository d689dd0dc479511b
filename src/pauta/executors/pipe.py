"""Messages between an executor and a worker process over their pipes: pickles, each framed as
``multiprocessing.connection`` frames them (a 4-byte big-endian length, or -1 and an 8-byte
length), read and written with ``os.read`` and ``os.write``.

``multiprocessing.connection`` would do, but importing it (with tempfile, random and the rest
of multiprocessing) costs every worker process about 10 ms of its start-up, and on the
executor's side its two reads per message and its Python layers cost a third of the time it
spends per item; one read here takes every message that has arrived.
"""

from __future__ import annotations

import os
import pickle
import select
import struct

PROTOCOL = pickle.HIGHEST_PROTOCOL
READY = "ready"
"""What a worker sends once it reached its main loop (the only ``str`` message it sends)."""

_HEADER = struct.Struct("!i")
_BIG = struct.Struct("!Q")
_CHUNK = 1 << 16


def write_message(fd: int, payload: bytes) -> None:
    """Write one message whole (a blocking file descriptor)."""
    size = len(payload)
    header = _HEADER.pack(size) if size <= 0x7FFFFFFF else _HEADER.pack(-1) + _BIG.pack(size)
    small = size < _CHUNK
    for chunk in (memoryview(header + payload),) if small else (header, payload):
        view = memoryview(chunk)
        while len(view):
            view = view[os.write(fd, view) :]


def _read(fd: int, limit: int) -> bytes:
    chunk = os.read(fd, limit)
    if not chunk:
        raise EOFError
    return chunk


def _complete(fd: int, buffer: bytes, size: int) -> bytes:
    if len(buffer) >= size:
        return buffer
    parts = bytearray(buffer)
    while len(parts) < size:
        parts += _read(fd, size - len(parts))
    return bytes(parts)


def _split(fd: int, buffer: bytes, limit: int | None) -> tuple[list[bytes], bytes]:
    """The whole messages at the start of ``buffer`` (reading the rest of one begun), at most
    ``limit`` of them, and what follows them."""
    messages: list[bytes] = []
    while buffer and (limit is None or len(messages) < limit):
        buffer = _complete(fd, buffer, 4)
        (size,) = _HEADER.unpack_from(buffer)
        start = 4
        if size == -1:
            buffer = _complete(fd, buffer, 12)
            (size,) = _BIG.unpack_from(buffer, 4)
            start = 12
        end = start + size
        buffer = _complete(fd, buffer, end)
        messages.append(buffer[start:end])
        buffer = buffer[end:]
    return messages, buffer


def read_messages(fd: int) -> list[bytes]:
    """Every message that has arrived (call when ``fd`` is readable; blocks otherwise). A
    message whose start has arrived is read whole: each is written in one go. EOFError when
    the other end is closed."""
    messages, _ = _split(fd, _read(fd, _CHUNK), None)
    return messages


class MessageReader:
    """Messages one at a time from a blocking file descriptor (the worker's side), reading
    ahead what has arrived."""

    __slots__ = ("_buffer", "fd")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""

    def next(self) -> bytes:
        """The next message; EOFError when the other end is closed."""
        if not self._buffer:
            self._buffer = _read(self.fd, _CHUNK)
        [message], self._buffer = _split(self.fd, self._buffer, 1)
        return message


def readable(fd: int) -> bool:
    """Whether a read on ``fd`` would not block (a message, or the end)."""
    ready, _, _ = select.select([fd], [], [], 0)
    return bool(ready)
