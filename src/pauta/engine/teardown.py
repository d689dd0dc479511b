"""Teardown calls: what bounds them once their run is being cancelled."""

from __future__ import annotations

CANCEL_TEARDOWN_LIMIT = 300.0
"""Seconds a teardown attempt may run once its run is being cancelled (its own timeout, if
shorter, still holds): a cancel waits for clean-up, but not forever."""


def attempt_timeout(timeout: float | None, *, cancelling_teardown: bool) -> float | None:
    """The timeout of an attempt: a teardown's, in a run being cancelled, is bounded."""
    if not cancelling_teardown:
        return timeout
    return CANCEL_TEARDOWN_LIMIT if timeout is None else min(timeout, CANCEL_TEARDOWN_LIMIT)
