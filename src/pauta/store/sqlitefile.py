"""SQLite's file: where it may live, the settings every connection takes, its checkpoints.

WAL needs shared memory between processes, which network file systems do not give, so a
database on NFS and friends is refused with advice instead of being slowly corrupted. Nothing
here imports SQLAlchemy: the light store of ``pauta run`` opens SQLite with the same rules.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pauta.core.errors import StoreError

SYNCHRONOUS_MODES = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})

BUSY_TIMEOUT_S = 30

log = logging.getLogger("pauta.store")

# File systems on which SQLite's WAL (shared-memory index + POSIX locks) is unreliable.
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "9p",
        "afs",
        "lustre",
        "gpfs",
        "glusterfs",
        "ceph",
        "beegfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.ceph",
        "fuse.s3fs",
        "fuse.gcsfuse",
        "fuse.rclone",
    }
)


def _unescape_mount(field: str) -> str:
    # /proc/mounts writes spaces, tabs, newlines and backslashes as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def network_filesystem(path: Path, mounts: str | None = None) -> tuple[str, str] | None:
    """``(fstype, mount point)`` when ``path`` lies on a network file system, else None.

    ``mounts`` is the text of ``/proc/mounts`` (read when not given; None where there is no
    such file, as on macOS).
    """
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return None
    target = path.resolve()
    best: tuple[str, str] | None = None
    best_len = -1
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point, fstype = _unescape_mount(fields[1]), fields[2]
        mp = Path(mount_point)
        if (target == mp or mp in target.parents) and len(mount_point) > best_len:
            best, best_len = (fstype, mount_point), len(mount_point)
    if best is not None and best[0].lower() in NETWORK_FILESYSTEMS:
        return best
    return None


def check_local_disk(path: Path, mounts: str | None = None) -> None:
    """Raise StoreError when the SQLite file ``path`` would live on a network file system."""
    found = network_filesystem(path.parent, mounts)
    if found is not None:
        fstype, mount_point = found
        raise StoreError(
            f"the SQLite database {path} is on a network file system ({fstype} mounted at "
            f"{mount_point}). SQLite's WAL mode does not work there: writers from several "
            "processes would lock up or corrupt the database. Put the pauta home on a local "
            "disk (PAUTA_HOME=/local/folder) or use PostgreSQL "
            "(PAUTA_DATABASE_URL=postgresql+psycopg://user@host/dbname)."
        )


def enable_wal(cursor: Any) -> str:
    """Switch a connection's database to WAL; the journal mode it ends in."""
    # Switching a new database to WAL needs an exclusive lock, and SQLite answers "database is
    # locked" at once instead of waiting when another process holds one (both processes
    # opening a fresh file): retry with backoff, ~BUSY_TIMEOUT_S in all.
    delay, waited = 0.005, 0.0
    while True:
        try:
            return str(cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or waited >= BUSY_TIMEOUT_S:
                raise
        time.sleep(delay)
        waited += delay
        delay = min(delay * 2, 0.1)


WAL_LIMIT_BYTES = 64 * 2**20
"""SQLite: past this size a :class:`DirectWriter`'s checkpoint empties the WAL file."""
WAL_TRUNCATE_WAIT_S = 0.2
"""How long that checkpoint waits for readers and the writer before it gives up for now."""
CHECKPOINT_AFTER_COMMITS = 128
"""SQLite: a :class:`DirectWriter` has the WAL folded into the database in the background
after this many commits (about 700 pages for a chain's commits of one task each); 0: never."""


class Checkpointer:
    """A thread that runs ``checkpoint`` whenever it is asked to, one request at a time.

    Without it the WAL of a fast run grows by every commit's pages (24 KiB per task) until
    the heartbeat's next checkpoint, and the checkpoint that closing the database does at the
    end of the run has to fold all of it, with the run's process waiting.
    """

    def __init__(self, checkpoint: Callable[[], None]) -> None:
        self._checkpoint = checkpoint
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="pauta-checkpoint", daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def stop(self) -> None:
        self._stopping = True
        self._wanted.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            try:
                self._checkpoint()
            except Exception:
                log.warning("checkpointing the database failed; will retry", exc_info=True)


def wal_checkpoint(execute: Callable[[str], Any]) -> None:
    """Copy the WAL into the database without blocking writers (PASSIVE); ``execute`` runs a
    PRAGMA on a connection of the database and returns its first row. Call it from a thread
    that is not the engine's.

    A passive checkpoint cannot empty a WAL that is written to all the time (a long chain
    of short tasks commits every few hundred microseconds), and SQLite starts writing the
    WAL from its beginning again only once it is empty: the file would grow by every
    commit's pages, 24 KiB per task, for as long as the run lasts. Past ``WAL_LIMIT_BYTES``
    a TRUNCATE checkpoint empties it, holding writers back for the few milliseconds that
    takes, and waiting at most ``WAL_TRUNCATE_WAIT_S`` for readers (else it tries again
    next time).
    """
    _, frames, _ = execute("PRAGMA wal_checkpoint(PASSIVE)")
    if frames * int(execute("PRAGMA page_size")[0] or 4096) <= WAL_LIMIT_BYTES:
        return
    execute(f"PRAGMA busy_timeout = {int(WAL_TRUNCATE_WAIT_S * 1000)}")
    try:
        execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
