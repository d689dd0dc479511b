"""Flows that call copies of tasks made with ``Task.with_options`` (importable by name)."""

from __future__ import annotations

from pathlib import Path

from pauta import context, flow, task


@task
def fails_first(path: str) -> int:
    """Fails the first time (counted in a file), then returns the attempt number."""
    counter = Path(path)
    seen = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(seen + 1))
    if seen == 0:
        raise ConnectionError("first try fails")
    return context().attempt


sturdy = fails_first.with_options(retries=2, retry_delay=0.0, name="sturdy")


@flow
def copy_and_original(path: str, other: str) -> dict[str, object]:
    copied = sturdy(path)
    original = fails_first(other)
    original.wait()
    return {"copy": copied.result(), "original": str(original.state)}


@task
def nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


@flow
def copy_with_a_timeout() -> float:
    return nap.with_options(timeout=0.5, name="short_nap")(30).result()
