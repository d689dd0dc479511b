"""``shell``: run a command, its output streaming into the task's log line by line.

A string runs in ``bash -c``; a list runs as it is, with no shell. The command runs in a
process group of its own that is killed whole on ``timeout``, when the task is cancelled or
timed out, or when the task's process dies (see ``pauta.operators.groups``); processes it leaves
in the background are ended when it exits. Its exit code must be in ``ok_codes``.
"""

from __future__ import annotations

import os
import select
import selectors
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from pauta.definitions.task import task
from pauta.operators.errors import CommandFailed, CommandTimeout, OperatorError
from pauta.operators.groups import GuardedGroup, start

TAIL_LINES = 50
TAIL_CHARS = 8000
_READ = 1 << 16
# A line longer than this is passed on in pieces rather than held back whole.
_LONGEST_LINE = 1 << 16


@dataclass(frozen=True, slots=True)
class ShellResult:
    """How a ``shell`` command ended: its exit code and the last lines it wrote to stdout."""

    code: int
    stdout: str
    seconds: float


class _Tail:
    """The last ``TAIL_LINES`` lines of a stream (at most ``TAIL_CHARS`` characters)."""

    def __init__(self) -> None:
        self._lines: deque[str] = deque(maxlen=TAIL_LINES)

    def add(self, line: str) -> None:
        self._lines.append(line)

    def text(self) -> str:
        return "".join(self._lines)[-TAIL_CHARS:]


class _Stream:
    """One of the command's pipes: split into lines, each written to ``out`` as it comes."""

    def __init__(self, pipe: IO[bytes], out: Any) -> None:
        self.pipe = pipe
        self.out = out
        self.tail = _Tail()
        self._partial = b""

    def read(self) -> bool:
        """Pass on what can be read now; False at end of file."""
        chunk = os.read(self.pipe.fileno(), _READ)
        if not chunk:
            self.finish()
            return False
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            self._emit(line + b"\n")
        if len(self._partial) > _LONGEST_LINE:
            self._emit(self._partial)
            self._partial = b""
        return True

    def finish(self) -> None:
        """Pass on a last line that has no newline (ended with one in the log, so that what
        comes next in the log starts a line of its own)."""
        if self._partial:
            self._emit(self._partial, end="\n")
            self._partial = b""

    def _emit(self, raw: bytes, end: str = "") -> None:
        text = raw.decode("utf-8", "replace")
        self.tail.add(text)
        # the task's log: a worker points sys.stdout at it, the inline executor routes this
        # thread's writes there; flushed per line, so the log shows the line now
        self.out.write(text + end)
        self.out.flush()


def _argv(command: str | Sequence[str]) -> list[str]:
    if isinstance(command, str):
        if not command.strip():
            raise OperatorError("shell: the command is empty")
        return ["bash", "-c", command]
    argv = [os.fspath(part) for part in command]
    if not argv or not all(isinstance(part, str) for part in argv):
        raise OperatorError(f"shell: a command list holds strings, got {command!r}")
    return argv


def _environment(env: Mapping[str, str] | None) -> dict[str, str] | None:
    if env is None:
        return None
    bad = [k for k, v in env.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise OperatorError(f"shell: env names and values must be strings ({bad[0]!r} is not)")
    return {**os.environ, **env}


def _seconds(timeout: float | timedelta | None) -> float | None:
    if isinstance(timeout, timedelta):
        timeout = timeout.total_seconds()
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise OperatorError(f"shell: timeout must be a number of seconds > 0, got {timeout!r}")
    return None if timeout is None else float(timeout)


def _pump(group: GuardedGroup, deadline: float | None) -> tuple[_Stream, _Stream, bool]:
    """Stream the command's output until it exits; True in the last place when it timed out.

    The program's exit ends the wait even when a background process it started still holds
    its pipes (``sleep 600 &``): what the pipes hold then is read, and the group is ended.
    """
    out, err = _Stream(group.stdout, sys.stdout), _Stream(group.stderr, sys.stderr)
    exited = _exit_watch(group)
    timed_out = False
    with selectors.DefaultSelector() as selector:
        selector.register(group.stdout, selectors.EVENT_READ, out)
        selector.register(group.stderr, selectors.EVENT_READ, err)
        if exited is not None:
            selector.register(exited, selectors.EVENT_READ, None)
        try:
            while not _has_exited(group, exited):
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    group.kill()
                    timed_out = True
                    break
                if exited is None:  # no pidfd: look at the exit now and then
                    wait = _POLL if wait is None else min(wait, _POLL)
                for key, _ in selector.select(wait):
                    if key.data is not None and not key.data.read():
                        selector.unregister(key.fileobj)
            _drain(selector)
        finally:
            if exited is not None:
                os.close(exited)
    return out, err, timed_out


_POLL = 0.2


def _exit_watch(group: GuardedGroup) -> int | None:
    """A descriptor that becomes readable when the program exits (None where not supported)."""
    try:
        return os.pidfd_open(group.pid)
    except (AttributeError, OSError):
        return None


def _has_exited(group: GuardedGroup, exited: int | None) -> bool:
    if exited is None:
        return group.proc.poll() is not None
    ready, _, _ = select.select([exited], [], [], 0)
    return bool(ready)


def _drain(selector: selectors.BaseSelector) -> None:
    """Pass on what the pipes still hold once the program has ended, without waiting for
    the background processes it may have left holding them (the group is ended next)."""
    for key in list(selector.get_map().values()):
        stream = key.data
        if stream is None:
            continue
        os.set_blocking(stream.pipe.fileno(), False)
        with suppress(BlockingIOError):
            while stream.read():
                pass
        stream.finish()


@task(name="shell")
def shell(
    command: str | Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | timedelta | None = None,
    ok_codes: int | Sequence[int] = (0,),
) -> ShellResult:
    """Run ``command`` and return its exit code and the end of its stdout.

    A string runs in ``bash -c`` (pipes, ``&&``, globs work); a list runs as it is. Every line
    the command writes to stdout or stderr goes to the task's log as it comes. ``env`` adds
    variables to the task's environment; ``cwd`` is the folder it runs in. After ``timeout``
    seconds the command's whole process group is killed and ``CommandTimeout`` raised. An exit
    code outside ``ok_codes`` raises ``CommandFailed`` with the code and the end of stderr.
    """
    argv = _argv(command)
    limit = _seconds(timeout)
    codes = (ok_codes,) if isinstance(ok_codes, int) else tuple(ok_codes)
    group = start(argv, env=_environment(env), cwd=None if cwd is None else os.fspath(cwd))
    begun = time.monotonic()
    try:
        deadline = None if limit is None else begun + limit
        out, err, timed_out = _pump(group, deadline)
        code = group.proc.wait()
    finally:
        group.close()
        for pipe in (group.stdout, group.stderr):
            pipe.close()
    seconds = time.monotonic() - begun
    what = _describe(command)
    if timed_out:
        raise CommandTimeout(
            f"shell: {what} timed out after {limit:g} s; its process group was killed"
            + _tail_note(err),
            code=code,
            stderr=err.tail.text(),
        )
    if code not in codes:
        raise CommandFailed(
            f"shell: {what} exited with code {code}" + _signal_note(code) + _tail_note(err),
            code=code,
            stderr=err.tail.text(),
        )
    return ShellResult(code=code, stdout=out.tail.text(), seconds=round(seconds, 3))


def _describe(command: str | Sequence[str]) -> str:
    text = command if isinstance(command, str) else " ".join(map(str, command))
    text = " ".join(text.split())
    return repr(text if len(text) <= 120 else text[:117] + "...")


def _signal_note(code: int) -> str:
    if code >= 0:
        return ""
    import signal

    try:
        return f" (killed by {signal.Signals(-code).name})"
    except ValueError:
        return ""


def _tail_note(err: _Stream) -> str:
    tail = err.tail.text().rstrip()
    return f"; the end of its stderr:\n{tail}" if tail else "; it wrote nothing to stderr"
