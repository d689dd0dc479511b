"""Whether a SQLite store's file is still the one it opened.

A process that has the database open keeps reading and writing the file it opened even after
``rm -rf .pauta`` unlinked it, or after another file was moved onto its path: every write it
makes from then on is lost, and the commands of other shells see another database. The file's
identity (device and inode) tells: a long-running command checks it in its heartbeat.
"""

from __future__ import annotations

import os
from pathlib import Path


class DatabaseFile:
    """The identity of the file at ``path``, taken the first time it exists."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity: tuple[int, int] | None = None
        self.problem()

    def problem(self) -> str | None:
        """Why the file at ``path`` is not the one first seen there (deleted, replaced); None
        while it is, or while no file was ever seen there."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            if self._identity is None:
                return None
            return f"the database file {self.path} was deleted"
        except OSError as exc:
            return f"the database file {self.path} cannot be read: {exc.strerror}"
        identity = (found.st_dev, found.st_ino)
        if self._identity is None:
            self._identity = identity
        elif identity != self._identity:
            return f"the database file {self.path} was replaced by another file"
        return None
