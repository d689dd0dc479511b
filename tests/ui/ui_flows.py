"""Flows the browser tests drive through a real `pauta server` (copied into its flows folder)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pauta import flow, group, task


@task
def prepare() -> int:
    return 20


@task
def fragile(value: int) -> int:
    """Fails on its first attempt ever (a marker file under the pauta home remembers it)."""
    marker = Path(os.environ["PAUTA_HOME"]) / "fragile-failed-once"
    if not marker.exists():
        marker.write_text("1")
        raise RuntimeError("fragile fails the first time, on purpose")
    print(f"fragile got {value}")
    return value + 1


@task
def finish(value: int) -> int:
    return value * 2


@flow
def flaky() -> int:
    """Fails until its middle task is retried."""
    return finish(fragile(prepare())).result()


@task
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@flow
def sleepy(seconds: float = 30.0) -> float:
    """Sleeps: long enough to be cancelled while it runs."""
    return nap(seconds).result()


@task(label="square {x}")
def square(x: int) -> int:
    return x * x


@flow
def wide(n: int = 50) -> int:
    """Maps a task over n items: one node of the graph, however many they are."""
    return sum(f.result() for f in square.map(list(range(n))))


@flow
def history() -> None:
    """The browser tests write this flow's runs, with their metrics, straight into the store."""


@task
def load() -> int:
    return 5


@task
def check(value: int, fail: bool) -> int:
    if fail:
        raise RuntimeError("check refuses, on purpose")
    return value


@task
def report(value: object) -> str:
    return f"report of {value!r}"


@flow
def steered() -> str:
    """Fails in its middle task: to mark it SUCCEEDED from the run page."""
    return report(check(load(), True)).result()


@flow
def steady() -> str:
    """Succeeds: to clear a call from the run page and see it run again."""
    return report(check(load(), False)).result()


@task
def fit(kind: str) -> str:
    if kind == "bad":
        raise RuntimeError("this model does not fit, on purpose")
    return kind


@task
def evaluate(models: list[str]) -> int:
    return len(models)


@flow
def grouped() -> None:
    """Nested task groups: train (with forest inside it) fails in forest; report is outside."""
    prepared = prepare()
    with group("train"):
        linear = fit("linear")
        with group("forest"):
            deep = fit("bad")
            shallow = fit("shallow")
    evaluate([linear, deep, shallow])
    load()
    prepared.result()
