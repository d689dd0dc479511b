"""Group commits leave SQLite's WAL to checkpoints off the engine's thread: the heartbeat's,
and a background one every ``CHECKPOINT_AFTER_COMMITS`` commits. Nothing is lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from test_store_repository import T0, make_task, running_run

from pauta.core.states import State
from pauta.store import sqlitefile
from pauta.store.records import TaskWrite, WriteBatch
from pauta.store.repository import Store


def write_tasks(store: Store, run_id: str, epoch: int, count: int, start: int) -> None:
    for i in range(start, start + count):
        task = make_task(run_id, f"t#{i}", State.SUCCEEDED, ended_at=T0)
        store.write(WriteBatch(fences={run_id: epoch}, tasks=[TaskWrite(task, None)]), T0)


def test_commits_do_not_checkpoint_and_checkpoint_folds_the_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlitefile, "CHECKPOINT_AFTER_COMMITS", 0)  # only explicit checkpoints
    db = tmp_path / "pauta.db"
    wal = db.with_name("pauta.db-wal")
    store = Store(f"sqlite:///{db}")
    try:
        epoch = running_run(store)
        # enough commits to pass SQLite's automatic checkpoint (1,000 pages)
        write_tasks(store, "0000run000000001", epoch, 600, start=0)
        grown = wal.stat().st_size
        assert grown > 1000 * 4096  # the commits did not checkpoint
        store.checkpoint()
        # Once the WAL is in the database, the next commits write it from its start again:
        # without the checkpoint it would grow to about twice its size.
        write_tasks(store, "0000run000000001", epoch, 600, start=600)
        assert wal.stat().st_size < grown * 1.5
        assert len(store.list_task_runs("0000run000000001")) == 1200
    finally:
        store.close()
    # The kept connection went back to the pool with automatic checkpoints on again.
    reopened = Store(f"sqlite:///{db}")
    try:
        with reopened.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        assert len(reopened.list_task_runs("0000run000000001")) == 1200
    finally:
        reopened.close()


def test_every_so_many_commits_the_wal_is_folded_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlitefile, "CHECKPOINT_AFTER_COMMITS", 50)
    db = tmp_path / "pauta.db"
    store = Store(f"sqlite:///{db}")
    try:
        epoch = running_run(store)
        before = db.stat().st_size
        write_tasks(store, "0000run000000001", epoch, 120, start=0)
        # Nobody called checkpoint(): the pages reach the database file by themselves.
        deadline = time.monotonic() + 30
        while db.stat().st_size == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert db.stat().st_size > before
        assert len(store.list_task_runs("0000run000000001")) == 120
    finally:
        store.close()
    # Closing stopped the checkpoint thread with the store.
    assert not [t for t in threading.enumerate() if t.name == "pauta-checkpoint"]


def test_a_wal_past_its_limit_is_emptied_by_the_next_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlitefile, "CHECKPOINT_AFTER_COMMITS", 0)
    monkeypatch.setattr(sqlitefile, "WAL_LIMIT_BYTES", 256 * 1024)
    db = tmp_path / "pauta.db"
    wal = db.with_name("pauta.db-wal")
    store = Store(f"sqlite:///{db}")
    try:
        epoch = running_run(store)
        write_tasks(store, "0000run000000001", epoch, 200, start=0)
        assert wal.stat().st_size > 256 * 1024
        store.checkpoint()
        # A passive checkpoint alone leaves the file as large as it grew.
        assert wal.stat().st_size == 0
        write_tasks(store, "0000run000000001", epoch, 10, start=200)
        assert len(store.list_task_runs("0000run000000001")) == 210
    finally:
        store.close()
