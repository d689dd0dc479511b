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


@task
def measure(value: float) -> object:
    from pauta_example_plugin.serializer import Measurement

    return Measurement("accuracy", value, "%")


@flow
def measured(value: float) -> object:
    return measure(value).result()
