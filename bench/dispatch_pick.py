"""Micro benchmark of the ready queue: µs per task to push N tasks and pick them all.

Each scenario pushes N tasks, then calls ``pick`` as the engine loop would: with 2 free cpus,
starting what it returns and finishing it before the next call (so every pick starts about
two tasks and must skip the rest of the queue cheaply). Run:

    .venv/bin/python bench/dispatch_pick.py [N ...]
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable

from pauta.core.resources import Resources
from pauta.dispatch.queue import ReadyQueue, ReadyTask, RunningCounts

TOTAL = Resources(cpus=8, memory="32GiB", gpus=1)
FREE = Resources(cpus=2, memory="8GiB", gpus=1)
ONE_CPU = Resources(cpus=1)


def uniform(i: int, rng: random.Random) -> ReadyTask:
    """The common case: thousands of identical no-op tasks of one flow run."""
    return ReadyTask(("run", i), ONE_CPU, enqueued_at=i * 1e-4)


SHAPES = [Resources(cpus=1), Resources(cpus=2), Resources(cpus=0.5, memory="1GiB")]


def mixed(i: int, rng: random.Random) -> ReadyTask:
    """Three request shapes, priorities 0-3, a third of them in a 4-slot pool."""
    return ReadyTask(
        ("run", i),
        rng.choice(SHAPES),
        priority=rng.randrange(4),
        enqueued_at=i * 1e-4,
        pool="db" if i % 3 == 0 else None,
    )


def many_runs(i: int, rng: random.Random) -> ReadyTask:
    """200 flow runs, each capped at 2 running tasks (max_active_tasks)."""
    run = f"run-{i % 200}"
    return ReadyTask((run, i), ONE_CPU, enqueued_at=i * 1e-4, group=run, group_limit=2)


def run_scenario(make: Callable[[int, random.Random], ReadyTask], n: int) -> tuple[float, float]:
    rng = random.Random(42)
    tasks = [make(i, rng) for i in range(n)]
    queue = ReadyQueue(TOTAL)
    running = RunningCounts()
    pools = {"db": 4}
    t0 = time.perf_counter()
    for task in tasks:
        queue.push(task)
    t1 = time.perf_counter()
    now, picks = 100.0, 0
    while queue:
        started = queue.pick(FREE, running=running, pools=pools, now=now)
        for task in started:
            running.started(task)
        for task in started:  # they finish before the next loop iteration
            running.finished(task)
        now += 0.01
        picks += 1
        if picks > 10 * n:
            raise RuntimeError("the queue stopped making progress")
    t2 = time.perf_counter()
    return (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6


def main(sizes: list[int]) -> None:
    scenarios = [("uniform", uniform), ("mixed", mixed), ("200 runs x limit 2", many_runs)]
    print(f"{'scenario':<20} {'N':>8} {'push µs/task':>13} {'pick µs/task':>13} {'total':>8}")
    for name, make in scenarios:
        for n in sizes:
            push, pick = run_scenario(make, n)
            print(f"{name:<20} {n:>8} {push:>13.2f} {pick:>13.2f} {push + pick:>8.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000])
