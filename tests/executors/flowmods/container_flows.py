"""Flows whose tasks run in containers, for the container executor's tests (loaded by path)."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time

from pauta import Resources, context, flow, secret, task

IMAGE = "localhost/pauta-test:1"
MISSING_IMAGE = "localhost/pauta-no-such-image:0"


@task(isolation="container", image=IMAGE, resources=Resources(cpus=1, memory="256MiB"))
def inside(numbers: list[int]) -> dict[str, object]:
    ctx = context()
    print("printed in the container")
    ctx.log_metric("count", len(numbers))
    return {
        "total": sum(numbers),
        "hostname": socket.gethostname(),
        "in_container": os.path.exists("/run/.containerenv") or os.path.exists("/.dockerenv"),
        "python": list(sys.version_info[:2]),
        "key": ctx.task_key,
    }


@task
def on_the_host(found: dict[str, object]) -> str:
    """A process task fed by a container task's result."""
    return f"{found['total']} from {found['key']}"


@flow
def container_then_process(numbers: list[int]) -> dict[str, object]:
    found = inside(numbers)
    return {"found": found.result(), "described": on_the_host(found).result()}


@task(isolation="container", image=IMAGE, resources=Resources(memory="64MiB"))
def greedy() -> int:
    block = bytearray(200 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not just reserved
    return len(block)


@flow
def too_greedy() -> None:
    greedy().result()


@task(isolation="container", image=IMAGE, timeout=1)
def sleeps(seconds: float) -> None:
    time.sleep(seconds)


@flow
def container_timeout() -> None:
    sleeps(60).result()


@task(isolation="container", image=MISSING_IMAGE)
def nowhere() -> None:
    raise AssertionError("there is no image to run this in")


@flow
def missing_image() -> None:
    nowhere().result()


@task(isolation="container", image=IMAGE)
def uses_the_runtime() -> dict[str, object]:
    ctx = context()
    token = secret("CONTAINER_TEST_TOKEN")
    print(f"the token is {token}")
    logging.getLogger("user.code").warning("from a user logger in the container")
    ctx.log_metric("loss", 0.25, step=3)
    return {"run_id": ctx.run_id, "attempt": ctx.attempt, "token_length": len(token)}


@flow
def runtime_inside() -> dict[str, object]:
    return uses_the_runtime().result()


@task(isolation="container", image=IMAGE, retries=1, retry_delay=0)
def flaky() -> str:
    ctx = context()
    if ctx.attempt == 1:
        raise ConnectionError("the first attempt fails")
    return f"attempt {ctx.attempt} in {socket.gethostname()}"


@flow
def retried() -> str:
    return flaky().result()
