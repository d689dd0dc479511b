"""The flow log: what a flow body prints or logs, kept with its run.

Task attempts have their own logs; the body's ``print`` and ``context().logger`` lines go to
``logs/<run_id>/flow.log`` under the pauta home, masked like task logs and readable only by
their owner. The file is created on the first write: a silent body leaves none.

A process that drives one run in a terminal (`pauta run`, a script calling a flow) also shows
the lines there. Workers and the server drive many runs at once, so they keep the lines only
in each run's flow log (``quiet_flow_output``): on one shared stderr they could not be told
apart, and nobody would read them there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from pauta.core.secrets import mask, mask_file
from pauta.executors.capture import route_thread_output

FLOW_LOG_NAME = "flow.log"

_echo: ContextVar[bool] = ContextVar("pauta_flow_echo", default=True)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


def flow_log_path(logs_dir: Path, run_id: str) -> Path:
    """Where the flow log of run ``run_id`` is (task keys never make this name)."""
    return logs_dir / run_id / FLOW_LOG_NAME


@contextmanager
def quiet_flow_output() -> Iterator[None]:
    """Flow bodies driven inside the block keep their output only in their flow logs."""
    token = _echo.set(False)
    try:
        yield
    finally:
        _echo.reset(token)


class FlowLog:
    """A masked, owner-only, line-buffered log file opened on the first write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1

    def write(self, text: str) -> int:
        if not text:
            return 0
        if self._fd < 0:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._fd = os.open(self.path, _FLAGS, 0o600)
        # each write goes straight to the file: the run page shows it while the body runs
        data = mask(text).encode("utf-8", errors="backslashreplace")
        while data:
            data = data[os.write(self._fd, data) :]
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            # a value registered as a secret after it was written is masked now
            mask_file(self.path)


@contextmanager
def capture_flow_output(path: Path) -> Iterator[FlowLog]:
    """Keep what this thread prints or logs in the block in the flow log at ``path``."""
    log = FlowLog(path)
    try:
        with route_thread_output(log, echo=_echo.get()):
            yield log
    finally:
        log.close()
