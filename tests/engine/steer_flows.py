"""A flow to steer by hand: `second` fails until the file `fixed` exists in STEER_DIR;
`first` and `third` note each run there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pauta import flow, task


def _mark(name: str, text: str) -> None:
    with Path(os.environ["STEER_DIR"], name).open("a") as marks:
        marks.write(text + "\n")


@task
def first() -> int:
    _mark("first", "ran")
    return 1


@task
def second(value: int) -> int:
    if not Path(os.environ["STEER_DIR"], "fixed").exists():
        raise RuntimeError("not yet")
    return value + 1


@task
def third(value: Any) -> Any:
    _mark("third", repr(value))
    return value


@flow
def steer() -> Any:
    return third(second(first())).result()
