"""Opening databases: SQLite settings, write transactions, network file systems, URLs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pauta.core.errors import StoreError
from pauta.store import db, sqlitefile
from pauta.store.repository import Store
from pauta.store.tables import pools

MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
proc /proc proc rw 0 0
server:/export/home /home nfs4 rw,vers=4.2 0 0
//nas/share /mnt/my\\040share cifs rw 0 0
/dev/vdb /home/local ext4 rw 0 0
"""


def _pragma(engine: sa.Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'a.db'}") as store:
        assert _pragma(store.engine, "journal_mode") == "wal"
        assert _pragma(store.engine, "synchronous") == 1  # NORMAL
        assert _pragma(store.engine, "busy_timeout") == 30_000
        assert _pragma(store.engine, "foreign_keys") == 1
    with Store(f"sqlite:///{tmp_path / 'a.db'}", sqlite_synchronous="full") as store:
        assert _pragma(store.engine, "synchronous") == 2


def test_bad_synchronous_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="NORMAL"):
        db.create_engine(f"sqlite:///{tmp_path / 'a.db'}", sqlite_synchronous="sometimes")


def test_write_transactions_take_the_write_lock_at_begin(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with Store(f"sqlite:///{path}") as store:
        other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        try:
            with db.writer(store.engine).begin():
                # BEGIN IMMEDIATE already holds the write lock, before any statement ran ...
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
                # ... while readers go on reading (WAL).
                assert other.execute("SELECT count(*) FROM flow_runs").fetchone() == (0,)
                assert store.list_flow_runs() == []
            # plain transactions are deferred: they take no lock until they write
            with store.engine.begin() as conn:
                conn.exec_driver_sql("SELECT 1")
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
        finally:
            other.close()


def test_the_sqlite_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "pauta.db"
    with Store(f"sqlite:///{path}"):
        assert path.exists()


def test_in_memory_sqlite_works() -> None:
    with Store("sqlite://") as store:
        store.set_pool("p", 2)
        assert store.list_pools() == {"p": 2}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/home/ana/project/.pauta", ("nfs4", "/home")),
        ("/home", ("nfs4", "/home")),
        ("/home/local/ana/.pauta", None),  # a local disk mounted inside the NFS tree
        ("/homework/.pauta", None),  # a sibling whose name starts like the mount point
        ("/mnt/my share/x", ("cifs", "/mnt/my share")),
        ("/srv/data", None),
    ],
)
def test_network_filesystem_detection(path: str, expected: tuple[str, str] | None) -> None:
    assert sqlitefile.network_filesystem(Path(path), MOUNTS) == expected


def test_sqlite_on_nfs_is_refused_with_advice() -> None:
    with pytest.raises(StoreError) as info:
        sqlitefile.check_local_disk(Path("/home/ana/.pauta/pauta.db"), MOUNTS)
    message = str(info.value)
    assert "network file system (nfs4 mounted at /home)" in message
    assert "WAL" in message
    assert "PostgreSQL" in message
    assert "PAUTA_HOME" in message
    sqlitefile.check_local_disk(Path("/srv/pauta.db"), MOUNTS)


def test_this_machines_temp_folder_is_local(tmp_path: Path) -> None:
    assert sqlitefile.network_filesystem(tmp_path) is None


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/d", "postgresql+psycopg"),
        ("postgres://u@h/d", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_url_normalization(url: str, driver: str) -> None:
    assert db.normalize_url(url).drivername == driver


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(StoreError, match=r"SQLite .* or PostgreSQL"):
        Store("mysql://u@h/d")


def test_importing_the_store_does_not_import_alembic() -> None:
    code = (
        "import sys, pauta.store.db, pauta.store.repository, pauta.store.transitions;"
        "print('alembic' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_bulk_statement_counts_rows(store: Store) -> None:
    insert = db.BulkStatement(sa.insert(pools), ["name", "slots"])
    update = db.BulkStatement(
        sa.update(pools).where(pools.c.name == sa.bindparam("w_name")).values(slots=0)
    )
    with pytest.raises(TypeError, match="bindparam"), store.engine.begin() as conn:
        update.execute(conn, [{"w_name": "p1"}])
    update = db.BulkStatement(
        sa.update(pools)
        .where(pools.c.name == sa.bindparam("w_name"))
        .values(slots=sa.bindparam("slots"))
    )
    with store.engine.begin() as conn:
        assert insert.execute(conn, [{"name": f"p{i}", "slots": i} for i in range(5)]) == 5
        assert insert.execute(conn, []) == 0
        rows = [{"w_name": n, "slots": 0} for n in ("p1", "nope", "p3")]
        assert update.execute(conn, rows) == 2
    assert store.list_pools() == {"p0": 0, "p1": 0, "p2": 2, "p3": 0, "p4": 4}
