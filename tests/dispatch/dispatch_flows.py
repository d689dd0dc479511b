"""Tasks and flows for the dispatch end-to-end tests, run in real worker processes.

Every task sleeps and returns a :data:`Span`: what it was, what it asked for, and the wall
times it measured itself at its start and end, so the tests can replay who ran when.
"""

from __future__ import annotations

import time

from pauta import Resources, flow, task

# (label, cpus asked for, start, end), times from time.time() in the worker process.
Span = tuple[str, float, float, float]

SHORT = 0.2


def _sleep(label: str, cpus: float, seconds: float) -> Span:
    start = time.time()
    time.sleep(seconds)
    return (label, cpus, start, time.time())


@task(resources=Resources(cpus=1))
def one_cpu(label: str, seconds: float = SHORT) -> Span:
    return _sleep(label, 1, seconds)


@task(resources=Resources(cpus=2))
def two_cpus(label: str, seconds: float = SHORT) -> Span:
    return _sleep(label, 2, seconds)


@task(resources=Resources(cpus=3))
def three_cpus(label: str, seconds: float = SHORT) -> Span:
    return _sleep(label, 3, seconds)


@task
def gate(seconds: float = 0.3) -> None:
    """Holds its dependents back, so they are all queued before any of them can start."""
    time.sleep(seconds)


@task
def routine(label: str, seconds: float = SHORT) -> Span:
    return _sleep(label, 1, seconds)


@task(priority=5)
def urgent(label: str, seconds: float = SHORT) -> Span:
    return _sleep(label, 1, seconds)


@task(pool="db")
def pooled(label: str, seconds: float = SHORT) -> Span:
    return _sleep(label, 1, seconds)


@task(max_concurrency=1)
def one_at_a_time(label: str, seconds: float = SHORT) -> Span:
    return _sleep(label, 1, seconds)


@flow
def mixed_sizes(rounds: int = 3) -> list[Span]:
    """1-, 2- and 3-cpu tasks, all ready at once, more than fits at a time."""
    futures = []
    for i in range(rounds):
        futures += [
            three_cpus(f"three-{i}"),
            two_cpus(f"two-{i}"),
            one_cpu(f"one-{i}a"),
            one_cpu(f"one-{i}b"),
        ]
    return [f.result() for f in futures]


@flow
def late_urgent(routines: int = 3) -> list[Span]:
    """Routine tasks submitted first, the urgent one last, all held on one gate."""
    held = gate()
    futures = [routine(f"routine-{i}", wait_for=[held]) for i in range(routines)]
    futures.append(urgent("urgent", wait_for=[held]))
    return [f.result() for f in futures]


@flow
def through_a_pool(n: int = 6) -> list[Span]:
    futures = [pooled(f"pooled-{i}") for i in range(n)]
    return [f.result() for f in futures]


@flow
def limited_task(n: int = 3) -> list[Span]:
    """Calls of a max_concurrency=1 task, beside other tasks that may run alongside them."""
    futures = [one_at_a_time(f"serial-{i}") for i in range(n)]
    futures += [one_cpu(f"free-{i}") for i in range(n)]
    return [f.result() for f in futures]


@flow(max_active_tasks=1)
def one_task_at_a_time() -> list[Span]:
    futures = [one_cpu("a"), two_cpus("b"), one_cpu("c"), routine("d")]
    return [f.result() for f in futures]
