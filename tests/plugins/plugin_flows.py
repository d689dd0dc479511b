"""Flows of the plugin tests."""

from __future__ import annotations

from pauta import flow, task


@task
def double(n: int) -> int:
    return 2 * n


@task
def explode() -> None:
    raise RuntimeError("the warehouse is on fire")


@flow
def doubled(n: int) -> int:
    return double(n).result()


@flow
def failing() -> None:
    explode().result()
