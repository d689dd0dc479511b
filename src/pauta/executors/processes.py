"""The executor's handle on a worker process: starting it (a fresh interpreter running
``pauta.executors.worker``), sending it work and reading its outcomes on their pipes, stopping,
killing and reaping it, and what is left of its attempt's log when it dies.

Light on purpose: ``pauta run`` starts its first worker with this before it imports the rest of
the executor, so that the worker boots while the command loads the flow and the engine.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import subprocess
import sys
from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from pauta.core.files import private_opener
from pauta.core.host import hostname
from pauta.executors.capture import adopt_scratch, owner_path, scratch_path
from pauta.executors.pipe import PROTOCOL, read_messages, readable, write_message

if TYPE_CHECKING:
    from pauta.executors.base import WorkItem

# After this many distinct runs or functions a worker is told to forget them all, so a
# long-lived pool does not grow; they are simply sent again.
_REMEMBER_MAX = 1000


class WorkerProcess:
    """The executor's handle on one worker process, and what it already sent it."""

    __slots__ = (
        "busy",
        "closed",
        "fd",
        "gone",
        "gpu",
        "last_log",
        "name",
        "pid",
        "proc",
        "ready",
        "refs",
        "runs",
        "sentinel",
        "work_fd",
    )  # fmt: skip

    def __init__(
        self,
        gpu: tuple[int, ...],
        lifeline: int,
        *,
        python: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Start the process; it waits for its configuration (``configure``). ``python`` and
        ``environ`` start it in another environment (a task's virtualenv): that interpreter,
        with these variables added; by default it runs this interpreter."""
        # two pipes: work to the worker, outcomes back
        work_r, self.work_fd = os.pipe()
        self.fd, outcome_w = os.pipe()
        cuda = ",".join(str(g) for g in gpu) if gpu else None
        env = None
        if cuda is not None or environ:
            env = {**os.environ, **(environ or {})}
            if cuda is not None:
                env["CUDA_VISIBLE_DEVICES"] = cuda
        argv = [
            python or sys.executable,
            *subprocess._args_from_interpreter_flags(),  # -O, -X ... as this process runs
            "-c",
            "from pauta.executors.worker import boot; boot()",
            str(work_r),
            str(outcome_w),
            str(lifeline),
        ]
        try:
            # Its own session (setsid), so the executor can kill it with everything it started.
            self.proc = subprocess.Popen(
                argv,
                pass_fds=(work_r, outcome_w, lifeline),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            for fd in (self.work_fd, self.fd):
                os.close(fd)
            raise
        finally:
            os.close(work_r)
            os.close(outcome_w)
        self.pid: int = self.proc.pid
        self.closed = False
        # Readable once the process has exited, even when a child it forked keeps its pipes.
        self.sentinel: int | None = None
        with suppress(AttributeError, OSError):
            self.sentinel = os.pidfd_open(self.pid)
        self.gpu = gpu
        self.name = f"{hostname()}:{self.pid}"
        self.busy: Any = None  # the executor's record of the item it runs
        self.ready = False  # it said READY: it reached its main loop
        self.gone = False
        self.last_log = ""
        self.runs: set[str] = set()
        self.refs: set[str] = set()

    def configure(
        self,
        results_url: str,
        inline_max: int,
        *,
        sys_path: list[str] | None = None,
        home: str | None = None,
    ) -> None:
        """Send the worker its configuration, its first message: where results go, how large
        an inline result may be, its module path (``sys_path``: a virtualenv's worker keeps its
        own path with these folders after it; by default this process's path) and pauta's home
        (``PAUTA_HOME`` in the worker when its environment names none)."""
        config = {
            "sys_path": sys.path if sys_path is None else sys_path,
            "own_path": sys_path is not None,
            "results_url": results_url,
            "inline_max": inline_max,
            "home": home,
        }
        with suppress(OSError):  # a worker that died at once is noticed by its EOF
            self._write(pickle.dumps(config, PROTOCOL))

    def send_item(self, item: WorkItem) -> bool:
        """Send ``item``; False when the worker is dead (its EOF tells the rest)."""
        run = item.run
        ref: Any = item.task_ref
        try:
            if len(self.runs) >= _REMEMBER_MAX or len(self.refs) >= _REMEMBER_MAX:
                self.runs.clear()
                self.refs.clear()
                self._write(pickle.dumps(("forget",), PROTOCOL))
            run_part = None
            if run.run_id not in self.runs:
                run_part = run
                self.runs.add(run.run_id)
            if ref.token:
                if ref.token in self.refs:
                    ref = ref.token
                else:
                    self.refs.add(ref.token)
            self.last_log = item.log_path
            message = (
                "work", run.run_id, run_part, ref, item.key, item.task_name,
                item.attempt, item.args_blob, item.log_path, item.is_async,
            )  # fmt: skip
            self._write(pickle.dumps(message, PROTOCOL))
        except OSError:
            return False
        return True

    def _write(self, payload: bytes) -> None:
        write_message(self.work_fd, payload)

    def read_messages(self) -> list[bytes]:
        """The messages that can be read now (call when ``fd`` is readable). Raises EOFError
        when the worker's end is closed (it died)."""
        return read_messages(self.fd)

    def has_data(self) -> bool:
        """Whether a message (or the end) is there to read without waiting."""
        return not self.closed and readable(self.fd)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)
            os.close(self.work_fd)

    def kill(self) -> None:
        """SIGKILL the worker and everything in its process group.

        Only called before the worker is reaped, so its pid (the group id) cannot be reused.
        """
        for kill in (os.killpg, os.kill):
            with suppress(ProcessLookupError, PermissionError):
                kill(self.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Ask an idle worker to exit (it is reaped later with ``reap``)."""
        with suppress(OSError):
            self._write(pickle.dumps(("stop",), PROTOCOL))
        self.close()

    def reap(self, timeout: float, log_path: str | None = None) -> int | None:
        """Wait for the exit (killing after ``timeout`` s), release it, return its exit code.

        ``log_path``: the attempt it was running, which gets what that attempt printed.
        """
        if self.sentinel is not None:
            # The pidfd is readable the moment the process exits; Popen.wait(timeout) would
            # poll with sleeps that double (0.5 ms, 1, 2, 4 ...) and overshoot a quick exit.
            with suppress(OSError):
                select.select([self.sentinel], [], [], timeout)
            timeout = 0
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        self.close()
        if self.sentinel is not None:
            with suppress(OSError):
                os.close(self.sentinel)
            self.sentinel = None
        if self.last_log:
            log_dir = os.path.dirname(self.last_log)
            scratch = scratch_path(log_dir, self.pid)
            with suppress(OSError):
                if log_path is not None:
                    adopt_scratch(scratch, log_path)
                else:
                    os.unlink(scratch)
            with suppress(OSError):
                os.unlink(owner_path(log_dir, self.pid))
        return code


def exit_text(code: int | None) -> str:
    """How a worker process ended, for people."""
    if code is None:
        return "the task's process died"
    if code < 0:
        with suppress(ValueError):
            return f"the task's process died with exit code {code} ({signal.Signals(-code).name})"
    return f"the task's process died with exit code {code}"


def append_to_log(path: str, text: str) -> None:
    """Add a line of the executor's own to an attempt's log (a kill, a crash)."""
    with suppress(OSError), open(path, "a", encoding="utf-8", opener=private_opener) as handle:
        handle.write(f"pauta: {text}\n")


def log_tail(path: str, limit: int = 4000) -> str:
    """The end of an attempt's log: the best account of a crash there is."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Prestarted:
    """A first worker started before its executor exists (before the process even knows its
    settings), and the lifeline pipe it holds; ``configure`` it before the executor adopts it."""

    __slots__ = ("inline_max", "lifeline", "results_url", "worker")

    def __init__(self) -> None:
        # Workers hold the read end; it reads EOF when this process dies (see _watch_parent).
        self.lifeline = os.pipe()
        self.worker = WorkerProcess((), self.lifeline[0])
        self.results_url: str | None = None
        self.inline_max: int | None = None

    def configure(self, results_url: str, inline_max: int, home: str) -> None:
        self.results_url, self.inline_max = results_url, inline_max
        self.worker.configure(results_url, inline_max, home=home)

    def discard(self) -> None:
        """Stop the worker and release the pipe (nothing will adopt it)."""
        self.worker.kill()
        self.worker.reap(10)
        for fd in self.lifeline:
            with suppress(OSError):
                os.close(fd)
