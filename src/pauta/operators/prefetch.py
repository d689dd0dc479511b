"""Reading the next chunk while the last one is written.

A transfer is two waits in turn: on the source (to produce and send rows) and on the
destination (to store them). One reader thread that fetches chunk n+1 while chunk n is
written lets both servers work at once. It starts on a chunk only once the consumer took the
last one, so at most two chunks are held: the one being written and the one being read.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()


class Prefetched(Generic[T]):
    """Iterates ``source`` in a thread, one item ahead; ``close()`` stops the thread.

    An exception the source raises is raised again where the item would have come.
    """

    def __init__(self, source: Iterator[T], name: str = "pauta-prefetch") -> None:
        self._source = source
        self._items: queue.Queue[object] = queue.Queue(maxsize=1)
        self._taken = threading.Semaphore(1)  # released when the consumer takes an item
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _wait_taken(self) -> bool:
        while not self._stop.is_set():
            if self._taken.acquire(timeout=0.1):
                return True
        return False

    def _run(self) -> None:
        try:
            while self._wait_taken():
                item = next(self._source, _END)
                if item is _END:
                    break
                if not self._put(item):
                    return
                del item  # the consumer holds it now
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Failure(exc))
            return
        self._put(_END)

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._items.get()
            self._taken.release()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]

    def close(self) -> None:
        """Stop reading ahead and wait for the thread (it ends after the fetch under way)."""
        self._stop.set()
        self._thread.join()


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
