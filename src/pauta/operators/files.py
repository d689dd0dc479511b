"""``copy``: one file from one fsspec location to another, in blocks.

Only one block is held at a time, whatever the size of the file; the target appears whole or
not at all (``pauta.operators.storage``). The bytes copied are checked against the source's
size and reported as the task's metrics ``bytes``, ``seconds`` and ``bytes_per_s``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pauta.definitions.context import context
from pauta.definitions.task import task
from pauta.operators.errors import OperatorError

BLOCK = 8 << 20


@dataclass(frozen=True, slots=True)
class Copied:
    """What ``copy`` moved."""

    bytes: int
    seconds: float
    target: str


@task(name="copy")
def copy(src_url: str, dst_url: str, *, block_size: int = BLOCK) -> Copied:
    """Copy the file at ``src_url`` to ``dst_url`` (each a local path or any fsspec URL, such
    as ``s3://bucket/key``), streaming ``block_size`` bytes at a time."""
    from pauta.operators.storage import filesystem, write_atomically

    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise OperatorError(
            f"copy: block_size must be a whole number of bytes >= 1, not {block_size!r}"
        )
    fs, path = filesystem(src_url, "copy")
    if not fs.isfile(path):
        raise OperatorError(f"copy: {src_url} is not a file")
    expected = fs.size(path)
    begun = time.monotonic()
    copied = 0
    with fs.open(path, "rb") as source, write_atomically(dst_url, "copy") as target:
        while block := source.read(block_size):
            target.write(block)
            copied += len(block)
        if expected is not None and copied != expected:
            raise OperatorError(
                f"copy: read {copied} bytes of {src_url} but it has {expected}; {dst_url} was "
                "not written"
            )
    seconds = time.monotonic() - begun
    ctx = context()
    ctx.log_metric("bytes", copied)
    ctx.log_metric("seconds", round(seconds, 3))
    ctx.log_metric("bytes_per_s", round(copied / seconds, 1) if seconds > 0 else 0.0)
    ctx.logger.info(
        "copy: %s bytes from %s to %s in %.2f s", f"{copied:,}", src_url, dst_url, seconds
    )
    return Copied(bytes=copied, seconds=round(seconds, 3), target=str(dst_url))
