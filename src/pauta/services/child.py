"""The supervisor as a child process of `pauta server` (``pauta services run``).

In a process of its own the proxies have a core and an interpreter lock to themselves: a busy
engine in the server does not slow the services' answers, and the services keep their
latency whatever the server's web pages or flow bodies do. The child ends with the server (the
kernel tells it when the server dies) and is started again, after a backoff, when it exits on
its own.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence

log = logging.getLogger("pauta.services")

DATABASE_LOST = 3
"""The code `pauta services run` exits with when its database file was deleted or replaced
(``pauta.cli.database_watch``): the server notices it too and stops; no new supervisor."""
STOP_TIMEOUT_S = 45.0
"""How long a graceful stop may take (drains and replica stops) before the child is killed."""


class SupervisorProcess:
    """Keeps one ``pauta services run`` running until ``stop``."""

    def __init__(self, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
        self.argv = [sys.executable, "-m", "pauta", "services", "run", *args]
        self.env = dict(env or {})
        self._popen: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._keep, name="pauta-services", daemon=True)

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def start(self) -> SupervisorProcess:
        self._spawn()
        self._thread.start()
        return self

    def _spawn(self) -> None:
        env = {**os.environ, **self.env, "PAUTA_SUPERVISOR_PID": str(os.getpid())}
        with self._lock:
            if self._stopping.is_set():
                return
            # a session of its own: a Ctrl-C in the terminal reaches the server, which then
            # stops the child once, gracefully (a second signal would stop it at once)
            self._popen = subprocess.Popen(self.argv, env=env, start_new_session=True)

    def _keep(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            popen = self._popen
            if popen is None:
                return
            code = popen.wait()
            if self._stopping.is_set() or code == DATABASE_LOST:
                return
            log.error("services: the supervisor exited with code %s; starting it again", code)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, 30.0)
            self._spawn()

    def begin_stop(self) -> None:
        """Ask the child to stop gracefully (returns at once)."""
        self._stopping.set()
        with self._lock:
            popen = self._popen
        if popen is not None and popen.poll() is None:
            popen.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the child gracefully; kill it after ``timeout`` seconds."""
        self.begin_stop()
        popen = self._popen
        if popen is None:
            return
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
