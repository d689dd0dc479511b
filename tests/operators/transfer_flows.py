"""Flows that run the transfer operators in real worker processes (importable by name)."""

from __future__ import annotations

from pauta import flow
from pauta.operators import transfer

nightly = transfer.with_options(retries=1, retry_delay=0.0, name="nightly_copy")


@flow
def copy_table(src: str, dst: str, mode: str = "upsert") -> int:
    moved = nightly(src, "SELECT id, name FROM people", dst, "people", mode=mode, key="id")
    return moved.result().rows
