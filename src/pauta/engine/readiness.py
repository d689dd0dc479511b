"""Waiting until one of the engine's file descriptors is readable.

``multiprocessing.connection.wait`` builds and fills a new selector on every call, about a
tenth of the engine's own time per task when tasks are short. The engine waits on the same few
descriptors again and again (its wakeup socket, the workers' pipes and process sentinels), so
one ``poll`` object is kept and rebuilt only when that set changes.

A thread blocked in ``poll`` takes tens of microseconds to run again once a descriptor becomes
readable (longer on a virtual machine), which is a fifth of the engine's time per task in a
chain of short tasks. With tasks in flight the engine first polls without blocking for a few
tens of microseconds (``spin``): an outcome that arrives meanwhile is handled at once.
"""

from __future__ import annotations

import math
import select
import time
from collections.abc import Sequence
from typing import Any


class Readiness:
    """``wait(waitables, timeout)`` over ints and objects with ``fileno()``."""

    def __init__(self) -> None:
        self._fds: tuple[int, ...] = ()
        self._poll = select.poll()

    def wait(self, waitables: Sequence[Any], timeout: float | None, spin: float = 0.0) -> bool:
        """Block until one is readable (or closed), or ``timeout`` seconds pass; True if any.

        With ``spin`` (seconds), poll without blocking for up to that long first.
        """
        fds = tuple(w if isinstance(w, int) else w.fileno() for w in waitables)
        if fds != self._fds:
            self._poll = select.poll()
            for fd in fds:
                self._poll.register(fd, select.POLLIN)
            self._fds = fds
        # Rounded up: a deadline 0.4 ms away must not turn into a busy loop of zero timeouts.
        millis = -1 if timeout is None else math.ceil(max(timeout, 0.0) * 1000)
        try:
            if spin > 0.0 and millis != 0:
                poll, clock = self._poll.poll, time.perf_counter
                until = clock() + spin
                while clock() < until:
                    if poll(0):
                        return True
            return bool(self._poll.poll(millis))
        except InterruptedError:
            return True
