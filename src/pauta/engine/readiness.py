"""Waiting until one of the engine's file descriptors is readable.

``multiprocessing.connection.wait`` builds and fills a new selector on every call, about a
tenth of the engine's own time per task when tasks are short. The engine waits on the same few
descriptors again and again (its wakeup socket, the workers' pipes and process sentinels), so
one ``poll`` object is kept and rebuilt only when that set changes.
"""

from __future__ import annotations

import math
import select
from collections.abc import Sequence
from typing import Any


class Readiness:
    """``wait(waitables, timeout)`` over ints and objects with ``fileno()``."""

    def __init__(self) -> None:
        self._fds: tuple[int, ...] = ()
        self._poll = select.poll()

    def wait(self, waitables: Sequence[Any], timeout: float | None) -> bool:
        """Block until one is readable (or closed), or ``timeout`` seconds pass; True if any."""
        fds = tuple(w if isinstance(w, int) else w.fileno() for w in waitables)
        if fds != self._fds:
            self._poll = select.poll()
            for fd in fds:
                self._poll.register(fd, select.POLLIN)
            self._fds = fds
        # Rounded up: a deadline 0.4 ms away must not turn into a busy loop of zero timeouts.
        millis = -1 if timeout is None else math.ceil(max(timeout, 0.0) * 1000)
        try:
            return bool(self._poll.poll(millis))
        except InterruptedError:
            return True
