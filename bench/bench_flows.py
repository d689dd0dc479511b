"""The workloads of bench/overhead.py: no-op tasks as a chain and as a fan-out."""

from __future__ import annotations

from pauta import flow, task


@task
def noop(upstream: object = None) -> None:
    return None


@flow
def chain(n: int) -> None:
    """n no-op tasks, each waiting for the previous one."""
    previous = noop()
    for _ in range(n - 1):
        previous = noop(previous)
    previous.result()


@flow
def fanout(n: int) -> None:
    """One root, n - 2 parallel no-ops that depend on it, one sink that waits for all."""
    root = noop()
    middle = [noop(root) for _ in range(max(n - 2, 0))]
    noop(wait_for=middle).result()


@flow
def one_task() -> None:
    noop().result()
