"""The lockout after repeated failed logins, per user name and per client address.

A few failures are free; after them each failure locks the key out for twice as long as the
last one (1 s, 2 s, 4 s... up to a cap), and an attempt made while locked out is refused before
its password is checked, so guessing is slowed to a crawl whichever way it is spread: many
passwords for one user, or one address trying many users. A success resets the count, and a
key that stays quiet for a while is forgotten.

Pure: every method takes ``now`` (seconds on a monotonic clock) and does no I/O. The number of
keys kept is bounded; the least recently failed are dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

FREE_FAILURES = 5
FIRST_LOCKOUT_S = 1.0
MAX_LOCKOUT_S = 300.0
FORGET_AFTER_S = 900.0
MAX_KEYS = 10_000


@dataclass(slots=True)
class _Failures:
    count: int
    last: float
    locked_until: float


class LoginThrottle:
    """Failed logins by key (such as ``user:NAME`` and ``address:IP``); thread-safe."""

    def __init__(
        self,
        *,
        free_failures: int = FREE_FAILURES,
        first_lockout_s: float = FIRST_LOCKOUT_S,
        max_lockout_s: float = MAX_LOCKOUT_S,
        forget_after_s: float = FORGET_AFTER_S,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if free_failures < 1 or max_keys < 1:
            raise ValueError("free_failures and max_keys must be at least 1")
        if first_lockout_s <= 0 or max_lockout_s < first_lockout_s:
            raise ValueError("first_lockout_s must be positive and at most max_lockout_s")
        self.free_failures = free_failures
        self.first_lockout_s = first_lockout_s
        self.max_lockout_s = max_lockout_s
        self.forget_after_s = forget_after_s
        self.max_keys = max_keys
        self._keys: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def retry_after(self, keys: Iterable[str], now: float) -> float:
        """Seconds until an attempt with these keys may be made; 0 when it may now."""
        with self._lock:
            found = [self._live(key, now) for key in keys]
        wait = max((f.locked_until - now for f in found if f is not None), default=0.0)
        return max(wait, 0.0)

    def failed(self, keys: Iterable[str], now: float) -> None:
        """Count a failed attempt against each key, locking out those past the free ones."""
        with self._lock:
            for key in keys:
                found = self._live(key, now)
                if found is None:
                    found = self._keys[key] = _Failures(0, now, now)
                found.count += 1
                found.last = now
                beyond = found.count - self.free_failures
                if beyond >= 0:
                    lockout = min(self.first_lockout_s * 2.0 ** min(beyond, 64), self.max_lockout_s)
                    found.locked_until = now + lockout
                self._keys.move_to_end(key)
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)

    def succeeded(self, keys: Iterable[str]) -> None:
        """A successful attempt: the keys start afresh."""
        with self._lock:
            for key in keys:
                self._keys.pop(key, None)

    def _live(self, key: str, now: float) -> _Failures | None:
        found = self._keys.get(key)
        if (
            found is not None
            and now >= found.locked_until
            and now - found.last > self.forget_after_s
        ):
            del self._keys[key]
            return None
        return found
