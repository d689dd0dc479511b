"""Reading task logs and flow logs in pieces: a byte range (to follow a log as it grows) or
the last lines.

Only files inside the logs folder are read (``pauta.app.runs.log_files`` checks each resolved
path against it), whatever a record in the store says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pauta.app.runs import LogFile, log_files
from pauta.engine.flowlog import flow_log_path
from pauta.store.repository import Store

DEFAULT_LIMIT = 256 * 1024
MAX_LIMIT = 4 * 1024 * 1024


def _read_range(path: Path, offset: int, limit: int) -> tuple[bytes, int]:
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(min(offset, size))
        return handle.read(limit), size


def _read_tail(path: Path, lines: int, limit: int) -> tuple[bytes, int, int]:
    """The last ``lines`` lines (within the last ``limit`` bytes): (data, offset, size)."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        start = max(0, size - limit)
        handle.seek(start)
        data = handle.read()
    kept = data.splitlines(keepends=True)[-lines:] if lines else []
    text = b"".join(kept)
    return text, size - len(text), size


def _read_file(path: Path, offset: int, limit: int, tail: int | None) -> dict[str, Any]:
    limit = max(1, min(limit, MAX_LIMIT))
    try:
        if tail is not None:
            data, start, size = _read_tail(path, tail, limit)
        else:
            data, size = _read_range(path, offset, limit)
            start = min(offset, size)
    except FileNotFoundError:
        data, start, size = b"", 0, 0
    end = start + len(data)
    return {
        "size": size,
        "offset": start,
        "next_offset": end,
        "more": end < size,
        "text": data.decode("utf-8", errors="replace"),
    }


def read_piece(
    log: LogFile, *, offset: int = 0, limit: int = DEFAULT_LIMIT, tail: int | None = None
) -> dict[str, Any]:
    """One attempt's log: ``limit`` bytes from ``offset``, or its last ``tail`` lines."""
    return {"key": log.key, "attempt": log.attempt, **_read_file(log.path, offset, limit, tail)}


def read_flow_log(
    store: Store,
    logs_dir: Path,
    run_id: str,
    *,
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
    tail: int | None = None,
) -> dict[str, Any]:
    """What the run's flow body printed or logged (see ``pauta.engine.flowlog``): ``limit``
    bytes from ``offset``, or the last ``tail`` lines; empty when the body wrote nothing."""
    run = store.get_flow_run(run_id)  # the id of a real run, never a path from the request
    path = flow_log_path(logs_dir, run.id).resolve()
    if not path.is_relative_to(logs_dir.resolve()):
        path = logs_dir / run.id / "missing"  # a link out of the logs folder reads as nothing
    return {"run_id": run.id, **_read_file(path, offset, limit, tail)}


def read_logs(
    store: Store,
    logs_dir: Path,
    run_id: str,
    key: str | None = None,
    *,
    attempt: int | None = None,
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
    tail: int | None = None,
) -> list[dict[str, Any]]:
    """Pieces of the logs of a run's attempts (of one task call when ``key`` is given, of one
    attempt when ``attempt`` is), in key and attempt order."""
    files = log_files(store, logs_dir, run_id, key)
    if attempt is not None:
        files = [f for f in files if f.attempt == attempt]
    return [read_piece(f, offset=offset, limit=limit, tail=tail) for f in files]
