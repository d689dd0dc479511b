"""The workload of bench/packing.py: sleeping tasks of 1-4 cpus, some urgent, some chained.

Tasks sleep (so a 2-core machine can host a declared capacity of 8 cpus) and return the wall
times they measured themselves, ``(start, end)``. ``workload`` is seeded, so the flow and the
script that computes the lower bound see the same tasks.
"""

from __future__ import annotations

import random
import time
from itertools import pairwise
from typing import Any, NamedTuple

from pauta import Resources, flow, task

URGENT = 5


class Spec(NamedTuple):
    cpus: int
    seconds: float
    priority: int
    after: int | None  # the index of the task this one waits for (its chain predecessor)


def workload(n: int = 300, seed: int = 7, chains: int = 10, chain_length: int = 5) -> list[Spec]:
    """``n`` tasks: cpus 1-4, 0.05-0.5 s, one in five urgent, and ``chains`` chains of
    ``chain_length`` tasks each (at random places in the submit order)."""
    rng = random.Random(seed)
    cpus = [rng.randint(1, 4) for _ in range(n)]
    seconds = [round(rng.uniform(0.05, 0.5), 3) for _ in range(n)]
    priority = [URGENT if rng.random() < 0.2 else 0 for _ in range(n)]
    after: list[int | None] = [None] * n
    linked = rng.sample(range(n), min(n, chains * chain_length))
    for c in range(chains):
        members = sorted(linked[c * chain_length : (c + 1) * chain_length])
        for previous, current in pairwise(members):
            after[current] = previous
    return [Spec(cpus[i], seconds[i], priority[i], after[i]) for i in range(n)]


def _span(seconds: float) -> tuple[float, float]:
    start = time.time()
    time.sleep(seconds)
    return start, time.time()


@task(resources=Resources(cpus=1))
def cpu1(seconds: float, after: Any = None) -> tuple[float, float]:
    return _span(seconds)


@task(resources=Resources(cpus=2))
def cpu2(seconds: float, after: Any = None) -> tuple[float, float]:
    return _span(seconds)


@task(resources=Resources(cpus=3))
def cpu3(seconds: float, after: Any = None) -> tuple[float, float]:
    return _span(seconds)


@task(resources=Resources(cpus=4))
def cpu4(seconds: float, after: Any = None) -> tuple[float, float]:
    return _span(seconds)


@task(resources=Resources(cpus=1), priority=URGENT)
def cpu1_urgent(seconds: float, after: Any = None) -> tuple[float, float]:
    return _span(seconds)


@task(resources=Resources(cpus=2), priority=URGENT)
def cpu2_urgent(seconds: float, after: Any = None) -> tuple[float, float]:
    return _span(seconds)


@task(resources=Resources(cpus=3), priority=URGENT)
def cpu3_urgent(seconds: float, after: Any = None) -> tuple[float, float]:
    return _span(seconds)


@task(resources=Resources(cpus=4), priority=URGENT)
def cpu4_urgent(seconds: float, after: Any = None) -> tuple[float, float]:
    return _span(seconds)


TASKS = {
    (1, 0): cpu1,
    (2, 0): cpu2,
    (3, 0): cpu3,
    (4, 0): cpu4,
    (1, URGENT): cpu1_urgent,
    (2, URGENT): cpu2_urgent,
    (3, URGENT): cpu3_urgent,
    (4, URGENT): cpu4_urgent,
}


@flow
def packing(n: int = 300, seed: int = 7) -> list[tuple[float, float]]:
    """Submit the whole workload at once; return each task's (start, end), in submit order."""
    futures: list[Any] = []
    for spec in workload(n, seed):
        after = futures[spec.after] if spec.after is not None else None
        futures.append(TASKS[(spec.cpus, spec.priority)](spec.seconds, after))
    return [tuple(f.result()) for f in futures]


@flow
def warm_up(workers: int = 8) -> None:
    """One short task per worker, so every worker has imported this module before timing."""
    spans = [cpu1(0.05) for _ in range(workers)]
    for span in spans:
        span.result()
