"""Flows with deadlines that the engine tests drive: each waits at a gate (a named pipe that
the test writes to) so it is still running when the test moves the clock past its deadline."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from pauta import Deadline, flow, task

EVENTS: list[Any] = []
"""The deadline events the flows' on_failure callback got, in the driving process."""
MISSED = threading.Event()


def on_miss(event: Any) -> None:
    if event.what == "deadline_missed":
        EVENTS.append(event)
        MISSED.set()


@task
def gate(path: str) -> str:
    with open(path) as fifo:  # blocks until the test opens the pipe to write
        return fifo.read()


@flow(deadline=timedelta(minutes=10), on_failure=on_miss)
def reported(path: str) -> str:
    return gate(path).result()


@flow(
    deadline=Deadline(within=timedelta(minutes=10), after="queued", cancel=True),
    on_failure=on_miss,
)
def cancelled(path: str) -> str:
    return gate(path).result()


@flow(deadline=timedelta(minutes=10), on_failure=on_miss)
def quick() -> int:
    return 1
