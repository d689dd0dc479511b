"""When the next attempt of a failed task may start: a pure function of the attempt number."""

from __future__ import annotations

from collections.abc import Callable

from pauta.definitions.options import TaskOptions


def retry_delay(
    failed_attempts: int,
    *,
    base: float,
    backoff: float = 2.0,
    jitter: bool = True,
    max_delay: float | None = None,
    rand: Callable[[], float] | None = None,
) -> float:
    """Seconds to wait after the ``failed_attempts``-th failure (1 for the first).

    Exponential: ``base * backoff ** (failed_attempts - 1)``, capped at ``max_delay``. With
    jitter the delay is drawn uniformly from [delay / 2, delay], so many tasks that failed
    together (a database restart) do not retry in lockstep, while the wait never drops below
    half the nominal delay. ``rand`` draws from [0, 1) (``random.random`` unless given).
    """
    if failed_attempts < 1:
        raise ValueError("failed_attempts counts from 1")
    delay = base * backoff ** (failed_attempts - 1)
    if max_delay is not None:
        delay = min(delay, max_delay)
    if jitter:
        if rand is None:
            import random  # here: a run whose tasks never fail never draws

            rand = random.random
        delay = delay * (0.5 + 0.5 * rand())
    return max(delay, 0.0)


def should_retry(options: TaskOptions, failed_attempts: int, error_types: tuple[str, ...]) -> bool:
    """Whether a task that failed ``failed_attempts`` times gets another attempt.

    ``error_types`` are the qualified names of the exception's class and its bases; with
    ``retry_on`` set, only those errors are retried. Crashes and timeouts count as failures.
    """
    if failed_attempts > options.retries:
        return False
    if not options.retry_on:
        return True
    wanted = {f"{t.__module__}.{t.__qualname__}" for t in options.retry_on}
    wanted |= {t.__qualname__ for t in options.retry_on}
    return any(name in wanted for name in error_types)


def delay_after(options: TaskOptions, failed_attempts: int) -> float:
    """The wait before the next attempt of a task with these options (``TaskOptions``)."""
    return retry_delay(
        failed_attempts,
        base=options.retry_delay,
        backoff=options.retry_backoff,
        jitter=options.retry_jitter,
        max_delay=options.max_retry_delay,
    )
