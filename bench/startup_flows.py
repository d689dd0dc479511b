"""The flows of bench/startup.py, each run as a whole process:
`pauta run bench/startup_flows.py:FLOW -p n=N`."""

from __future__ import annotations

from pauta import flow, task


@task
def noop(upstream: object = None) -> None:
    return None


@task
def root(n: int) -> list[int]:
    return list(range(n))


@flow
def one_task() -> None:
    """One no-op task: what start-up costs."""
    noop().result()


@flow
def fanout(n: int = 1000) -> None:
    """A root that returns n items, one no-op per item, one sink that waits for all of them."""
    items = noop.map(root(n))
    noop(wait_for=items).result()


@flow
def chain(n: int = 1000) -> None:
    """n no-op tasks, each taking the previous one's result."""
    previous = noop()
    for _ in range(n - 1):
        previous = noop(previous)
    previous.result()
