"""How far a data operator got: progress lines in the task's log while it runs, and its
figures as task metrics (``rows``, ``seconds``, ``rows_per_s``) at the end."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pauta.definitions.context import context

# A progress line at most this often, so a fast load does not flood its log.
_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class Moved:
    """What a data operator moved: rows, in how long, and where to."""

    rows: int
    seconds: float
    rows_per_s: float
    target: str


class Progress:
    """Counts rows as chunks go by; ``done`` reports the metrics."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._begun = time.monotonic()
        self._said = self._begun

    def chunk(self, rows: int) -> None:
        now = time.monotonic()
        if now - self._said >= _EVERY_S:
            self._said = now
            rate = rows / max(now - self._begun, 1e-9)
            context().logger.info(
                "%s: %s rows so far (%s rows/s)", self._what, f"{rows:,}", f"{rate:,.0f}"
            )

    def done(self, rows: int, target: str) -> Moved:
        seconds = time.monotonic() - self._begun
        rate = rows / seconds if seconds > 0 else 0.0
        ctx = context()
        ctx.log_metric("rows", rows)
        ctx.log_metric("seconds", round(seconds, 3))
        ctx.log_metric("rows_per_s", round(rate, 1))
        ctx.logger.info(
            "%s: %s rows in %.2f s (%s rows/s)", self._what, f"{rows:,}", seconds, f"{rate:,.0f}"
        )
        return Moved(rows=rows, seconds=round(seconds, 3), rows_per_s=round(rate, 1), target=target)
