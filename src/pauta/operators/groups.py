"""Programs started in a process group of their own that never outlives the task.

``kill`` on timeout has to reach grandchildren too (``bash -c "make"`` runs compilers that run
more programs), so the program gets a process group of its own and the whole group is killed.
But the executors end a task by killing *its* process group (a cancel, the task's own
``timeout``, a driver that died): SIGKILL cannot be caught, so the task could not pass it on,
and a group of its own would survive it.

So each group has a guard: a tiny ``/bin/sh`` that leads the group and waits on a pipe whose
write end only the task's process holds. When that end closes, because the program ended
normally or because the task's process died for any reason, the guard kills its group, itself
included. The guard is started first, so there is no moment when the program runs unguarded.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import IO

from pauta.operators.errors import OperatorError

# ``read`` returns at end of file, once every write end of its stdin is closed; ``kill 0``
# signals the caller's whole process group.
_GUARD = ("/bin/sh", "-c", "read _; kill -9 0")


class GuardedGroup:
    """A program running in a process group that dies with the task (see the module doc).

    ``stdout``/``stderr`` are its pipes. ``kill()`` ends the whole group now; ``close()``
    ends what is left of it (background processes the program left behind) and reaps the
    guard.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        read_end, self._lifeline = os.pipe()  # both ends close on exec: nobody else holds them
        try:
            self._guard = subprocess.Popen(_GUARD, stdin=read_end, process_group=0)
        finally:
            os.close(read_end)
        self.pgid = self._guard.pid
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                process_group=self.pgid,
            )
        except BaseException:
            self.close()
            raise
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.stdout: IO[bytes] = self.proc.stdout
        self.stderr: IO[bytes] = self.proc.stderr

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL every process of the group (the program, its children, the guard)."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)

    def close(self) -> None:
        """End the group (closing the guard's pipe does it) and reap the guard."""
        if self._lifeline >= 0:
            os.close(self._lifeline)
            self._lifeline = -1
        self._guard.wait()


def start(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> GuardedGroup:
    """Start ``argv`` in a guarded process group; a missing program is an ``OperatorError``."""
    try:
        return GuardedGroup(argv, env=env, cwd=cwd)
    except FileNotFoundError as exc:
        missing = exc.filename or argv[0]
        raise OperatorError(f"cannot run {argv[0]!r}: {missing} was not found") from None
    except NotADirectoryError as exc:
        raise OperatorError(f"cannot run {argv[0]!r}: cwd {cwd!r} is not a folder") from exc
    except PermissionError as exc:
        raise OperatorError(f"cannot run {argv[0]!r}: {exc.strerror}") from None
