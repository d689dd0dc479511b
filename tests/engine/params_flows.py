"""Flows whose parameters are not plain JSON values, for the tests of one form of params."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pauta import context, flow, task


@task
def task_params() -> dict:
    return dict(context().params)


@flow
def dated(day: date = date(2026, 12, 7), folder: Path = Path("/data/in")) -> dict:
    body = dict(context().params)
    return {
        "body": body,
        "task": task_params().result(),
        "args": [type(day).__name__, type(folder).__name__],
    }
