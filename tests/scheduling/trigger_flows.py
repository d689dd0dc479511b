"""Flows that trigger other flows (tests/scheduling/test_scheduling_trigger_flow.py)."""

from __future__ import annotations

from pauta import flow, task, trigger_flow


@task
def double(n: int) -> int:
    if n < 0:
        raise ValueError(f"cannot double {n}")
    return 2 * n


@flow
def etl(n: int) -> int:
    return double(n).result()


@flow
def parent(n: int = 3, wait: bool = True) -> str:
    return trigger_flow(etl, {"n": n}, wait=wait, poke_interval=0.05).result()


@flow
def parent_by_name(n: int = 3) -> str:
    return trigger_flow("etl", {"n": n}, poke_interval=0.05).result()


@flow
def parent_with_bad_params() -> str:
    return trigger_flow(etl, {"n": "three"}).result()
