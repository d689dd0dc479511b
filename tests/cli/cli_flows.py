"""Flows the CLI tests run through `pauta run` in subprocesses."""

from __future__ import annotations

import time
from datetime import date

from pauta import flow, task


@task
def record(path: str, label: str) -> str:
    with open(path, "a") as handle:
        handle.write(label + "\n")
    return label


@task
def slow_record(path: str, label: str, seconds: float) -> str:
    with open(path, "a") as handle:
        handle.write(label + ":start\n")
    time.sleep(seconds)
    with open(path, "a") as handle:
        handle.write(label + "\n")
    return label


@task
def fail(message: str) -> None:
    raise RuntimeError(message)


@flow
def greet(name: str, times: int = 1, day: date | None = None) -> str:
    """Say hello."""
    return f"hello {name} x{times} on {day}"


@flow
def broken(message: str = "kaput") -> None:
    fail(message).result()


@flow
def durable(path: str, steps: int = 6, pause: float = 0.4) -> list[str]:
    """A chain of steps; each appends to ``path`` so tests count executions."""
    done = []
    previous = None
    for index in range(steps):
        wait = [previous] if previous is not None else []
        previous = slow_record(path, f"step{index}", pause, wait_for=wait)
        done.append(previous)
    return [f.result() for f in done]


@flow
def waits_for_ready(folder: str) -> int:
    """Records a step, then waits for a file with a sensor."""
    from pauta import sensors

    record(f"{folder}/steps.txt", "before").result()
    found = sensors.file(f"{folder}/*.ready", poke_interval=0.1, timeout=120)
    return len(found.result())


@flow
def switch_interval() -> float:
    """The GIL switch interval of the process that drives the flow."""
    import sys

    return sys.getswitchinterval()


@task
def square(x: int) -> int:
    if x == 7:
        raise ValueError("seven is not welcome")
    return x * x


@flow
def many(n: int = 30) -> int:
    """n calls of one task, one of which fails (and fails the run)."""
    squares = square.map(range(n))
    return sum(f.result() for f in squares if f.exception() is None)


@flow
def rec(n: int = 0) -> int:
    """Calls itself with no end."""
    return rec(n + 1)


@flow
def chain(path: str, n: int = 20) -> int:
    """A long chain of child flows, each waiting for a slow task first."""
    slow_record(path, f"level{n}", 0.3).result()
    return chain(path, n - 1) if n > 0 else 0


@task
def summarise_week(n: int) -> str:
    return " ".join(f"customer-{index} spent {index * 3.5} on the week" for index in range(n))


@task
def validate_summary(summary: str) -> str:
    raise ValueError(f"the summary is not valid: {summary}")


@task
def train_on_summary(summary: str) -> str:
    return summary


@flow
def wide(n: int = 40) -> None:
    """A long preview and a long error: tables that do not fit 80 columns."""
    summary = summarise_week(n)
    train_on_summary(validate_summary(summary))
