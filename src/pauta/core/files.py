"""Folders and files pauta creates under its home are for their owner only.

The database, results and logs hold whatever tasks produce, and a running attempt's scratch
log holds its output before secrets are masked in it: under the usual umask of 022 they would
be readable by every user of the machine. So pauta creates folders 0700 and files 0600 (a
stricter umask still takes permissions away). Folders and files that already exist are left
as they are: a home the user made and shares on purpose stays shared.
"""

from __future__ import annotations

import os

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private_dirs(path: str | os.PathLike[str]) -> None:
    """Create the folder ``path``, and its missing parents, readable by the owner only."""
    try:
        os.mkdir(path, PRIVATE_DIR)
    except FileExistsError:
        return
    except FileNotFoundError:
        parent = os.path.dirname(os.path.abspath(path))
        if parent == os.path.abspath(path):
            raise
        make_private_dirs(parent)
        try:
            os.mkdir(path, PRIVATE_DIR)
        except FileExistsError:
            return


def private_opener(path: str | os.PathLike[str], flags: int) -> int:
    """An ``opener`` for ``open()``: a file it creates is readable by the owner only."""
    return os.open(path, flags, PRIVATE_FILE)


def create_private_file(path: str | os.PathLike[str]) -> None:
    """Create ``path`` empty and owner-only unless it exists (before another library opens it
    with its own default mode, as SQLite does for a database and its -wal and -shm files)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    except FileExistsError:
        return
    os.close(fd)
