"""An attempt's output while it runs on a Ray node, streamed to the driver's log.

The node's side (``Streamer``, a thread beside the attempt) reads what the attempt wrote so
far to its capture file every ``EVERY_S`` seconds and sends the complete lines, masked, to
a ``LogSink`` actor the driver owns (zero cpus, so it never takes a slot). The driver polls
the sink and appends each piece to the attempt's log, so ``pauta runs logs --follow`` and
the UI show a long task's lines before it ends.

Why an actor: it is Ray's own channel, so it works on any cluster (no shared folder, no store
that must allow appends), calls from one worker to it run in the order they were made, and
it lives and dies with the driver that created it. Short attempts send nothing: their output
travels back with the outcome, as before. Each piece carries the byte offset it starts at in
what the attempt sent, and the outcome says where its tail starts, so the driver writes
every byte once and in order; a stream id per submission keeps a re-run after a lost node
apart from the run it replaces.
"""

from __future__ import annotations

import os
import threading
from contextlib import suppress
from typing import Any

from pauta.core.secrets import mask_bytes

EVERY_S = 0.5
PIECE_MAX = 1024 * 1024  # the most one read sends; a line longer than that goes in parts


class LogSink:
    """The actor: pieces of output by stream id, until the driver takes them."""

    def __init__(self) -> None:
        self._pieces: list[tuple[str, int, bytes]] = []

    def push(self, stream: str, start: int, data: bytes) -> None:
        self._pieces.append((stream, start, data))

    def take(self) -> list[tuple[str, int, bytes]]:
        pieces, self._pieces = self._pieces, []
        return pieces


class Streamer:
    """Sends what an attempt writes to ``path`` to ``sink`` while it runs (a thread)."""

    def __init__(self, sink: Any, stream: str, path: str) -> None:
        self._sink, self._stream, self._path = sink, stream, path
        self._read = 0  # bytes of the file sent
        self.sent = 0  # bytes sent, as masked
        self._last: Any = None  # the last push, to wait for before the attempt answers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pauta-ray-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(EVERY_S):
            with suppress(Exception):  # a stream that fails leaves the output to the outcome
                self._send()

    def _send(self) -> None:
        try:
            with open(self._path, "rb") as handle:
                handle.seek(self._read)
                data = handle.read(PIECE_MAX)
        except FileNotFoundError:
            return
        if not data:
            return
        cut = data.rfind(b"\n") + 1  # whole lines: a secret is never split between pieces
        if not cut:
            if len(data) < PIECE_MAX:
                return
            cut = len(data)
        masked = mask_bytes(data[:cut])
        self._last = self._sink.push.remote(self._stream, self.sent, masked)
        self._read += cut
        self.sent += len(masked)

    def stop(self) -> int:
        """Stop sending; once the sink has every piece sent, how many bytes it has."""
        self._stop.set()
        self._thread.join()
        if self._last is not None:
            import ray

            try:
                ray.get(self._last, timeout=10)
            except Exception:
                return 0  # the sink is gone: the whole output travels with the outcome
        return self.sent


def scratch_of(log_dir: str) -> str:
    """The file this worker process's capture writes an attempt's output to."""
    from pauta.executors.capture import scratch_path

    return scratch_path(log_dir, os.getpid())


class LogFollower:
    """The driver's side: where each stream's pieces go, and how much of each was written."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, tuple[str, int]] = {}  # stream id: (log path, bytes written)

    def follow(self, stream: str, log_path: str) -> None:
        with self._lock:
            self._logs[stream] = (log_path, 0)

    def forget(self, stream: str) -> None:
        with self._lock:
            self._logs.pop(stream, None)

    def __bool__(self) -> bool:
        return bool(self._logs)

    def write(self, stream: str, start: int, data: bytes) -> None:
        """Write what of ``data`` (from byte ``start`` of the stream) was not written yet;
        pieces of streams no longer followed (a cancelled attempt) are dropped."""
        with self._lock:
            found = self._logs.get(stream)
            if found is None:
                return
            path, written = found
            if start < written:
                data = data[written - start :]
            if data:
                append_output(path, data)
            self._logs[stream] = (path, max(written, start + len(data)))

    def complete(self, stream: str, start: int) -> bool:
        """Whether every piece before byte ``start`` (where the outcome's tail begins) was
        written: otherwise some still wait in the sink."""
        with self._lock:
            found = self._logs.get(stream)
            return found is None or found[1] >= start

    def end(self, stream: str, start: int, tail: bytes, log_path: str) -> None:
        """The attempt's tail (from byte ``start``) is its last output: write it, forget it."""
        with self._lock:
            followed = stream in self._logs
        if followed:
            self.write(stream, start, tail)
        elif tail:
            append_output(log_path, tail)
        self.forget(stream)


def append_output(path: str, output: bytes) -> None:
    """Add what an attempt printed on its node to its log here."""
    from pauta.core.files import make_private_dirs, private_opener

    folder = os.path.dirname(path)
    if folder:
        make_private_dirs(folder)
    with open(path, "ab", opener=private_opener) as handle:
        handle.write(output)
