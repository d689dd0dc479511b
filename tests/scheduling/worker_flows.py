"""Flows the worker tests queue and run."""

from __future__ import annotations

import time

from pauta import context, flow, task


@task
def note(path: str, text: str) -> str:
    with open(path, "a") as handle:
        handle.write(text + "\n")
    return text


@flow
def marked(path: str, pause: float = 0.1) -> str:
    """Writes the run id once per run, so tests see each run executed exactly once."""
    time.sleep(pause)
    return note(path, str(context().run_id)).result()


@task
def step(path: str, label: str, pause: float) -> str:
    with open(path, "a") as handle:
        handle.write(label + ":start\n")
    time.sleep(pause)
    with open(path, "a") as handle:
        handle.write(label + "\n")
    return label


@flow
def steps(path: str, count: int = 5, pause: float = 0.5) -> list[str]:
    previous = None
    done = []
    for index in range(count):
        previous = step(
            path, f"step{index}", pause, wait_for=[previous] if previous is not None else []
        )
        done.append(previous)
    return [f.result() for f in done]
