"""The workload of bench/ray.py: CPU-bound tasks of about 50 ms, and no-op tasks (loaded by
path: this folder is what travels to the Ray cluster)."""

from __future__ import annotations

import time

from pauta import flow, task


def spin(ms: float) -> int:
    """Burn ``ms`` milliseconds of this thread's CPU time."""
    end = time.thread_time() + ms / 1000
    n = 0
    while time.thread_time() < end:
        n += 1
    return n


@task
def burn(i: int, ms: float = 50.0) -> int:
    return spin(ms)


@task
def noop(i: int) -> int:
    return i


@flow
def burn_fan_out(n: int = 1000, ms: float = 50.0) -> int:
    return sum(1 for f in burn.map(list(range(n)), ms=ms) if f.result() >= 0)


@flow
def noop_fan_out(n: int = 1000) -> int:
    return sum(f.result() for f in noop.map(list(range(n))))
