"""Per-attempt log capture.

In a worker process, file descriptors 1 and 2 (and ``sys.stdout``/``sys.stderr``) are pointed
at the attempt's log, so ``print``, the task logger, C extensions and child processes all
write there (through a scratch file that becomes the log, see ``FdCapture``). In the driving
process (the inline executor) descriptors are shared by every thread, so a proxy installed as
``sys.stdout``/``sys.stderr`` routes each write to the log of the attempt running in the
current thread (a context variable), and to the real stream otherwise. Output from child
processes or C code of inline tasks is not captured. A flow body's output is routed the same
way, to its run's flow log (``route_thread_output``, used by ``pauta.engine.flowlog``).

A log that stays empty is never created: thousands of silent tasks leave no files behind.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any, TextIO

from pauta.core.files import PRIVATE_FILE, make_private_dirs, private_opener
from pauta.core.secrets import mask

_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


def scratch_path(log_dir: str, pid: int) -> str:
    """Where worker ``pid`` collects the output of the attempt it runs, in ``log_dir``."""
    return os.path.join(log_dir, f".worker-{pid}.partial")


def owner_path(log_dir: str, pid: int) -> str:
    """Where worker ``pid`` notes whose log its scratch file is (the attempt's log path): if
    the whole process tree dies, the next driver gives the output to that attempt."""
    return os.path.join(log_dir, f".worker-{pid}.attempt")


_SCRATCH = re.compile(r"\.worker-(\d+)\.partial")


def recover_scratch(log_dir: str, alive: Callable[[int], bool]) -> list[str]:
    """Give what dead workers' scratch files in ``log_dir`` hold to the attempts they ran.

    For workers that died with their driver (kill -9, a crash of the machine), no executor was
    left to do it. Returns the log paths that got output; scratch files of workers ``alive``
    says still run, and those whose attempt is unknown, are left alone.
    """
    try:
        names = os.listdir(log_dir)
    except FileNotFoundError:
        return []
    root = os.path.realpath(log_dir)
    adopted = []
    for name in names:
        found = _SCRATCH.fullmatch(name)
        if found is None or alive(int(found.group(1))):
            continue
        pid = int(found.group(1))
        owner = owner_path(log_dir, pid)
        try:
            with open(owner, "rb") as handle:
                log_path = handle.read().split(b"\n", 1)[0].decode()
        except (FileNotFoundError, UnicodeDecodeError):
            continue
        # the note is only trusted to name a log beside it
        if os.path.dirname(os.path.realpath(log_path)) != root:
            continue
        adopt_scratch(os.path.join(log_dir, name), log_path)
        with suppress(FileNotFoundError):
            os.unlink(owner)
        adopted.append(log_path)
    return adopted


def adopt_scratch(scratch: str, log_path: str) -> None:
    """Move what a scratch file holds to ``log_path`` (appending), or drop it when empty."""
    try:
        if os.stat(scratch).st_size == 0:
            os.unlink(scratch)
            return
    except FileNotFoundError:
        return
    try:
        # link() refuses to replace an existing log (an earlier part of this attempt's log).
        os.link(scratch, log_path)
    except FileExistsError:
        _append(scratch, log_path)
    except OSError:  # no hard links on this filesystem
        if os.path.exists(log_path):
            _append(scratch, log_path)
        else:
            os.rename(scratch, log_path)
            return
    os.unlink(scratch)


def _append(source_path: str, target_path: str) -> None:
    import shutil  # here: worker processes start without it, and this is rare

    with (
        open(source_path, "rb") as source,
        open(target_path, "ab", opener=private_opener) as target,
    ):
        shutil.copyfileobj(source, target)


class FdCapture:
    """Redirects the whole process's output to the running attempt's log (worker processes).

    Output first goes to a scratch file beside the logs, kept open across attempts; an
    attempt that wrote something gets the file renamed to its log (a new scratch is made for
    the next one). A silent attempt thus costs no file creation at all. If the worker dies
    mid-attempt, its executor moves the scratch file to the attempt's log (``adopt_scratch``);
    if the executor died too, the next driver of the run does (``recover_scratch``), told by
    a small note beside the scratch file which attempt it belongs to (one write per attempt).
    """

    def __init__(self) -> None:
        # The original stdout/stderr, kept open for the process's lifetime so each attempt
        # costs two dup2 calls to restore instead of a dup and a close.
        self._saved_out = os.dup(1)
        self._saved_err = os.dup(2)
        self._dir: str | None = None
        self._fd = -1
        self._owner_fd = -1  # the note naming the attempt the scratch file is for
        self._stream: TextIO | None = None
        self._log_path = self._log_dir = ""
        self._old: tuple[Any, Any] | None = None

    def _scratch(self, log_dir: str) -> TextIO:
        if self._stream is not None and self._dir == log_dir and not self._stream.closed:
            return self._stream
        if self._dir != log_dir:
            self._drop_owner()
        self._drop_scratch()
        if log_dir:
            make_private_dirs(log_dir)
        self._dir = log_dir
        if self._owner_fd < 0:
            owner = owner_path(log_dir, os.getpid())
            self._owner_fd = os.open(owner, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
        # owner-only: it holds the attempt's output before secrets are masked in it
        self._fd = os.open(scratch_path(log_dir, os.getpid()), _LOG_FLAGS, PRIVATE_FILE)
        self._stream = open(  # noqa: SIM115 - closed by _drop_scratch
            self._fd, "a", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False
        )
        return self._stream

    def _drop_owner(self) -> None:
        if self._owner_fd >= 0 and self._dir is not None:
            os.close(self._owner_fd)
            self._owner_fd = -1
            with suppress(FileNotFoundError):
                os.unlink(owner_path(self._dir, os.getpid()))

    def _drop_scratch(self) -> None:
        if self._stream is None:
            return
        self._stream.close()
        os.close(self._fd)
        self._stream = None
        if self._dir is not None:
            # Empty, or holding late output of a finished task's children: nobody's log.
            with suppress(FileNotFoundError):
                os.unlink(scratch_path(self._dir, os.getpid()))

    def capture(self, log_path: str) -> FdCapture:
        """Send fds 1 and 2, ``sys.stdout`` and ``sys.stderr`` to ``log_path`` for a block.

        Use as ``with capture.capture(path) as stream:``; one block at a time.
        """
        self._log_path = log_path
        return self

    # A class-based context manager: this runs for every attempt, and a generator-based
    # one costs several microseconds more.
    def __enter__(self) -> TextIO:
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError, AttributeError):
                stream.flush()
        self._log_dir = log_dir = self._log_path.rpartition("/")[0]
        stream = self._scratch(log_dir)
        # before any output: a shorter path than the last leaves old bytes after the newline
        os.pwrite(self._owner_fd, self._log_path.encode() + b"\n", 0)
        self._old = sys.stdout, sys.stderr
        os.dup2(self._fd, 1)
        os.dup2(self._fd, 2)
        sys.stdout = sys.stderr = stream
        return stream

    def __exit__(self, *exc_info: object) -> None:
        stream = self._stream
        assert stream is not None
        with suppress(OSError, ValueError):
            stream.flush()
        sys.stdout, sys.stderr = self._old
        self._old = None
        os.dup2(self._saved_out, 1)
        os.dup2(self._saved_err, 2)
        if os.fstat(self._fd).st_size:
            # The attempt wrote something: the scratch file becomes its log. Children of the
            # task that still hold the file keep writing to that log.
            stream.close()
            os.close(self._fd)
            self._stream = None
            adopt_scratch(scratch_path(self._log_dir, os.getpid()), self._log_path)

    def close(self) -> None:
        self._drop_scratch()
        self._drop_owner()
        os.close(self._saved_out)
        os.close(self._saved_err)


def _flush_quietly(*streams: Any) -> None:
    for stream in streams:
        with suppress(OSError, ValueError, AttributeError):
            stream.flush()


# -- in the driving process -------------------------------------------------------------------

_target: ContextVar[TextIO | None] = ContextVar("pauta_capture_target", default=None)
_echo: ContextVar[bool] = ContextVar("pauta_capture_echo", default=False)
_install_lock = threading.Lock()


class _Router:
    """Stands in for ``sys.stdout``/``sys.stderr``: writes go to the current attempt's log."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def write(self, text: str) -> int:
        target = _target.get()
        if target is None:
            return self._real.write(text)  # type: ignore[no-any-return]
        written = target.write(text)
        if _echo.get():
            self._real.write(mask(text))  # shown on the terminal, with secrets masked too
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        target = _target.get()
        (self._real if target is None else target).flush()

    def __getattr__(self, name: str) -> Any:
        # fileno, isatty, encoding, buffer...: the real stream's.
        return getattr(self._real, name)


def _install_routers() -> None:
    # Something (pytest, an IDE) may have replaced the streams since last time: re-wrap.
    if isinstance(sys.stdout, _Router) and isinstance(sys.stderr, _Router):
        return
    with _install_lock:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout)  # type: ignore[assignment]
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router(sys.stderr)  # type: ignore[assignment]


class _LazyLog:
    """A line-buffered log file opened on the first write, so silent tasks create nothing."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: TextIO | None = None

    def write(self, text: str) -> int:
        if self._file is None:
            if not text:
                return 0
            folder = os.path.dirname(self.path)
            if folder:
                make_private_dirs(folder)
            self._file = open(  # noqa: SIM115 - closed by close()
                self.path,
                "a",
                buffering=1,
                encoding="utf-8",
                errors="backslashreplace",
                opener=private_opener,
            )
        return self._file.write(text)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@contextmanager
def route_thread_output(target: Any, *, echo: bool = False) -> Iterator[None]:
    """Send this thread's (and its asyncio tasks') ``sys.stdout``/``sys.stderr`` writes to
    ``target`` for the block; with ``echo``, to the real stream as well (secrets masked)."""
    _install_routers()
    token = _target.set(target)
    echo_token = _echo.set(echo)
    try:
        yield
    finally:
        _echo.reset(echo_token)
        _target.reset(token)


@contextmanager
def thread_capture(log_path: str) -> Iterator[TextIO]:
    """Route this thread's (and its asyncio tasks') ``sys.stdout``/``sys.stderr`` writes."""
    log = _LazyLog(log_path)
    try:
        with route_thread_output(log):
            yield log  # type: ignore[misc]
    finally:
        log.close()
