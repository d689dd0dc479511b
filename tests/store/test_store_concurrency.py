"""Several processes on one SQLite file: no "database is locked", no lost write."""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pauta.core.states import FlowRunState, State
from pauta.store.records import AttemptRecord, FlowRunRecord, TaskRunRecord, TaskWrite, WriteBatch
from pauta.store.reports import MetricRecord
from pauta.store.repository import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCHES = 40
PER_BATCH = 50


def _drive(url: str, run_id: str, start: object, spans: object) -> None:
    """Open the store (both processes at once: one migrates it), then write batches as a
    driver does: new calls queued, the previous batch's calls finished, a metric each, all
    fenced. Puts (run id, first write began, last write ended) or (run id, traceback)."""
    try:
        start.wait(timeout=60)  # type: ignore[attr-defined]
        store = Store(url)
        store.create_flow_run(
            FlowRunRecord(
                id=run_id,
                flow="f",
                state=FlowRunState.RUNNING,
                params={},
                logical_date=T0,
                interval_start=T0,
                interval_end=T0,
                trigger="manual",
                created_at=T0,
            )
        )
        epoch = store.take_lease(run_id, host="h", pid=os.getpid(), now=T0, expected_epoch=0)
        start.wait(timeout=60)  # type: ignore[attr-defined]
        began = time.monotonic()
        previous: list[TaskRunRecord] = []
        for b in range(BATCHES):
            now = T0 + timedelta(seconds=b)
            batch = WriteBatch(fences={run_id: epoch})
            for rec in previous:
                done = TaskRunRecord(rec.flow_run_id, rec.key, rec.name, State.SUCCEEDED)
                attempt = AttemptRecord(run_id, rec.key, 1, State.SUCCEEDED, ended_at=now)
                batch.tasks.append(TaskWrite(done, State.QUEUED, attempt, State.QUEUED))
                batch.metrics.append(MetricRecord(run_id, rec.key, 1, "m", float(b), b, now))
            previous = [
                TaskRunRecord(run_id, f"t#{b * PER_BATCH + i}", "t", State.QUEUED, created_at=now)
                for i in range(PER_BATCH)
            ]
            for rec in previous:
                attempt = AttemptRecord(run_id, rec.key, 1, State.QUEUED, queued_at=now)
                batch.tasks.append(TaskWrite(rec, None, attempt, None))
            store.write(batch, now)
            # a reader between writes, like the UI polling the run
            assert len(store.list_task_runs(run_id)) == (b + 1) * PER_BATCH
        spans.put((run_id, began, time.monotonic()))  # type: ignore[attr-defined]
        store.close()
    except BaseException:
        spans.put((run_id, traceback.format_exc()))  # type: ignore[attr-defined]
        raise


@pytest.mark.slow
def test_two_processes_write_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    ctx = multiprocessing.get_context("spawn")
    runs = ["0000proc00000001", "0000proc00000002"]
    start, spans = ctx.Barrier(len(runs)), ctx.Queue()
    procs = [ctx.Process(target=_drive, args=(url, run, start, spans)) for run in runs]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=100)
    reports = [spans.get(timeout=5) for _ in procs]
    # no traceback: no "database is locked", no lost lease, no stale write
    assert [r for r in reports if len(r) == 2] == []
    assert [proc.exitcode for proc in procs] == [0, 0]
    (_, began_a, ended_a), (_, began_b, ended_b) = reports
    assert began_a < ended_b, "the two writers did not overlap"
    assert began_b < ended_a, "the two writers did not overlap"
    with Store(url) as store:
        for run in runs:
            tasks = store.list_task_runs(run)
            assert len(tasks) == BATCHES * PER_BATCH
            done = [t for t in tasks if t.state == State.SUCCEEDED]
            assert len(done) == (BATCHES - 1) * PER_BATCH
            assert len(store.list_metrics(run)) == (BATCHES - 1) * PER_BATCH
