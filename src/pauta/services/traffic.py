"""A service's request counters and latency percentiles, kept by its proxy (pure).

Totals count since the supervisor started (Prometheus counters and a cumulative histogram);
the rate and the percentiles cover the last ``WINDOW_S`` seconds, from one small histogram per
second (log-spaced buckets 4% wide), so a snapshot costs the same at 10 or 10,000 requests a
second.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BOUNDS_S: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
"""Upper bounds of the exported histogram's buckets (plus +Inf)."""

WINDOW_S = 60
"""The percentiles cover this many seconds."""
RATE_WINDOW_S = 10
"""The request rate is over this many seconds."""

_FINE_FLOOR_S = 1e-5
_FINE_LOG = math.log(1.04)
_FINE_MAX = 600  # 10 us * 1.04**600: beyond any timeout


def _fine(seconds: float) -> int:
    if seconds <= _FINE_FLOOR_S:
        return 0
    return min(int(math.log(seconds / _FINE_FLOOR_S) / _FINE_LOG) + 1, _FINE_MAX)


def _fine_upper(index: int) -> float:
    return _FINE_FLOOR_S * math.exp(_FINE_LOG * index)


@dataclass(slots=True)
class _Second:
    at: int
    count: int = 0
    errors: int = 0
    fine: dict[int, int] = field(default_factory=dict)


class Traffic:
    """Counts the requests of one service; ``record`` once per request."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._now = monotonic
        self.requests = 0
        self.errors = 0
        self.in_flight = 0
        self.by_class: dict[str, int] = {}
        self.buckets = [0] * (len(BOUNDS_S) + 1)
        self.seconds_total = 0.0
        self._window: deque[_Second] = deque()

    def record(self, status: int, seconds: float) -> None:
        """One answered request: its status (5xx counts as an error) and how long it took."""
        self.requests += 1
        error = status >= 500
        self.errors += error
        kind = f"{status // 100}xx"
        self.by_class[kind] = self.by_class.get(kind, 0) + 1
        self.buckets[bisect_left(BOUNDS_S, seconds)] += 1
        self.seconds_total += seconds
        second = self._second()
        second.count += 1
        second.errors += error
        index = _fine(seconds)
        second.fine[index] = second.fine.get(index, 0) + 1

    def _second(self) -> _Second:
        at = int(self._now())
        window = self._window
        if not window or window[-1].at != at:
            window.append(_Second(at))
            while window[0].at <= at - WINDOW_S:
                window.popleft()
        return window[-1]

    def snapshot(self) -> dict[str, Any]:
        """Totals, the request rate and latency percentiles (milliseconds), JSON-ready."""
        now = int(self._now())
        recent = [s for s in self._window if s.at > now - WINDOW_S]
        rate_count = sum(s.count for s in recent if s.at > now - RATE_WINDOW_S)
        merged: dict[int, int] = {}
        for second in recent:
            for index, count in second.fine.items():
                merged[index] = merged.get(index, 0) + count
        quantiles = percentiles(merged, (0.5, 0.9, 0.99))
        return {
            "requests": self.requests,
            "errors": self.errors,
            "in_flight": self.in_flight,
            "by_class": dict(sorted(self.by_class.items())),
            "rps": round(rate_count / RATE_WINDOW_S, 2),
            "window_requests": sum(s.count for s in recent),
            "window_errors": sum(s.errors for s in recent),
            "p50_ms": quantiles[0],
            "p90_ms": quantiles[1],
            "p99_ms": quantiles[2],
            "histogram": {
                "bounds": list(BOUNDS_S),
                "counts": list(self.buckets),
                "sum": round(self.seconds_total, 6),
            },
        }


def percentiles(fine: dict[int, int], qs: tuple[float, ...]) -> list[float | None]:
    """The ``qs`` quantiles of a fine histogram, in milliseconds (None when it is empty)."""
    total = sum(fine.values())
    if not total:
        return [None for _ in qs]
    found: list[float | None] = []
    ordered = sorted(fine.items())
    for q in qs:
        rank = max(1, math.ceil(q * total))
        seen = 0
        for index, count in ordered:
            seen += count
            if seen >= rank:
                found.append(round(_fine_upper(index) * 1000, 3))
                break
    return found
