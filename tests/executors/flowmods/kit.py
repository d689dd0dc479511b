"""Helpers shared by the executor tests: building work items and collecting outcomes."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from multiprocessing.connection import wait
from pathlib import Path

import cloudpickle

from pauta.core.loading import load_file
from pauta.executors.base import RunInfo, WorkItem
from pauta.executors.loading import task_ref_for

HERE = Path(__file__).parent
tasks = load_file(HERE / "tasks.py")

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
RUN = RunInfo(
    run_id="run-1",
    flow_name="weekly",
    params={"min_accuracy": 0.8},
    logical_date=T0,
    interval_start=T0,
    interval_end=T0,
)


class Wakeup:
    def __init__(self) -> None:
        self.event = threading.Event()

    def set(self) -> None:
        self.event.set()


_counter = iter(range(1_000_000))


def item(
    fn,
    *args,
    log_dir: Path,
    key: str | None = None,
    attempt: int = 1,
    timeout: float | None = None,
    gpu_ids: tuple[int, ...] = (),
    is_async: bool = False,
    run: RunInfo = RUN,
    **kwargs,
) -> WorkItem:
    key = key or f"{getattr(fn, '__name__', 'task')}-{next(_counter)}"
    return WorkItem(
        run=run,
        key=key,
        task_name=getattr(fn, "__name__", "task"),
        attempt=attempt,
        task_ref=task_ref_for(fn),
        args_blob=cloudpickle.dumps((args, kwargs)),
        log_path=str(log_dir / run.run_id / f"{key}.{attempt}.log"),
        timeout=timeout,
        gpu_ids=gpu_ids,
        is_async=is_async,
    )


def collect(executor, count: int, timeout: float = 60.0) -> list:
    """Wait on the executor's waitables like the engine does until ``count`` outcomes came."""
    outcomes: list = []
    deadline = time.monotonic() + timeout
    while len(outcomes) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"only {len(outcomes)} of {count} outcomes after {timeout} s")
        waitables = executor.waitables()
        if waitables:
            wait(waitables, min(left, 0.5))
        else:
            time.sleep(0.01)
        outcomes.extend(executor.collect())
    return outcomes


def run_one(executor, work: WorkItem, timeout: float = 60.0):
    executor.submit([work])
    (outcome,) = collect(executor, 1, timeout)
    return outcome


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


__all__ = ["RUN", "Wakeup", "alive", "collect", "files_under", "item", "os", "run_one", "tasks"]
