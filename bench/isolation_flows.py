"""The workloads of bench/isolation.py: no-op tasks in worker processes, in a virtualenv and in
containers (of ``PAUTA_BENCH_IMAGE``, by default the tests' ``localhost/pauta-test:1``)."""

from __future__ import annotations

import os

from pauta import flow, task

IMAGE = os.environ.get("PAUTA_BENCH_IMAGE") or "localhost/pauta-test:1"


@task
def in_process(upstream: object = None) -> None:
    return None


@task(isolation="venv")
def in_venv(upstream: object = None) -> None:
    return None


@task(isolation="container", image=IMAGE)
def in_container(upstream: object = None) -> None:
    return None


TASKS = {"process": in_process, "venv": in_venv, "container": in_container}


@flow
def chain(kind: str, n: int) -> None:
    """n no-op tasks, each waiting for the previous one."""
    noop = TASKS[kind]
    previous = noop()
    for _ in range(n - 1):
        previous = noop(previous)
    previous.result()


@flow
def fanout(kind: str, n: int) -> None:
    """One root, n - 2 parallel no-ops that depend on it, one sink that waits for all."""
    noop = TASKS[kind]
    root = noop()
    middle = [noop(root) for _ in range(max(n - 2, 0))]
    noop(wait_for=middle).result()


@flow
def one(kind: str) -> None:
    TASKS[kind]().result()
