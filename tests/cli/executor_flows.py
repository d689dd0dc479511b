"""A flow whose calls run on different executors (the `executor` field in JSON)."""

from __future__ import annotations

from pauta import flow, task


@task
def on_default(x: int) -> int:
    return x + 1


@task(executor="inline")
def on_inline(x: int) -> int:
    return x * 2


@flow
def spread(x: int = 1) -> int:
    return on_inline(on_default(x)).result()
