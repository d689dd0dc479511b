"""The heartbeat of the long-running commands: is the database still the one they opened?

When the SQLite file of a running `pauta server`, `scheduler` or `worker` is deleted
(``rm -rf .pauta``) or replaced, the process would go on writing runs nobody can see, and a
restart would start afresh (a new admin password, the tick run again). Instead it stops
scheduling and claiming at once, answers 503 with the reason on ``/health`` for a moment, logs
the reason and exits with ``EXIT_DATABASE_LOST``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn

import click

log = logging.getLogger("pauta.store")

EXIT_DATABASE_LOST = 3
HEARTBEAT_S = 1.0
LINGER_S = 2.0
"""How long /health keeps answering with the reason before the process exits."""


class DatabaseWatch:
    """Checks ``store.lost()`` every ``interval`` seconds in a thread of its own; the first
    time it answers, calls ``on_lost`` (stop scheduling, stop claiming), then exits."""

    def __init__(
        self,
        store: Any,
        command: str,
        on_lost: Callable[[], None],
        *,
        interval: float = HEARTBEAT_S,
        linger: float = LINGER_S,
    ) -> None:
        self.store = store
        self.command = command
        self.on_lost = on_lost
        self.interval = interval
        self.linger = linger
        self.reason: str | None = None
        self._stop = threading.Event()

    def start(self) -> DatabaseWatch:
        threading.Thread(target=self._loop, name="pauta-db-watch", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def hold(self) -> None:
        """Once the database is lost, block (the watch thread ends the process): the command's
        own shutdown would exit 0 and stop serving /health first."""
        if self.reason is not None:
            threading.Event().wait()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                reason = self.store.lost()
            except Exception:
                log.exception("checking the database file failed")
                continue
            if reason is not None:
                self._lose(reason)

    def _lose(self, reason: str) -> NoReturn:
        self.reason = reason
        log.error("%s: stopping", reason)
        try:
            self.on_lost()
        except Exception:
            log.exception("stopping after the database was lost failed")
        click.echo(
            f"{self.command}: {reason} while it ran: it stopped scheduling and claiming runs "
            f"and exits ({EXIT_DATABASE_LOST}); the runs in progress are abandoned (they wrote to "
            "the file it had opened). Put the file back and start it again, or start it afresh "
            "on a new, empty database.",
            err=True,
        )
        self._stop.wait(self.linger)
        sys.stdout.flush()
        sys.stderr.flush()
        # at once: the threads driving runs write to the lost file, and waiting for them to end
        # could take hours (worker processes notice that their parent is gone)
        os._exit(EXIT_DATABASE_LOST)
