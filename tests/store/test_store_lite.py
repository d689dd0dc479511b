"""The light store of ``pauta run``: the same schema, the same text in every column, the same
refusals as the full store, without importing SQLAlchemy; a schema it does not know is left
to the full store. (Every other store test runs on it too: the ``store`` fixture's ``lite``.)"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_store_repository import T0, make_run, make_task

from pauta.core.clock import FrozenClock
from pauta.core.errors import LeaseLostError, RunNotFoundError, StaleWriteError
from pauta.core.states import FlowRunState, State
from pauta.store import db, schema_render, sqlite_schema
from pauta.store.lite import LiteStore, sqlite_file
from pauta.store.records import AttemptRecord, FlowRow, TaskWrite, WriteBatch
from pauta.store.reports import ArtifactRecord, MetricRecord
from pauta.store.repository import DuplicateRunError, Store
from pauta.store.results import StoredResult

RUN = "0000run000000001"


def test_the_schema_module_is_rendered_from_the_tables_as_they_are() -> None:
    rendered: dict[str, Any] = {}
    exec(schema_render.render(), rendered)
    for name in ("HEAD", "DDL", "COLUMNS", "KINDS", "DEFAULTS"):
        assert getattr(sqlite_schema, name) == rendered[name], (
            f"src/pauta/store/sqlite_schema.py is stale ({name}): "
            "run `python -m pauta.store.schema_render`"
        )
    assert sqlite_schema.HEAD == db.HEAD


def _schema(path: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        return {(kind, name, " ".join(sql.split())) for kind, name, sql in rows}


def test_a_database_it_creates_is_the_one_the_full_store_creates(tmp_path: Path) -> None:
    light = LiteStore.open(f"sqlite:///{tmp_path / 'light.db'}")
    assert light is not None
    light.close()
    Store(f"sqlite:///{tmp_path / 'full.db'}").close()
    assert _schema(tmp_path / "light.db") == _schema(tmp_path / "full.db")
    full = Store(f"sqlite:///{tmp_path / 'light.db'}", migrate=False)
    try:
        assert db.ensure_schema(full.engine) is False  # at HEAD: nothing to migrate
    finally:
        full.close()


def _scenario(store: Any) -> None:
    """Every write of a run's life, through the calls the engine makes."""
    row = FlowRow("weekly_training", "", {"type": "object"}, "0 3 * * 1", "UTC", "/f.py", None)
    store.upsert_flow(row)
    store.upsert_flow(replace(row, description="again", max_active_runs=2))
    store.create_flow_run(
        make_run(RUN, schedule_key="weekly_training@2026-03-02", tags=["ml"], priority=3)
    )
    epoch = store.take_lease(RUN, host="here", pid=7, now=T0, expected_epoch=0)
    assert store.transition_flow_run(
        RUN, FlowRunState.RUNNING, expected=FlowRunState.QUEUED, epoch=epoch, now=T0
    )
    later = T0 + timedelta(seconds=2)
    result = StoredResult(
        uri=None, inline=b"\x80\x05K*.", size=5, serializer="pickle", preview="42"
    )
    new = make_task(RUN, "train-0", State.RUNNING, resources={"cpus": 1.5}, label="train[lr]")
    attempt = AttemptRecord(RUN, "train-0", 1, State.RUNNING, queued_at=T0, started_at=T0)
    store.write(
        WriteBatch(
            fences={RUN: epoch},
            tasks=[
                TaskWrite(new, None, attempt, None),
                TaskWrite(make_task(RUN, "cleanup-0", State.PENDING, teardown=True), None),
            ],
        ),
        T0,
    )
    done = make_task(
        RUN, "train-0", State.SUCCEEDED, attempts=1, started_at=T0, ended_at=later, result=result
    )
    ended = AttemptRecord(
        RUN, "train-0", 1, State.SUCCEEDED, T0, T0, later, error=None, worker="w:1"
    )
    failed = make_task(RUN, "cleanup-0", State.FAILED, error={"type": "E", "message": "ñ"})
    store.write(
        WriteBatch(
            fences={RUN: epoch},
            tasks=[
                TaskWrite(done, State.RUNNING, ended, State.RUNNING, assets=("s3://b/model",)),
                TaskWrite(failed, State.PENDING),
            ],
            metrics=[MetricRecord(RUN, "train-0", 1, "accuracy", 0.93, 2, later)],
            artifacts=[ArtifactRecord(RUN, "train-0", 1, "model", result, later)],
        ),
        later,
    )
    assert store.heartbeat(RUN, epoch, later)
    assert store.transition_flow_run(
        RUN, FlowRunState.SUCCEEDED, expected=FlowRunState.RUNNING, epoch=epoch, now=later,
        result=result,
    )  # fmt: skip


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            for table in sqlite_schema.COLUMNS
        }


def test_it_writes_the_same_text_in_every_column_as_the_full_store(tmp_path: Path) -> None:
    clock = FrozenClock(T0)
    light = LiteStore.open(f"sqlite:///{tmp_path / 'light.db'}", clock=clock)
    assert light is not None
    full = Store(f"sqlite:///{tmp_path / 'full.db'}", clock=clock)
    try:
        _scenario(light)
        _scenario(full)
        # and reads alike: each store reads what the other wrote
        assert light.task_runs_by_key(RUN) == full.task_runs_by_key(RUN)
        assert light.get_flow_run(RUN) == full.get_flow_run(RUN)
        assert light.list_attempts(RUN) == full.list_attempts(RUN)
        assert light.find_cached("train", "nope") is None
    finally:
        light.close()
        full.close()
    dumped = _dump(tmp_path / "light.db")
    assert all(dumped[t] for t in ("flows", "task_runs", "task_attempts", "metrics", "events"))
    assert dumped == _dump(tmp_path / "full.db")


@pytest.fixture
def light(tmp_path: Path) -> Any:
    opened = LiteStore.open(f"sqlite:///{tmp_path / 'pauta.db'}")
    assert opened is not None
    yield opened
    opened.close()


def test_refused_writes_name_what_conflicted_as_the_full_store_does(light: LiteStore) -> None:
    light.create_flow_run(make_run(RUN, schedule_key="k"))
    epoch = light.take_lease(RUN, host="here", pid=7, now=T0, expected_epoch=0)
    with pytest.raises(DuplicateRunError, match=f"run {RUN}"):
        light.create_flow_run(make_run("0000run000000002", schedule_key="k"))
    with pytest.raises(StaleWriteError, match="expected QUEUED, the store holds no row"):
        light.write(WriteBatch(tasks=[TaskWrite(make_task(RUN, "a"), State.QUEUED)]), T0)
    with pytest.raises(LeaseLostError, match="another driver"):
        light.write(WriteBatch(fences={RUN: epoch + 5}, tasks=[]), T0)
    with pytest.raises(LeaseLostError, match="expected epoch 0"):
        light.take_lease(RUN, host="there", pid=8, now=T0, expected_epoch=0)
    assert not light.transition_flow_run(
        RUN, FlowRunState.RUNNING, expected=FlowRunState.QUEUED, epoch=epoch + 1, now=T0
    )
    with pytest.raises(RunNotFoundError):
        light.transition_flow_run(
            "0000nosuchrun000", FlowRunState.RUNNING, expected=FlowRunState.QUEUED, now=T0
        )
    assert light.task_runs_by_key(RUN) == {}  # nothing of the refused batches was written


def test_what_it_does_not_do_itself_the_full_store_does_on_the_same_file(
    light: LiteStore,
) -> None:
    light.create_flow_run(make_run(RUN))
    assert light.get_flow_run(RUN[:6]).id == RUN  # an id prefix: looked up by the full store
    assert [r.id for r in light.list_flow_runs()] == [RUN]


def test_a_schema_it_does_not_know_is_left_to_the_full_store(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0011'")
    assert LiteStore.open(f"sqlite:///{path}") is None
    assert sqlite_file("sqlite://") is None  # in memory
    assert sqlite_file(f"sqlite:///{path}?mode=ro") is None
    assert sqlite_file(f"sqlite:///{path}") == path


def test_pauta_run_on_sqlite_never_imports_sqlalchemy(tmp_path: Path) -> None:
    flows = tmp_path / "flows.py"
    flows.write_text(
        textwrap.dedent(
            """
            from pauta import flow, task

            @task
            def double(x: int) -> int:
                return 2 * x

            @flow
            def twice(n: int = 3) -> int:
                return sum(f.result() for f in double.map(list(range(n))))
            """
        )
    )
    script = textwrap.dedent(
        f"""
        import sys
        from pauta.cli.main import main
        sys.argv = ["pauta", "run", {str(flows)!r}, "--quiet"]
        try:
            main()
        except SystemExit as exc:
            loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic"))
            print("exit", exc.code, "loaded", loaded)
        """
    )
    env = {"PAUTA_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "exit 0 loaded []", done.stdout + done.stderr
